"""hosts_bench.py -- the many-hosts scenario of run_bench.py (issue 25): what a request
costs when every request goes to another host, against one host, at the same total
concurrency.

For each host count N (1, 20 000 and 100 000 by default): a fresh zcrawl-sitesim
with N virtual hosts (`--hosts N`; hK.localhost, which libcurl resolves to loopback
itself, so no DNS server is involved), one book each, or for N = 1 one host of
ONE_HOST_BOOKS books; `bin/zcrawl run` (CURVE on, its own Redis, 2 fetchers x 50,
1 parser, 1 writer) seeded with every host's list page (for N = 1 every list page
of the one host), the per-host cap 2 (for N = 1 the whole concurrency, 100). The
run counts when the crawl exits 0, every host was asked each of its pages once
(robots.txt, the list page, each book: the emulator's per-host counters), no
host had more than the cap in progress, and every book was written. Measured:
the CPU of each process of the tree (sampled from /proc every 100 ms, grouped by
name), divided by the requests the emulator served: microseconds of CPU per
request by process. The emulator itself is not counted.
"""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))
from harness import free_port  # noqa: E402

HOST_COUNTS = (1, 20000, 100000)
# The one host's catalogue: as many books as the 20 000 hosts have (a smaller one
# through the environment, for test_bench).
ONE_HOST_BOOKS = int(os.environ.get('BENCH_ONE_HOST_BOOKS', 20000))
FETCHERS, CONCURRENCY, CAP = 2, 50, 2
PAGE = 18
# process name (comm) -> the column it is counted in
PARTS = [('zcrawl-fetcher', 'fetchers'), ('zcrawl-broker', 'broker'), ('redis-server', 'redis'),
         ('zcrawl-parser', 'parser'), ('zcrawl-writer', 'writer'), ('zcrawl', 'launcher')]


def log(msg):
    print('[hosts-bench %s] %s' % (time.strftime('%H:%M:%S'), msg), file=sys.stderr, flush=True)


def http_json(port, path, host=None, timeout=60):
    req = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path))
    if host:
        req.add_header('Host', host)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def wait_port(port, proc, timeout=30):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('the emulator exited with %s' % proc.returncode)
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError('the emulator does not listen on %d' % port)


def seeds_of(n, port):
    """Every host's list page; for one host every list page of its catalogue."""
    if n == 1:
        return ['http://h0.localhost:%d/api/book/?limit=%d&offset=%d' % (port, PAGE, k * PAGE)
                for k in range(int(math.ceil(ONE_HOST_BOOKS / PAGE)))]
    return ['http://h%d.localhost:%d/api/book/?limit=%d&offset=0' % (i, port, PAGE) for i in range(n)]


def check(n, port, st, summary, rc):
    """Reasons the run does not count (empty when it does)."""
    reasons = []
    if rc != 0:
        reasons.append('exit %s' % rc)
    if st.get('duplicates'):
        reasons.append('%d duplicate requests' % st['duplicates'])
    cap = FETCHERS * CONCURRENCY if n == 1 else CAP
    if st.get('max_host_in_progress', 0) > cap:
        reasons.append('%d in progress at one host (cap %d)' % (st['max_host_in_progress'], cap))
    if n == 1:
        ids = http_json(port, '/__ids', 'h0.localhost:%d' % port)
        want_docs = len(ids['reachable'])
        want_requests = 1 + int(math.ceil(ONE_HOST_BOOKS / PAGE)) + ONE_HOST_BOOKS
        if st['requests'] != want_requests:
            reasons.append('%d requests, want %d' % (st['requests'], want_requests))
    else:
        want_docs = n
        odd = [i for i, h in enumerate(st['by_host']) if h['requests'] != 3]
        if odd:
            reasons.append('%d hosts not asked robots.txt, list and book once each (h%d: %s)' % (
                len(odd), odd[0], st['by_host'][odd[0]]))
    written = summary.get('written')
    if written != want_docs:
        reasons.append('%s documents written, want %d' % (written, want_docs))
    return reasons


def parse_summary(text):
    """The launcher's last line: 'crawl complete: P pages fetched, D documents written, ...'."""
    import re
    m = re.search(r'crawl complete: (\d+) pages fetched, (\d+) documents written', text)
    return dict(fetched=int(m.group(1)), written=int(m.group(2))) if m else {}


def run_one(cfg, n, rep, sampler_cls):
    tmp = tempfile.mkdtemp(prefix='zc-hbench-%d-' % n)
    row = dict(hosts=n, repeat=rep, loadavg_1m=round(os.getloadavg()[0], 2))
    sim = None
    try:
        port = free_port()
        books = ONE_HOST_BOOKS if n == 1 else 1
        sim = subprocess.Popen([os.path.join(cfg.bin, 'zcrawl-sitesim'), '--port', str(port), '--hosts', str(n),
                                '--books', str(books), '--seed', str(cfg.seed), '--log-level', 'warn'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(port, sim)
        seeds = os.path.join(tmp, 'seeds.txt')
        with open(seeds, 'w') as f:
            f.write('\n'.join(seeds_of(n, port)) + '\n')
        cap = FETCHERS * CONCURRENCY if n == 1 else CAP
        # --timeout is for 20 000 hosts; more hosts, more time (a loaded machine
        # took 600 s for 100 000).
        timeout = cfg.timeout * max(1, n // 20000)
        argv = [os.path.join(cfg.bin, 'zcrawl'), 'run', '--no-progress', '--log-level', 'warn',
                '--fetchers', str(FETCHERS), '--concurrency', str(CONCURRENCY), '--parsers', '1', '--writers', '1',
                '--max-per-host', str(cap), '--seeds', seeds, '--out', os.path.join(tmp, 'out.jsonl'),
                '--log-dir', os.path.join(tmp, 'logs'), '--timeout', str(timeout)]
        t0 = time.monotonic()
        with open(os.path.join(tmp, 'run.out'), 'wb') as fo:
            p = subprocess.Popen(argv, stdout=fo, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=tmp)
            sampler = sampler_cls(p.pid)
            sampler.start()
            killer = threading.Timer(timeout + 30, lambda: os.killpg(p.pid, signal.SIGKILL))
            killer.start()
            try:
                rc = p.wait()
            finally:
                killer.cancel()
                sampler.stop()
        wall = time.monotonic() - t0
        with open(os.path.join(tmp, 'run.out'), errors='replace') as f:
            out = f.read()
        st = http_json(port, '/__stats')
        reasons = check(n, port, st, parse_summary(out), rc)
        cpu = {col: 0.0 for _, col in PARTS}
        for pid, c in sampler.cpu.items():
            col = dict(PARTS).get(sampler.names.get(pid), 'other')
            cpu[col] = cpu.get(col, 0.0) + c
        req = st['requests']
        total = sum(cpu.values())
        row.update(status='ok' if not reasons else 'FAILED', reason='; '.join(reasons), wall_s=round(wall, 2),
                   requests=req, cpu_s=round(total, 2), us_per_request=round(total * 1e6 / req, 1),
                   fetcher_peak_rss_mb=round(sampler.peak_of('zcrawl-fetcher') / 2**20, 1))
        for col, c in cpu.items():
            row[col + '_s'] = round(c, 2)
            row[col + '_us'] = round(c * 1e6 / req, 1)
        if reasons:
            row['tail'] = out[-1500:]
    except Exception as e:  # a broken run is a FAILED row
        row.update(status='FAILED', reason='bench error: %s' % e)
    finally:
        if sim and sim.poll() is None:
            sim.terminate()
            sim.wait(10)
        if not cfg.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return row


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def table(rows, counts):
    """The markdown table: medians over the repeats that counted, by host count."""
    cols = ['fetchers', 'broker', 'redis', 'parser', 'writer', 'launcher']
    lines = ['| hosts | runs | requests | wall s | CPU us per request | ' + ' | '.join(cols) +
             ' | x one host | fetcher peak RSS MB |',
             '| ---: | ---: | ---: | ---: | ---: | ' + ' | '.join('---:' for _ in cols) + ' | ---: | ---: |']
    base = None
    for n in counts:
        ok = [r for r in rows if r['hosts'] == n and r['status'] == 'ok']
        bad = [r for r in rows if r['hosts'] == n and r['status'] != 'ok']
        if not ok:
            lines.append('| %d | 0 of %d | FAILED: %s |' % (n, len(bad), bad[0]['reason'] if bad else '-'))
            continue
        us = median([r['us_per_request'] for r in ok])
        if n == 1:
            base = us
        lines.append('| %d | %d | %d | %.1f | %.0f | %s | %s | %.1f |' % (
            n, len(ok), median([r['requests'] for r in ok]), median([r['wall_s'] for r in ok]), us,
            ' | '.join('%.0f' % median([r[c + '_us'] for r in ok]) for c in cols),
            'x %.2f' % (us / base) if base else '-', median([r['fetcher_peak_rss_mb'] for r in ok])))
    return '\n'.join(lines) + '\n'


def run(cfg, out_dir, sampler_cls, counts=HOST_COUNTS):
    """Runs every host count cfg.repeat times (in turn), writes out_dir/hosts.md and
    hosts.json, prints the table, returns the rows."""
    rows = []
    for rep in range(1, cfg.repeat + 1):
        for n in counts:
            t = time.time()
            r = run_one(cfg, n, rep, sampler_cls)
            log('%d hosts rep %d (%.0fs): %s' % (n, rep, time.time() - t,
                                                 {k: v for k, v in r.items() if k != 'tail'}))
            rows.append(r)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'hosts.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    md = ('# Many hosts (bench/hosts_bench.py)\n\nCPU per request by process (medians, us), %d fetchers x %d, '
          'cap %d per host (one host: %d), load average at start %s\n\n' % (
              FETCHERS, CONCURRENCY, CAP, FETCHERS * CONCURRENCY, cfg.loadavg)) + table(rows, counts)
    with open(os.path.join(out_dir, 'hosts.md'), 'w') as f:
        f.write(md)
    print(md, flush=True)
    return rows
