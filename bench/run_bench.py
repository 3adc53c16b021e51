#!/usr/bin/python3
"""run_bench.py -- races zcrawl against the original asyncio crawler, Scrapy and Colly on
the book emulator, and writes bench/results/{results.md,results.csv,chart.png}.

Every run gets a fresh bin/zcrawl-sitesim (same --seed and --books, its own free port,
the scenario's --latency-ms) and, for a MongoDB contender, a fresh FerretDB. A run
counts only if the contender stored every reachable book (GET /__ids); one that misses
books is reported as FAILED, with no figures. See bench/README.md for the method.

Environment: BENCH_BOOKS, BENCH_REPEAT, BENCH_SCENARIOS (e.g. "1,2" or "zero,lat200"),
BENCH_CONTENDERS (e.g. "zcrawl-jsonl,asyncio-jsonl"), BENCH_TIMEOUT, BENCH_SEED,
BENCH_SCRAPY_CONCURRENT_ITEMS, BENCH_MONGO_UPSERT_KEY, ZCRAWL_BIN. Flags beat them.
"""
import argparse
import csv
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
# One way to pick a port for a server to bind: the test harness's (below the
# kernel's ephemeral range; see its docstring).
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
from harness import free_port  # noqa: E402
PY = '/usr/bin/python3'          # Debian's python: aiohttp, motor, scrapy, pymongo live there
PAGE_SIZE = 18
TICK = os.sysconf('SC_CLK_TCK')
PAGESIZE = os.sysconf('SC_PAGE_SIZE')
SAMPLE_S = 0.1

# name -> (label, sink, family). family picks the command line.
CONTENDERS = {
    'zcrawl-jsonl': ('zcrawl (JSONL)', 'jsonl', 'zcrawl'),
    'zcrawl-mongo': ('zcrawl (MongoDB)', 'mongo', 'zcrawl'),
    # The same pipeline with --insecure: no CURVE on its ZeroMQ links, so that what
    # encryption and authentication cost shows beside zcrawl (JSONL) in scenario 1.
    'zcrawl-insecure': ('zcrawl (JSONL, no CURVE)', 'jsonl', 'zcrawl'),
    'asyncio-jsonl': ('asyncio+aiohttp (JSONL)', 'jsonl', 'asyncio'),
    'asyncio-mongo': ('asyncio+motor (MongoDB)', 'mongo', 'asyncio'),
    'scrapy-jsonl': ('Scrapy (JSONL)', 'jsonl', 'scrapy'),
    # bench/colly: a Colly v2 crawler in Go, built by scripts/bench.sh.
    'colly-jsonl': ('Colly (JSONL)', 'jsonl', 'colly'),
    # Not a crawler: bench/curl_floor.c fetches every page it is handed and drops it.
    'curl-floor': ('libcurl alone (floor)', 'none', 'floor'),
}
ALL = list(CONTENDERS)
JSONL_ONLY = ['zcrawl-jsonl', 'asyncio-jsonl', 'scrapy-jsonl', 'colly-jsonl']

# The MongoDB pair runs at zero latency only: there the database is what is measured;
# behind latency the sink adds nothing the JSONL runs do not show, and a FerretDB run
# of the asyncio baseline costs minutes (see README).
SCENARIOS = [
    dict(num=1, key='zero', title='zero latency, concurrency 100', latency_ms=0, concurrency=100,
         contenders=ALL, fetchers=[None]),
    dict(num=2, key='lat200', title='200 ms latency, concurrency 100', latency_ms=200, concurrency=100,
         contenders=JSONL_ONLY, fetchers=[None]),
    dict(num=3, key='lat1000', title='1 s latency, concurrency 500', latency_ms=1000, concurrency=500,
         contenders=JSONL_ONLY, fetchers=[None]),
    dict(num=4, key='fetchers', title='zcrawl with 1, 2 and 4 fetchers (200 ms latency, concurrency 100)',
         latency_ms=200, concurrency=100, contenders=['zcrawl-jsonl'], fetchers=[1, 2, 4]),
    dict(num=5, key='mem1000', title='one zcrawl fetcher with 1000 transfers (1 s latency, concurrency 1000)',
         latency_ms=1000, concurrency=1000, contenders=['zcrawl-jsonl'], fetchers=[1]),
    # Scenario 3 again, but every contender starts from all the list pages, as the
    # write-up did with its hard-coded PAGE_NUMBER (see best_rounds).
    dict(num=6, key='lat1000lists', title='1 s latency, concurrency 500, every list page known at the start',
         latency_ms=1000, concurrency=500, contenders=JSONL_ONLY, fetchers=[None], start='lists'),
    # Issue 13's memory case: one fetcher holding 5000 transfers behind 3 s of latency,
    # from every list page, so that 5000 detail pages are in flight at once.
    dict(num=7, key='mem5000', title='one zcrawl fetcher with 5000 transfers (3 s latency, concurrency 5000, every list page known)',
         latency_ms=3000, concurrency=5000, contenders=['zcrawl-jsonl'], fetchers=[1], start='lists'),
    # Issue 25's race against the fastest peer: scenario 1 with every list page
    # seeded, so no contender waits on the first page's `count`.
    dict(num=12, key='zerolists', title='zero latency, concurrency 100, every list page known at the start',
         latency_ms=0, concurrency=100, contenders=JSONL_ONLY, fetchers=[None], start='lists'),
]
DEFAULT_FETCHERS = 2

# Issue 13's frontier scenarios, run by bench/frontier_bench.py (their own table,
# results/frontier.md): no contenders, no books.
FRONTIER_SCENARIOS = [
    dict(num=8, key='hosts10k', title='dispatch over 10 000 hosts (100 000 URLs)'),
    dict(num=9, key='hosts100k', title='dispatch over 100 000 hosts (200 000 URLs)'),
    dict(num=10, key='hol', title='head-of-line: 3 fast hosts seeded 3.5 s after a slow one'),
]

# Issue 25's many-hosts scenario, run by bench/hosts_bench.py (its own table,
# results/hosts.md): CPU per request by process at 1, 20 000 and 100 000 hosts.
HOSTS_SCENARIOS = [
    dict(num=11, key='hosts', title='CPU per request by process at 1, 20 000 and 100 000 hosts, same concurrency'),
]

CSV_FIELDS = ['scenario', 'latency_ms', 'concurrency', 'start', 'contender', 'fetchers', 'repeat', 'status',
              'reason', 'wall_s', 'pages', 'pages_per_s', 'bound_s', 'ratio_to_bound', 'cpu_s',
              'cpu_s_rusage', 'cpu_s_sampled', 'cpu_s_per_1000_pages', 'peak_rss_mb', 'peak_pss_mb',
              'fetcher_peak_rss_mb',
              'db_cpu_s', 'server_requests', 'server_duplicates', 'reachable', 'stored', 'missed',
              'extra', 'rc', 'books', 'seed', 'loadavg_1m', 'started_at']


def log(msg):
    print('[bench %s] %s' % (time.strftime('%H:%M:%S'), msg), file=sys.stderr, flush=True)


def wait_port(port, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError('exited with %s before listening on %d' % (proc.returncode, port))
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError('nothing listens on 127.0.0.1:%d after %.0fs' % (port, timeout))


def http_json(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


# ---------------------------------------------------------------- /proc sampling

def read_stat(pid):
    """(ppid, session, utime+stime seconds) of pid, or None when it is gone."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            s = f.read().decode('ascii', 'replace')
    except OSError:
        return None
    rest = s[s.rindex(')') + 2:].split()   # fields from 3 (state) on
    return int(rest[1]), int(rest[3]), (int(rest[11]) + int(rest[12])) / TICK


def read_rss(pid):
    try:
        with open('/proc/%d/statm' % pid, 'rb') as f:
            return int(f.read().split()[1]) * PAGESIZE
    except (OSError, IndexError, ValueError):
        return 0


def read_pss(pid):
    try:
        with open('/proc/%d/smaps_rollup' % pid, 'rb') as f:
            for line in f:
                if line.startswith(b'Pss:'):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def proc_cpu(pid):
    st = read_stat(pid)
    return st[2] if st else 0.0


class TreeSampler(threading.Thread):
    """Every 100 ms: the processes of the contender (descendants of its root, or members
    of its session, which is the root's own), their RSS and PSS summed, and each one's
    own user+system CPU (last value seen before it vanished)."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.stop_ev = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.cpu = {}       # pid -> last seen own utime+stime
        self.peak_by_pid = {}  # pid -> largest RSS seen
        self.seen = set()
        self.names = {}

    def tree(self):
        stats = {}
        for d in os.listdir('/proc'):
            if d.isdigit():
                st = read_stat(int(d))
                if st:
                    stats[int(d)] = st
        members = {p for p, st in stats.items() if st[1] == self.root}
        members.add(self.root)
        grew = True
        while grew:
            grew = False
            for p, st in stats.items():
                if p not in members and st[0] in members:
                    members.add(p)
                    grew = True
        return {p: stats[p] for p in members if p in stats}

    def sample(self):
        t = self.tree()
        rss = pss = 0
        for p, st in t.items():
            self.cpu[p] = st[2]
            r = read_rss(p)
            self.peak_by_pid[p] = max(self.peak_by_pid.get(p, 0), r)
            rss += r
            pss += read_pss(p)
            # Read each time: a child sampled between fork and exec still has its
            # parent's name.
            self.seen.add(p)
            try:
                with open('/proc/%d/comm' % p) as f:
                    self.names[p] = f.read().strip()
            except OSError:
                pass
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        return t

    def run(self):
        while not self.stop_ev.is_set():
            self.sample()
            self.stop_ev.wait(SAMPLE_S)

    def stop(self):
        self.stop_ev.set()
        self.join()

    def sampled_cpu(self):
        return sum(self.cpu.values())

    def peak_of(self, comm):
        """The largest RSS seen of any one process named comm, or 0."""
        return max([r for p, r in self.peak_by_pid.items() if self.names.get(p) == comm] or [0])


# ---------------------------------------------------------------- servers

class Server:
    """A process of ours (emulator or FerretDB) in its own session, stopped by pid."""

    def __init__(self, name, argv, port, logdir, wait_s):
        self.name = name
        self.port = port
        self.logpath = os.path.join(logdir, name + '.log')
        with open(self.logpath, 'wb') as f:
            self.proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_port(port, wait_s, self.proc)
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_sitesim(cfg, latency_ms, logdir):
    port = free_port()
    argv = [os.path.join(cfg.bin, 'zcrawl-sitesim'), '--port', str(port), '--seed', str(cfg.seed),
            '--books', str(cfg.books), '--latency-ms', str(latency_ms), '--log-level', 'warn']
    return Server('sitesim', argv, port, logdir, 10)


def ferretdb_path():
    p = os.path.join(ROOT, '.tools', 'bin', 'ferretdb')
    return p if os.access(p, os.X_OK) else shutil.which('ferretdb')


def start_ferretdb(logdir):
    exe = ferretdb_path()
    if not exe:
        raise RuntimeError('no FerretDB (.tools/bin/ferretdb; `make deps` installs it when Go is there)')
    d = os.path.join(logdir, 'ferretdb-data')
    os.makedirs(d, exist_ok=True)
    port = free_port()
    argv = [exe, '--handler=sqlite', '--sqlite-url=file:%s/' % d, '--state-dir=%s' % d,
            '--listen-addr=127.0.0.1:%d' % port, '--debug-addr=-', '--telemetry=disable',
            '--log-level=warn']
    return Server('ferretdb', argv, port, logdir, 30)


# ---------------------------------------------------------------- contenders

def contender_argv(cfg, name, base, concurrency, fetchers, out, mongo_uri, rundir, timeout_s, lists=0):
    """The contender's command line; lists > 0: it starts from that many list pages
    (the write-up's PAGE_NUMBER) instead of from the first one alone."""
    _, sink, family = CONTENDERS[name]
    if family == 'zcrawl':
        n = fetchers or DEFAULT_FETCHERS
        argv = [os.path.join(cfg.bin, 'zcrawl'), 'run', '--fetchers', str(n), '--parsers', '1',
                '--writers', '1', '--max-per-host', str(concurrency),
                '--concurrency', str(int(math.ceil(concurrency / n))),
                '--no-progress', '--log-level', 'warn', '--log-dir', os.path.join(rundir, 'zcrawl-logs'),
                '--timeout', str(int(timeout_s))]
        argv += ['--mongo', mongo_uri] if sink == 'mongo' else ['--out', out]
        if name == 'zcrawl-insecure':
            argv.append('--insecure')
        return argv + [base + '/api/book/?limit=%d&offset=%d' % (PAGE_SIZE, k * PAGE_SIZE)
                       for k in range(max(lists, 1))]
    pn = ['--page-number', str(lists)] if lists else []
    if family == 'floor':
        return [cfg.floor, os.path.join(rundir, 'urls.txt'), str(concurrency)]
    if family == 'colly':
        return [cfg.colly, '--base', base, '--concurrency', str(concurrency), '--out', out] + pn
    if family == 'asyncio':
        argv = [PY, os.path.join(ROOT, 'bench', 'baseline_asyncio.py'), '--base', base,
                '--concurrency', str(concurrency)]
        if sink == 'mongo':
            return argv + pn + ['--mongo', mongo_uri, '--upsert-key', cfg.mongo_upsert_key]
        return argv + pn + ['--out', out]
    return [PY, os.path.join(ROOT, 'bench', 'baseline_scrapy.py'), '--base', base,
            '--concurrency', str(concurrency), '--out', out,
            '--concurrent-items', str(cfg.scrapy_concurrent_items)] + pn


def ids_of(doc):
    v = doc.get('id', doc.get('_id')) if isinstance(doc, dict) else None
    if isinstance(v, dict):          # extended JSON such as {"$oid": ...}
        v = None
    return None if v is None else str(v)


def stored_ids_jsonl(path):
    ids, bad = set(), 0
    try:
        with open(path, 'rb') as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    i = ids_of(json.loads(line))
                except ValueError:
                    bad += 1
                    continue
                if i is not None:
                    ids.add(i)
    except FileNotFoundError:
        pass
    return ids, bad


def stored_ids_mongo(uri):
    import pymongo
    c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    ids = set()
    try:
        for dbn in c.list_database_names():
            if dbn in ('admin', 'local', 'config'):
                continue
            for cn in c[dbn].list_collection_names():
                for d in c[dbn][cn].find({}, {'id': 1, '_id': 1}):
                    i = ids_of(d)
                    if i is not None:
                        ids.add(i)
    finally:
        c.close()
    return ids, 0


def write_page_urls(path, base, ids):
    """Every page a crawler fetches (list pages, then every detail page, missing
    books included), one URL a line."""
    count = int(ids['count'])
    with open(path, 'w') as f:
        for off in range(0, count, PAGE_SIZE):
            f.write('%s/api/book/?limit=%d&offset=%d\n' % (base, PAGE_SIZE, off))
        for i in sorted(str(x) for x in ids['reachable']) + [str(x) for x in ids.get('missing', [])]:
            f.write('%s/api/book/%s\n' % (base, i))


def measure_part_costs(cfg, rep):
    """One run of build/bench/part_costs on a fresh emulator: the CPU of one ZeroMQ
    hop and of one cJSON parse per page. Returns its JSON object, or None (logged)."""
    rundir = tempfile.mkdtemp(prefix='zc-bench-parts-', dir=cfg.tmp)
    sim = None
    try:
        sim = start_sitesim(cfg, 0, rundir)
        base = 'http://127.0.0.1:%d' % sim.port
        urls = os.path.join(rundir, 'urls.txt')
        write_page_urls(urls, base, http_json(base + '/__ids'))
        r = subprocess.run([cfg.part_costs, urls], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            log('part costs, run %d: FAILED: %s' % (rep, r.stderr.strip()))
            return None
        out = json.loads(r.stdout.strip().splitlines()[-1])
        out['repeat'] = rep
        log('part costs, run %d: hop %.2f us/page (with CURVE %.2f), parse %.2f us/page, proof of lease %.2f us/page' % (
            rep, out['hop_us_per_page'], out.get('curve_hop_us_per_page', float('nan')), out['parse_us_per_page'],
            out.get('proof_us_per_page', float('nan'))))
        return out
    except Exception as e:  # a broken measurement is reported, never a crashed bench
        log('part costs, run %d: FAILED: %s' % (rep, e))
        return None
    finally:
        if sim:
            sim.stop()
        shutil.rmtree(rundir, ignore_errors=True)


def floor_fetched(rundir, pages, n404, reachable):
    """The floor stores nothing; it passes when it fetched every page with the answer
    the emulator gives (404 for the n404 missing books, 200 for the rest). Returns
    (the reachable ids when it did, else an empty set; unreadable output lines)."""
    try:
        with open(os.path.join(rundir, 'contender.out')) as f:
            r = json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return set(), 1
    ok = (r.get('pages') == pages and r.get('errors') == 0 and r.get('status_404') == n404
          and r.get('status_200') == pages - n404)
    return (set(reachable) if ok else set()), 0


def kill_session(sid):
    """Stops whatever is left of a contender's session (processes we started)."""
    left = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            st = read_stat(int(d))
            if st and st[1] == sid:
                left.append(int(d))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for p in left:
            try:
                os.kill(p, sig)
                alive.append(p)
            except ProcessLookupError:
                pass
        if not alive:
            break
        time.sleep(1.0)
        left = [p for p in alive if read_stat(p) is not None]
    return left


def run_once(cfg, sc, name, fetchers, rep):
    """One race: fresh emulator (and FerretDB), one contender, measured and verified."""
    label, sink, family = CONTENDERS[name]
    rundir = tempfile.mkdtemp(prefix='zc-bench-%s-' % name, dir=cfg.tmp)
    row = dict(scenario=sc['num'], latency_ms=sc['latency_ms'], concurrency=sc['concurrency'],
               start=sc.get('start', 'first'), contender=name, fetchers=(fetchers or DEFAULT_FETCHERS) if family == 'zcrawl' else '',
               repeat=rep, books=cfg.books, seed=cfg.seed, loadavg_1m=round(os.getloadavg()[0], 2),
               started_at=time.strftime('%Y-%m-%dT%H:%M:%S'))
    sim = fdb = None
    ok = False
    try:
        sim = start_sitesim(cfg, sc['latency_ms'], rundir)
        base = 'http://127.0.0.1:%d' % sim.port
        ids = http_json(base + '/__ids')
        reachable = set(str(i) for i in ids['reachable'])
        count = int(ids['count'])
        pages = int(math.ceil(count / PAGE_SIZE)) + count   # list pages + detail pages
        bound = pages * sc['latency_ms'] / 1000.0 / sc['concurrency']
        row.update(reachable=len(reachable), pages=pages, bound_s=round(bound, 3) if bound else '')
        mongo_uri = out = None
        if sink == 'mongo':
            fdb = start_ferretdb(rundir)
            mongo_uri = 'mongodb://127.0.0.1:%d/' % fdb.port
        else:
            out = os.path.join(rundir, 'out.jsonl')
        if family == 'floor':   # every page the crawlers fetch, handed over up front
            write_page_urls(os.path.join(rundir, 'urls.txt'), base, ids)
        limit = cfg.asyncio_mongo_timeout if name == 'asyncio-mongo' else cfg.timeout
        lists = int(math.ceil(count / PAGE_SIZE)) if sc.get('start') == 'lists' else 0
        argv = contender_argv(cfg, name, base, sc['concurrency'], fetchers, out, mongo_uri, rundir, limit, lists)
        db_cpu0 = proc_cpu(fdb.proc.pid) if fdb else 0.0
        with open(os.path.join(rundir, 'contender.out'), 'wb') as fo, \
                open(os.path.join(rundir, 'contender.err'), 'wb') as fe:
            t0 = time.monotonic()
            p = subprocess.Popen(argv, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=rundir)
            sampler = TreeSampler(p.pid)
            sampler.start()
            timed_out = threading.Event()

            def on_timeout():
                timed_out.set()
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            # zcrawl enforces --timeout itself (and then exits non-zero); 30 s more for it to stop.
            timer = threading.Timer(limit + (30 if family == 'zcrawl' else 0), on_timeout)
            timer.start()
            try:
                _, status, ru = os.wait4(p.pid, 0)
            except BaseException:        # Ctrl-C or SIGTERM: the contender goes too
                timer.cancel()
                sampler.stop()
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    os.waitpid(p.pid, 0)
                except ChildProcessError:
                    pass
                p.returncode = -1
                kill_session(p.pid)
                raise
            wall = time.monotonic() - t0
            timer.cancel()
            p.returncode = os.waitstatus_to_exitcode(status)
            sampler.stop()
        db_cpu = proc_cpu(fdb.proc.pid) - db_cpu0 if fdb else None
        left = kill_session(p.pid)
        cpu_ru = ru.ru_utime + ru.ru_stime
        cpu_sampled = sampler.sampled_cpu()
        # wait4's rusage holds the root and every descendant it reaped; a process it did
        # not reap (an orphan) is only in the samples, which lag by up to 100 ms each.
        cpu = max(cpu_ru, cpu_sampled)
        stats = http_json(base + '/__stats')
        if family == 'floor':
            stored, bad = floor_fetched(rundir, pages, len(ids.get('missing', [])), reachable)
        else:
            stored, bad = stored_ids_mongo(mongo_uri) if sink == 'mongo' else stored_ids_jsonl(out)
        missed = reachable - stored
        row.update(rc=p.returncode, wall_s=round(wall, 3), cpu_s=round(cpu, 3),
                   cpu_s_rusage=round(cpu_ru, 3), cpu_s_sampled=round(cpu_sampled, 3),
                   peak_rss_mb=round(sampler.peak_rss / 2**20, 1), peak_pss_mb=round(sampler.peak_pss / 2**20, 1),
                   fetcher_peak_rss_mb=(round(sampler.peak_of('zcrawl-fetcher') / 2**20, 1)
                                        if family == 'zcrawl' else ''),
                   db_cpu_s=round(db_cpu, 3) if db_cpu is not None else '',
                   server_requests=stats.get('requests', ''), server_duplicates=stats.get('duplicates', ''),
                   stored=len(stored & reachable), missed=len(missed), extra=len(stored - reachable),
                   pages_per_s=round(pages / wall, 1), cpu_s_per_1000_pages=round(cpu * 1000.0 / pages, 3),
                   ratio_to_bound=round(wall / bound, 3) if bound else '')
        reasons = []
        if timed_out.is_set():
            reasons.append('killed after %ds' % limit)
        if p.returncode != 0:
            reasons.append('exit %s' % p.returncode)
        if missed:
            reasons.append('stored %d of %d reachable books' % (len(reachable) - len(missed), len(reachable)))
        if bad:
            reasons.append('%d unreadable lines' % bad)
        if left:
            reasons.append('left %d processes behind' % len(left))
        ok = not reasons or (reasons == ['left %d processes behind' % len(left)])
        row['status'] = 'ok' if ok else 'FAILED'
        row['reason'] = '; '.join(reasons)
    except Exception as e:  # a broken run is a FAILED row, never a crashed bench
        row.update(status='FAILED', reason='bench error: %s' % e, bench_error=True)
    finally:
        if fdb:
            fdb.stop()
        if sim:
            sim.stop()
        if not ok:
            kept = save_logs(cfg, rundir, 'S%d-%s-f%s-rep%d' % (sc['num'], name, row['fetchers'] or '', rep))
            row['reason'] = (row.get('reason') or '') + ' (logs in %s)' % kept
        if not cfg.keep:
            shutil.rmtree(rundir, ignore_errors=True)
    return row


def save_logs(cfg, rundir, tag):
    """Copies the logs of a failed run (not its data) under results/failed/."""
    dest = os.path.join(cfg.out_dir, 'failed', tag)
    for dirpath, _, files in os.walk(rundir):
        if 'ferretdb-data' in dirpath:
            continue
        for fn in files:
            src = os.path.join(dirpath, fn)
            if fn.endswith('.jsonl') or os.path.getsize(src) > 4 << 20:
                continue
            d = os.path.join(dest, os.path.relpath(dirpath, rundir))
            os.makedirs(d, exist_ok=True)
            shutil.copy(src, d)
    return os.path.relpath(dest, ROOT)


# ---------------------------------------------------------------- report

def fmt(v, nd=1):
    if v is None or v == '':
        return '-'
    if isinstance(v, float):
        return ('%.' + str(nd) + 'f') % v
    return str(v)


def summary(rows, field):
    vals = [float(r[field]) for r in rows if r.get(field) not in (None, '')]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def cell(rows, field, nd=1):
    s = summary(rows, field)
    if s is None:
        return '-'
    med, lo, hi = s
    if len(rows) == 1:
        return fmt(med, nd)
    return '%s (%s–%s)' % (fmt(med, nd), fmt(lo, nd), fmt(hi, nd))


def group(rows, latency, conc, name, fetchers=None, start='first'):
    out = [r for r in rows if int(r['latency_ms']) == latency and int(r['concurrency']) == conc
           and r['contender'] == name and (r.get('start') or 'first') == start]
    if fetchers is not None:
        out = [r for r in out if str(r['fetchers']) == str(fetchers)]
    elif CONTENDERS[name][2] == 'zcrawl':
        out = [r for r in out if str(r['fetchers']) == str(DEFAULT_FETCHERS)]
    return out


def columns_of(sc, rows):
    """(heading, rows) per column of a scenario's table."""
    cols = []
    if sc['key'] == 'fetchers':
        for f in sc['fetchers']:
            cols.append(('zcrawl, %d fetcher%s' % (f, '' if f == 1 else 's'),
                         group(rows, sc['latency_ms'], sc['concurrency'], 'zcrawl-jsonl', f)))
    else:
        fixed = sc['fetchers'][0] if sc['fetchers'] != [None] else None
        for name in sc['contenders']:
            cols.append((CONTENDERS[name][0] + (', %d fetcher%s' % (fixed, '' if fixed == 1 else 's') if fixed else ''),
                         group(rows, sc['latency_ms'], sc['concurrency'], name, fixed, sc.get('start', 'first'))))
    return [(h, rs) for h, rs in cols if rs]


def failed_note(rs):
    bad = [r for r in rs if r['status'] != 'ok']
    if not bad:
        return None
    return 'FAILED (%d of %d runs)' % (len(bad), len(rs))


def versions():
    """Versions of the Python contenders' libraries, asked once of Debian's python."""
    code = ('import importlib.metadata as m, json\n'
            'out = {}\n'
            'for n in ("aiohttp", "motor", "pymongo", "Scrapy", "Twisted"):\n'
            '    try: out[n] = m.version(n)\n'
            '    except Exception: out[n] = "?"\n'
            'print(json.dumps(out))')
    try:
        r = subprocess.run([PY, '-c', code], capture_output=True, text=True, timeout=60)
        out = json.loads(r.stdout)
    except Exception:
        out = {}
    try:   # the Colly contender's version, as its go.mod pins it
        with open(os.path.join(ROOT, 'bench', 'colly', 'go.mod')) as f:
            out['Colly'] = next(line.split()[-1] for line in f if 'gocolly/colly/v2 ' in line)
    except (OSError, StopIteration):
        out['Colly'] = '?'
    return out


def env_lines(cfg):
    v = cfg.versions
    cpu = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rev = subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', ROOT, 'status', '--porcelain'], capture_output=True,
                               text=True).stdout.strip()
        rev = (rev or '?') + (' (with uncommitted changes)' if dirty else '')
    except OSError:
        rev = '?'
    return [
        '- date: %s; host: %s, %d CPUs, %s' % (time.strftime('%Y-%m-%d %H:%M'), cpu, os.cpu_count(),
                                              platform.platform()),
        '- zcrawl: git %s; emulator: `zcrawl-sitesim --seed %d --books %d`, fresh per run' % (
            rev, cfg.seed, cfg.books),
        '- Python %s, aiohttp %s, motor %s (pymongo %s), Scrapy %s (Twisted %s, CONCURRENT_ITEMS %d); '
        'FerretDB 1.24 (SQLite) as the MongoDB server' % (
            platform.python_version(), v.get('aiohttp', '?'), v.get('motor', '?'), v.get('pymongo', '?'),
            v.get('Scrapy', '?'), v.get('Twisted', '?'), cfg.scrapy_concurrent_items),
        '- Colly %s (bench/colly, Go; as many idle connections per host as the concurrency)' % v.get('Colly', '?'),
        '- %d run(s) per cell, median (min–max); 1-minute load average when runs started: %s' % (
            cfg.repeat, cfg.loadavg),
        '- the asyncio MongoDB baseline upserts by `%s` (see bench/README.md)' % cfg.mongo_upsert_key,
    ]


def write_md(cfg, rows, path):
    loads = [float(r['loadavg_1m']) for r in rows if r.get('loadavg_1m') not in (None, '')]
    if loads:
        cfg.loadavg = '%.2f–%.2f (the bench itself adds 1–2; more means others shared the cores)' % (
            min(loads), max(loads))
    L = ['# zcrawl benchmark results', '']
    L += env_lines(cfg)
    L += ['', 'A contender that did not store every reachable book is FAILED and gets no figures. '
          'CPU: user+system of every process of the contender, children included; memory: the largest '
          'sum of RSS (and of PSS) over its process tree, sampled every 100 ms. '
          'The emulator and the database server are not counted as the contender '
          '(the database\'s CPU is its own row). See bench/README.md.', '']
    for sc in cfg.scenarios:
        cols = columns_of(sc, rows)
        if not cols:
            continue
        L.append('## Scenario %d: %s' % (sc['num'], sc['title']))
        L.append('')
        pages = next((r['pages'] for _, rs in cols for r in rs if r.get('pages')), None)
        if sc['latency_ms'] and pages:
            bound = int(pages) * sc['latency_ms'] / 1000.0 / sc['concurrency']
            L.append('Bound: pages × latency / concurrency = %s × %.1f s / %d = **%.2f s**.' % (
                pages, sc['latency_ms'] / 1000.0, sc['concurrency'], bound))
            lists = sc.get('start') == 'lists'
            best = best_schedule_s(int(pages), sc['latency_ms'], sc['concurrency'], lists)
            L.append('No crawler can do better than %.2f s (%.3f × the bound) on this catalogue: every page '
                     'takes the full latency, %s, and detail URLs are known only once their list page is '
                     'fetched, so even taking list pages first it takes %d rounds of at most %d pages.' % (
                         best, best / bound,
                         'every list page is known at the start (each contender is given their number, '
                         'as the write-up hard-coded PAGE_NUMBER)' if lists else
                         'the first list page is the only URL known at the start',
                         best_rounds(int(pages), sc['concurrency'], lists), sc['concurrency']))
            L.append('')
        metrics = [('runs', None, 0), ('wall time, s', 'wall_s', 2)]
        if sc['latency_ms']:
            metrics.append(('wall time / bound', 'ratio_to_bound', 2))
        metrics += [('pages/s', 'pages_per_s', 0), ('CPU s per 1000 pages', 'cpu_s_per_1000_pages', 3),
                    ('peak RSS (sum), MB', 'peak_rss_mb', 1), ('peak PSS (sum), MB', 'peak_pss_mb', 1)]
        if all(CONTENDERS[r['contender']][2] == 'zcrawl' for _, rs in cols for r in rs):
            metrics.append(('largest fetcher RSS, MB', 'fetcher_peak_rss_mb', 1))
        if any(CONTENDERS[r['contender']][1] == 'mongo' for _, rs in cols for r in rs):
            metrics.append(('database server CPU s', 'db_cpu_s', 2))
        L.append('| | ' + ' | '.join(h for h, _ in cols) + ' |')
        L.append('| --- |' + ' ---: |' * len(cols))
        for title, field, nd in metrics:
            cells = []
            for _, rs in cols:
                note = failed_note(rs)
                if field is None:
                    cells.append('%d' % len(rs) if not note else note)
                elif note:
                    cells.append('FAILED')
                else:
                    cells.append(cell(rs, field, nd))
            L.append('| %s | %s |' % (title, ' | '.join(cells)))
        L.append('')
        for h, rs in cols:
            for r in rs:
                if r['status'] != 'ok':
                    L.append('- %s, run %s: FAILED: %s' % (h, r['repeat'], r.get('reason', '')))
        if any(r['status'] != 'ok' for _, rs in cols for r in rs):
            L.append('')
        if sc['key'] == 'zero':
            L += parts_lines(cfg, rows)
        am = [r for _, rs in cols for r in rs if r['contender'] == 'asyncio-mongo' and r['status'] != 'ok']
        if am:
            stored = summary(am, 'stored')
            L.append('asyncio+motor FAILED because of the database, not of asyncio: it writes the way the '
                     'write-up does, one `update_one(..., upsert=True)` per book, and FerretDB 1.24 on SQLite '
                     'scans the whole collection on every update, so each write gets slower as the collection '
                     'grows. In its %s s it stored %s of %s books (median), and FerretDB burnt %s CPU s. '
                     'zcrawl\'s writer sends bulk inserts and falls back to replacements only for documents '
                     'that exist. See bench/README.md.' % (
                         fmt(summary(am, 'wall_s')[0], 0) if summary(am, 'wall_s') else '?',
                         fmt(stored[0], 0) if stored else '?', am[0].get('reachable', '?'),
                         fmt(summary(am, 'db_cpu_s')[0], 0) if summary(am, 'db_cpu_s') else '?'))
            L.append('')
    L += targets_lines(cfg, rows)
    L += ['![pages/s and wall time / bound](chart.png)', '']
    with open(path, 'w') as f:
        f.write('\n'.join(L))


def parts_lines(cfg, rows):
    """Scenario 1's lower bounds: what fetching, one ZeroMQ hop and one cJSON parse
    of every page cost alone, against a tenth of the asyncio crawler's CPU per page."""
    parts = getattr(cfg, 'parts', None) or []
    floor = [r for r in rows if r['contender'] == 'curl-floor' and r['status'] == 'ok']
    fetch = summary(floor, 'cpu_s_per_1000_pages') if floor and not failed_note(floor) else None
    if not parts or not fetch:
        return []
    hop = statistics.median(p['hop_us_per_page'] for p in parts)
    parse = statistics.median(p['parse_us_per_page'] for p in parts)
    curve = [p['curve_hop_us_per_page'] for p in parts if 'curve_hop_us_per_page' in p]
    proof = [p['proof_us_per_page'] for p in parts if 'proof_us_per_page' in p]
    L = ['What the parts of any pipeline of ZeroMQ-joined stages with cJSON cost alone, per page '
         '(lower bounds: each alone on an idle machine, the best case; medians of %d runs):' % len(parts), '',
         '| part | µs of CPU per page |', '| --- | ---: |',
         '| fetch with libcurl (the floor above) | %.1f |' % (fetch[0] * 1000),
         '| one ZeroMQ hop of the page to another process (bench/part_costs.c) | %.1f |' % hop,
         ] + (['| the same hop with CURVE, as zcrawl\'s links are by default (not in the sum) | %.1f |'
               % statistics.median(curve)] if curve else []) + [
         '| cJSON parse of the page, its nodes from a bump arena as in zcrawl\'s parser (bench/part_costs.c) | %.1f |' % parse,
         ] + (['| the proof of lease: made by the broker, checked by the parser and the writer (HMAC-SHA256, '
               'docs/PROTOCOL.md; zcrawl\'s, not in the sum) | %.2f |' % statistics.median(proof)] if proof else []) + [
         '| **sum: the least such a pipeline spends, before Redis, BSON, storage and its other hops** '
         '| **%.1f** |' % (fetch[0] * 1000 + hop + parse)]
    asy = [r for r in rows if r['contender'] == 'asyncio-jsonl' and int(r['scenario']) == 1 and r['status'] == 'ok']
    a = summary(asy, 'cpu_s_per_1000_pages') if asy and not failed_note(asy) else None
    if a:
        L.append('| a tenth of the asyncio crawler\'s CPU per page (the target) | %.1f |' % (a[0] * 100))
    return L + ['']


def best_rounds(pages, conc, all_lists=False):
    """Rounds of one latency each that an ideal crawler needs. From the first list
    page: round 1 is that page alone (the only URL known); it reveals the other list
    pages and its 18 details. With all_lists, every list page is known at the start.
    Every list page fetched reveals its details; each round fetches at most `conc`
    known pages, list pages first (the fastest way to learn URLs)."""
    count = next(c for c in range(pages * PAGE_SIZE // (PAGE_SIZE + 1), pages + 1)
                 if math.ceil(c / PAGE_SIZE) + c == pages)
    lists = math.ceil(count / PAGE_SIZE)
    if all_lists:
        known_lists, known_details, done_lists, done_details, rounds = lists, 0, 0, 0, 0
    else:
        known_lists, known_details, done_lists, done_details, rounds = lists - 1, min(PAGE_SIZE, count), 1, 0, 1
    while done_lists < lists or done_details < count:
        take_l = min(conc, known_lists)
        take_d = min(conc - take_l, known_details - done_details)
        if take_l + take_d == 0:
            raise ValueError('no progress')
        for i in range(take_l):
            k = lists - known_lists + i          # 0-based index of the list page fetched
            known_details += min(PAGE_SIZE, count - k * PAGE_SIZE)
        known_lists -= take_l
        done_lists += take_l
        done_details += take_d
        rounds += 1
    return rounds


def best_schedule_s(pages, latency_ms, conc, all_lists=False):
    """Least wall time any crawler can reach: best_rounds × latency."""
    return latency_ms / 1000.0 * best_rounds(pages, conc, all_lists)


def targets_lines(cfg, rows):
    """The issue's targets against the medians of this run: met or not, and by how much."""
    def med(sc_key, name, field, fetchers=None):
        sc = next((x for x in cfg.scenarios if x['key'] == sc_key), None)
        if not sc:
            return None
        rs = group(rows, sc['latency_ms'], sc['concurrency'], name, fetchers, sc.get('start', 'first'))
        if not rs or failed_note(rs):
            return None
        s = summary(rs, field)
        return s[0] if s else None
    out = []
    z_pps, z_cpu = med('zero', 'zcrawl-jsonl', 'pages_per_s'), med('zero', 'zcrawl-jsonl', 'cpu_s_per_1000_pages')
    for other in ('asyncio-jsonl', 'scrapy-jsonl'):
        o_pps, o_cpu = med('zero', other, 'pages_per_s'), med('zero', other, 'cpu_s_per_1000_pages')
        if None in (z_pps, z_cpu, o_pps, o_cpu):
            continue
        sp, cp = z_pps / o_pps, o_cpu / z_cpu
        out.append('| S1: ≥ 10 × the pages/s of %s, ≤ 1/10 of its CPU per page | %.1f × the pages/s, '
                   '1/%.1f of the CPU per page | %s |' % (CONTENDERS[other][0], sp, cp,
                                                          'met' if sp >= 10 and cp >= 10 else 'not met'))
    for key in ('lat200', 'lat1000', 'lat1000lists'):
        r = med(key, 'zcrawl-jsonl', 'ratio_to_bound')
        sc = next((x for x in cfg.scenarios if x['key'] == key), None)
        if r is None or sc is None:
            continue
        pages = next((int(x['pages']) for x in rows if x.get('pages')), None)
        best = ''
        if pages:
            b = best_schedule_s(pages, sc['latency_ms'], sc['concurrency'], sc.get('start') == 'lists')
            best = ' (best possible: %.3f)' % (b / (pages * sc['latency_ms'] / 1000.0 / sc['concurrency']))
        out.append('| S%d%s: wall time ≤ 1.1 × the bound | %.3f × the bound%s | %s |' % (
            sc['num'], ' (scenario 3 from every list page)' if sc.get('start') == 'lists' else '',
            r, best, 'met' if r <= 1.1 else 'not met'))
    # Issue 25: zcrawl's whole-tree CPU at most half of Colly's (CURVE on, every book stored).
    for key in ('zerolists', 'zero'):
        z, c = med(key, 'zcrawl-jsonl', 'cpu_s'), med(key, 'colly-jsonl', 'cpu_s')
        zw, cw = med(key, 'zcrawl-jsonl', 'wall_s'), med(key, 'colly-jsonl', 'wall_s')
        zm, cm = med(key, 'zcrawl-jsonl', 'peak_rss_mb'), med(key, 'colly-jsonl', 'peak_rss_mb')
        sc = next((x for x in cfg.scenarios if x['key'] == key), None)
        if None in (z, c, zw, cw, zm, cm) or not c or not cw:
            continue
        out.append('| S%d: whole-tree CPU ≤ 0.5 × Colly\'s | %.2f × Colly\'s CPU (%.2f against %.2f s), '
                   '%.2f × its wall time, peak RSS %.0f against %.0f MB | %s |' % (
                       sc['num'], z / c, z, c, zw / cw, zm, cm, 'met' if z <= 0.5 * c else 'not met'))
    rss = [float(r['fetcher_peak_rss_mb']) for r in rows if int(r['scenario']) == 5 and r['status'] == 'ok'
           and r.get('fetcher_peak_rss_mb') not in (None, '')]
    if rss:
        out.append('| S5: a fetcher at 1000 concurrent transfers < 30 MB resident | %.1f MB (largest of %d runs) | %s |'
                   % (max(rss), len(rss), 'met' if max(rss) < 30 else 'not met'))
    if not out:
        return []
    return ['## Targets of the benchmark issue (medians of this run)', '',
            '| target | zcrawl (JSONL) | |', '| --- | --- | --- |'] + out + ['']


def write_csv(rows, path):
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction='ignore')
        w.writeheader()
        for r in rows:
            w.writerow(r)


def write_chart(cfg, rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    scs = [sc for sc in cfg.scenarios if columns_of(sc, rows)]
    # pages/s and CPU per page where they are the point (zero latency); behind
    # latency, the distance from the bound.
    panels = [(sc_list, field, title) for sc_list, field, title in
              (([sc for sc in scs if not sc['latency_ms']], 'pages_per_s', 'pages/s (higher is better)'),
               ([sc for sc in scs if not sc['latency_ms']], 'cpu_s_per_1000_pages',
                'CPU s per 1000 pages (lower is better)'),
               ([sc for sc in scs if sc['latency_ms']], 'ratio_to_bound',
                'wall time / (pages × latency / concurrency): 1.0 is the bound, lower is better'))
              if sc_list]
    if not panels:
        return
    palette = plt.rcParams['axes.prop_cycle'].by_key()['color']
    color = {}
    for sc in scs:
        for h, _ in columns_of(sc, rows):
            color.setdefault(h, palette[len(color) % len(palette)])
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 4.4 * len(panels)), squeeze=False)
    for ax, (sc_list, field, title) in zip(axes[:, 0], panels):
        used = []
        for gi, sc in enumerate(sc_list):
            cols = columns_of(sc, rows)
            width = 0.8 / max(len(cols), 3)
            for ci, (h, rs) in enumerate(cols):
                x = gi + width * (ci - (len(cols) - 1) / 2.0)
                if h not in used:
                    used.append(h)
                s = summary([r for r in rs if r['status'] == 'ok'], field)
                if failed_note(rs) or s is None:
                    ax.text(x, 0, 'FAILED', rotation=90, ha='center', va='bottom', fontsize=8, color='red')
                    continue
                med, lo, hi = s
                ax.bar(x, med, width * 0.95, color=color[h], yerr=[[med - lo], [hi - med]], capsize=3,
                       ecolor='black')
                ax.text(x, hi, fmt(med, {'pages_per_s': 0, 'cpu_s_per_1000_pages': 3}.get(field, 2)),
                        ha='center', va='bottom', fontsize=7)
            pages = next((int(r['pages']) for _, rs in cols for r in rs if r.get('pages')), None)
            if field == 'ratio_to_bound' and pages:
                best = best_schedule_s(pages, sc['latency_ms'], sc['concurrency'], sc.get('start') == 'lists') / (
                    pages * sc['latency_ms'] / 1000.0 / sc['concurrency'])
                ax.hlines(best, gi - 0.45, gi + 0.45, colors='black', lw=1.2)
                ax.text(gi + 0.45, best, ' best\n possible', fontsize=6, va='center', ha='left')
        ax.set_xticks(range(len(sc_list)))
        ax.set_xticklabels([textwrap.fill('S%d: %s' % (sc['num'], sc['title']), 30) for sc in sc_list],
                           fontsize=7)
        ax.set_title(title, fontsize=10)
        if field == 'ratio_to_bound':
            ax.axhline(1.0, color='grey', lw=0.8, ls='--')
        ax.margins(y=0.25)
        ax.legend(handles=[Patch(color=color[h], label=h) for h in used], fontsize=7, ncol=3)
    fig.suptitle('zcrawl vs the asyncio crawler, Scrapy and Colly: %d books, median of %d runs (whiskers: min–max)' % (
        cfg.books, cfg.repeat), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(cfg, rows, chart=True):
    os.makedirs(cfg.out_dir, exist_ok=True)
    write_csv(rows, os.path.join(cfg.out_dir, 'results.csv'))
    parts = os.path.join(cfg.out_dir, 'part_costs.json')
    if getattr(cfg, 'parts', None):
        with open(parts, 'w') as f:
            json.dump(cfg.parts, f, indent=1)
    elif os.path.exists(parts) and getattr(cfg, 'report_only', False):
        with open(parts) as f:
            cfg.parts = json.load(f)
    write_md(cfg, rows, os.path.join(cfg.out_dir, 'results.md'))
    if not chart:
        return
    try:
        write_chart(cfg, rows, os.path.join(cfg.out_dir, 'chart.png'))
    except Exception as e:
        log('chart not drawn: %s' % e)


# ---------------------------------------------------------------- main

def pick_scenarios(spec):
    if not spec or spec == 'all':
        return list(SCENARIOS) + list(FRONTIER_SCENARIOS) + list(HOSTS_SCENARIOS)
    want = [s.strip() for s in spec.split(',') if s.strip()]
    every = SCENARIOS + FRONTIER_SCENARIOS + HOSTS_SCENARIOS
    out = [sc for sc in every if str(sc['num']) in want or sc['key'] in want]
    unknown = [w for w in want if not any(w in (str(sc['num']), sc['key']) for sc in every)]
    if unknown:
        sys.exit('run_bench: error: unknown scenario %s (have 1..12 or %s)' % (
            ', '.join(unknown), ', '.join(sc['key'] for sc in every)))
    return out


def run_frontier(cfg, scs):
    """The frontier scenarios (bench/frontier_bench.py): their own results file."""
    import frontier_bench
    cfg.loadavg = '%.2f %.2f %.2f' % os.getloadavg()
    cfg.credit = 2000
    rows = frontier_bench.run(cfg, [sc['key'] for sc in scs], cfg.out_dir)
    log('frontier scenarios: %s' % os.path.join(cfg.out_dir, 'frontier.md'))
    return 1 if any(r['status'] != 'ok' for r in rows) else 0


def run_hosts(cfg, counts):
    """The many-hosts scenario (bench/hosts_bench.py): its own results file."""
    import hosts_bench
    cfg.loadavg = '%.2f %.2f %.2f' % os.getloadavg()
    rows = hosts_bench.run(cfg, cfg.out_dir, TreeSampler, counts)
    log('many-hosts scenario: %s' % os.path.join(cfg.out_dir, 'hosts.md'))
    return 1 if any(r['status'] != 'ok' for r in rows) else 0


def plan(cfg):
    """(scenario, contender, fetchers) in run order; scenario 4 reuses scenario 2's
    zcrawl runs with the default fetcher count when both are on."""
    keys = {sc['key'] for sc in cfg.scenarios}
    items = []
    for sc in cfg.scenarios:
        for name in sc['contenders']:
            if cfg.contenders and name not in cfg.contenders:
                continue
            for f in sc['fetchers']:
                if (sc['key'] == 'fetchers' and f == DEFAULT_FETCHERS and 'lat200' in keys
                        and (not cfg.contenders or 'zcrawl-jsonl' in cfg.contenders)):
                    continue
                items.append((sc, name, f))
    return items


def on_sigterm(signum, frame):
    raise KeyboardInterrupt('SIGTERM')


def report_only(cfg):
    with open(os.path.join(cfg.out_dir, 'results.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit('run_bench: error: no runs in %s/results.csv' % cfg.out_dir)
    for r in rows:
        r['scenario'] = int(r['scenario'])
    cfg.books = int(rows[0]['books'])
    cfg.seed = int(rows[0]['seed'])
    cfg.repeat = max(int(r['repeat']) for r in rows)
    cfg.scenarios = [sc for sc in cfg.scenarios if any(r['scenario'] == sc['num'] for r in rows)]
    cfg.loadavg = '?'
    cfg.versions = versions()
    cfg.report_only = True
    write_outputs(cfg, rows)
    log('rebuilt %s' % os.path.join(cfg.out_dir, 'results.md'))
    return 0


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--books', type=int, default=int(env('BENCH_BOOKS', 9040)))
    ap.add_argument('--repeat', type=int, default=int(env('BENCH_REPEAT', 3)))
    ap.add_argument('--scenarios', default=env('BENCH_SCENARIOS', 'all'),
                    help='comma list of 1..12 or zero,lat200,lat1000,fetchers,mem1000,lat1000lists,mem5000,'
                         'hosts10k,hosts100k,hol,hosts,zerolists (default all)')
    ap.add_argument('--hosts', default=env('BENCH_HOSTS', '1,20000,100000'),
                    help='host counts of scenario 11 (default 1,20000,100000)')
    ap.add_argument('--contenders', default=env('BENCH_CONTENDERS', ''),
                    help='comma list of %s (default all)' % ','.join(CONTENDERS))
    ap.add_argument('--seed', type=int, default=int(env('BENCH_SEED', 1)))
    ap.add_argument('--timeout', type=int, default=int(env('BENCH_TIMEOUT', 600)),
                    help='seconds before a run is killed and FAILED (default 600)')
    ap.add_argument('--asyncio-mongo-timeout', type=int, default=int(env('BENCH_ASYNCIO_MONGO_TIMEOUT', 90)),
                    help='seconds for the asyncio+motor baseline (default 90; see README)')
    ap.add_argument('--scrapy-concurrent-items', type=int,
                    default=int(env('BENCH_SCRAPY_CONCURRENT_ITEMS', 1)))
    ap.add_argument('--mongo-upsert-key', default=env('BENCH_MONGO_UPSERT_KEY', '_id'), choices=('id', '_id'))
    ap.add_argument('--bin', default=env('ZCRAWL_BIN', os.path.join(ROOT, 'bin')))
    ap.add_argument('--out-dir', default=os.path.join(ROOT, 'bench', 'results'))
    ap.add_argument('--keep', action='store_true', help='keep every run folder')
    ap.add_argument('--report-only', action='store_true',
                    help='rebuild results.md and chart.png from the results.csv of --out-dir; run nothing')
    cfg = ap.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    cfg.bin = os.path.abspath(cfg.bin)
    cfg.scenarios = pick_scenarios(cfg.scenarios)
    frontier_scs = [sc for sc in cfg.scenarios if sc in FRONTIER_SCENARIOS]
    hosts_scs = [sc for sc in cfg.scenarios if sc in HOSTS_SCENARIOS]
    cfg.scenarios = [sc for sc in cfg.scenarios if sc not in FRONTIER_SCENARIOS and sc not in HOSTS_SCENARIOS]
    side = 0
    if frontier_scs and not cfg.report_only:
        side |= run_frontier(cfg, frontier_scs)
    if hosts_scs and not cfg.report_only:
        side |= run_hosts(cfg, [int(x) for x in cfg.hosts.split(',') if x.strip()])
    if (frontier_scs or hosts_scs) and not cfg.scenarios:
        return side
    cfg.contenders = [c.strip() for c in cfg.contenders.split(',') if c.strip()]
    for c in cfg.contenders:
        if c not in CONTENDERS:
            sys.exit('run_bench: error: unknown contender %s (have %s)' % (c, ', '.join(CONTENDERS)))
    if cfg.report_only:
        return report_only(cfg)
    if cfg.repeat < 1 or cfg.books < 1:
        sys.exit('run_bench: error: --repeat and --books must be >= 1')
    if not os.access(os.path.join(cfg.bin, 'zcrawl-sitesim'), os.X_OK):
        sys.exit('run_bench: error: no %s/zcrawl-sitesim (run make)' % cfg.bin)
    cfg.floor = os.path.join(ROOT, 'build', 'bench', 'curl_floor')
    cfg.part_costs = os.path.join(ROOT, 'build', 'bench', 'part_costs')
    cfg.parts = []
    if not os.access(cfg.part_costs, os.X_OK):
        log('no %s (make builds it): the part costs are left out' % cfg.part_costs)
        cfg.part_costs = None
    cfg.colly = os.path.join(ROOT, 'build', 'bench', 'colly-crawler')
    if not os.access(cfg.colly, os.X_OK):
        log('no %s (scripts/bench.sh builds it with Go): the Colly contender is left out' % cfg.colly)
        cfg.contenders = [c for c in (cfg.contenders or ALL) if CONTENDERS[c][2] != 'colly']
    if not os.access(cfg.floor, os.X_OK):
        log('no %s (make builds it): the libcurl floor is left out' % cfg.floor)
        cfg.contenders = [c for c in (cfg.contenders or ALL) if CONTENDERS[c][2] != 'floor']
    if not os.access(os.path.join(cfg.bin, 'zcrawl'), os.X_OK):
        log('no %s/zcrawl: the zcrawl contenders are left out' % cfg.bin)
        cfg.contenders = [c for c in (cfg.contenders or ALL) if CONTENDERS[c][2] != 'zcrawl']
    if not ferretdb_path():
        log('no FerretDB: the MongoDB contenders are left out')
        cfg.contenders = [c for c in (cfg.contenders or ALL) if CONTENDERS[c][1] != 'mongo']
    shutil.rmtree(os.path.join(cfg.out_dir, 'failed'), ignore_errors=True)
    cfg.loadavg = '%.2f %.2f %.2f' % os.getloadavg()
    cfg.versions = versions()
    cfg.tmp = tempfile.mkdtemp(prefix='zc-bench-')
    items = plan(cfg)
    log('%d books, %d repeat(s), %d runs per repeat, scratch in %s' % (cfg.books, cfg.repeat, len(items), cfg.tmp))
    rows = []
    t_start = time.monotonic()
    interrupted = False
    try:
        for rep in range(1, cfg.repeat + 1):
            # Rotate the order each repeat so no contender always runs first or last.
            k = (rep - 1) % max(1, len(items))
            if cfg.part_costs and any(sc['key'] == 'zero' for sc in cfg.scenarios):
                pc = measure_part_costs(cfg, rep)
                if pc:
                    cfg.parts.append(pc)
            for sc, name, f in items[k:] + items[:k]:
                row = run_once(cfg, sc, name, f, rep)
                rows.append(row)
                log('S%d %-14s f=%-2s rep %d: %-6s wall %ss  cpu %ss  rss %sMB  %s' % (
                    sc['num'], name, row.get('fetchers') or '-', rep, row['status'], row.get('wall_s', '-'),
                    row.get('cpu_s', '-'), row.get('peak_rss_mb', '-'), row.get('reason', '')))
                write_outputs(cfg, sorted(rows, key=lambda r: (r['scenario'], r['contender'], str(r['fetchers']),
                                                               r['repeat'])), chart=False)
    except KeyboardInterrupt:
        log('interrupted: writing what was measured')
        interrupted = True
    rows.sort(key=lambda r: (r['scenario'], r['contender'], str(r['fetchers']), r['repeat']))
    write_outputs(cfg, rows)
    if not cfg.keep:
        shutil.rmtree(cfg.tmp, ignore_errors=True)
    log('done in %.0fs: %s' % (time.monotonic() - t_start, os.path.join(cfg.out_dir, 'results.md')))
    # A baseline that fails is a result; zcrawl failing, or the bench itself, is an error.
    bad = [r for r in rows if r['status'] != 'ok'
           and (CONTENDERS[r['contender']][2] == 'zcrawl' or r.get('bench_error'))]
    for r in bad:
        log('FAILED: S%d %s run %d: %s' % (r['scenario'], r['contender'], r['repeat'], r.get('reason', '')))
    return 130 if interrupted else 1 if bad or side else 0


if __name__ == '__main__':
    sys.exit(main())
