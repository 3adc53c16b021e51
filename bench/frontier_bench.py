"""frontier_bench.py -- the frontier's scenarios of run_bench.py (issue 13): dispatch
over many hosts, and head-of-line blocking behind a slow host.

many hosts (hosts10k, hosts100k): a private redis-server and the real broker; the
crawl is seeded with URLS URLs spread over N hosts (round robin) and, once every
URL waits in its host's queue, a fetcher-and-writer played by this script (two
DEALER sockets speaking the broker protocol: DONE ok and WRITTEN for every URL of
every JOB, CREDIT back at once) takes them as fast as the broker hands them out.
No HTTP is involved: what is measured is the broker and Redis per URL (lease,
dispatch, hand-back of hosts, close). Reported: URLs dispatched per second, broker
and Redis CPU per URL, and Redis bytes per queued URL (used_memory with every URL
queued and seen, less before seeding, over URLS).

head-of-line (hol): zcrawl-sitesim with 1+F virtual hosts, host 0 slow (1 s), the
F fast ones at 20 ms; every host capped at 2, 2 fetchers x 64 slots. The slow host
(300 books on one list page) is seeded first, the fast ones 3.5 s later; the fast
hosts' pages per second then, against a crawl of the fast hosts alone.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))
from harness import free_port, unpack  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')


def log(msg):
    print('[frontier-bench %s] %s' % (time.strftime('%H:%M:%S'), msg), flush=True)


def cpu_s(pid):
    with open('/proc/%d/stat' % pid) as f:
        v = f.read().rsplit(')', 1)[1].split()
    return (int(v[11]) + int(v[12])) / TICK


class Redis:
    def __init__(self, tmp):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix='redis-', dir=tmp)
        self.p = subprocess.Popen(['redis-server', '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
                                   '--appendonly', 'no', '--dir', self.dir],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if self.cli('PING') == 'PONG':
                return
            time.sleep(0.05)
        raise RuntimeError('redis-server did not start')

    def cli(self, *args, stdin=None):
        r = subprocess.run(['redis-cli', '-p', str(self.port)] + [str(a) for a in args], input=stdin,
                           capture_output=True, text=True, timeout=600)
        return r.stdout.strip()

    def info(self, field, section='memory'):
        for line in self.cli('INFO', section).splitlines():
            if line.startswith(field + ':'):
                return line.split(':', 1)[1]
        return None

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()


def endpoints():
    return {k: 'tcp://127.0.0.1:%d' % free_port() for k in ('control', 'pages_in', 'pages_out', 'docs_in', 'docs_out')}


def start_broker(bin_dir, redis, crawl, ep, logpath, extra=()):
    argv = [os.path.join(bin_dir, 'zcrawl-broker'), '--redis', 'redis://127.0.0.1:%d' % redis.port, '--crawl', crawl,
            '--control', ep['control'], '--pages-in', ep['pages_in'], '--pages-out', ep['pages_out'],
            '--docs-in', ep['docs_in'], '--docs-out', ep['docs_out'], '--log-level', 'warn'] + list(extra)
    f = open(logpath, 'wb')
    p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    f.close()
    return p


def seed(redis, crawl, urls):
    """RPUSHes urls to the crawl's seeds list through redis-cli --pipe."""
    key = 'zcrawl:{%s}:seeds' % crawl
    lines = []
    for k in range(0, len(urls), 1000):
        chunk = urls[k:k + 1000]
        parts = ['*%d' % (len(chunk) + 2), '$5', 'RPUSH', '$%d' % len(key), key]
        for u in chunk:
            parts += ['$%d' % len(u), u]
        lines.append('\r\n'.join(parts) + '\r\n')
    subprocess.run(['redis-cli', '-p', str(redis.port), '--pipe'], input=''.join(lines), capture_output=True,
                   text=True, timeout=600, check=True)


class FakeStages:
    """A fetcher and a writer in one: every URL of a JOB is answered DONE ok and
    WRITTEN at once, and its slot given back (CREDIT)."""

    def __init__(self, control, credit):
        import zmq
        self.zmq = zmq
        self.ctx = zmq.Context()
        self.f = self.ctx.socket(zmq.DEALER)
        self.w = self.ctx.socket(zmq.DEALER)
        for s, role in ((self.f, b'fetcher'), (self.w, b'writer')):
            s.setsockopt(zmq.LINGER, 0)
            s.connect(control)
            s.send_multipart([b'ZC\x01\x01', role, b'bench-' + role, str(credit if role == b'fetcher' else 0).encode()])
        self.urls = 0
        self.first_job = None
        self.last_hb = time.time()

    def pump(self, seconds):
        zmq = self.zmq
        end = time.time() + seconds
        while time.time() < end:
            if time.time() - self.last_hb > 0.3:
                for s in (self.f, self.w):
                    s.send_multipart([b'ZC\x01\x02'])
                self.last_hb = time.time()
            if not self.f.poll(50):
                continue
            while True:
                try:
                    fr = unpack(self.f.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    break
                if fr[0] == b'ZC\x01\x04' and len(fr) >= 3:  # JOB
                    if self.first_job is None:
                        self.first_job = time.time()
                    urls = fr[1]
                    n = urls.count(b'\n') + 1
                    self.f.send_multipart([b'ZC\x01\x05', urls, b'ok', b'200', b'0', b''])
                    self.w.send_multipart([b'ZC\x01\x09', urls])
                    self.f.send_multipart([b'ZC\x01\x03', str(n).encode()])
                    self.urls += n
            while True:  # the writer's socket gets heartbeats and SHUTDOWN only
                try:
                    self.w.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break

    def close(self):
        self.f.close(0)
        self.w.close(0)
        self.ctx.term()


def many_hosts(cfg, hosts, urls):
    """One run of the many-hosts scenario. Returns a dict of figures."""
    tmp = tempfile.mkdtemp(prefix='zc-fbench-')
    redis = Redis(tmp)
    broker = None
    try:
        crawl = 'hosts%d' % hosts
        base = int(redis.info('used_memory'))
        # Seeds go to the broker through Redis; the URLs are dealt round robin over
        # the hosts so every host has urls/hosts of them.
        seed(redis, crawl, ['http://h%d.example:8080/p/%d' % (i % hosts, i) for i in range(urls)])
        ep = endpoints()
        broker = start_broker(cfg.bin, redis, crawl, ep, os.path.join(tmp, 'broker.log'),
                              extra=['--max-per-host', '2', '--stats-ms', '1000'])
        deadline = time.time() + 600
        while time.time() < deadline:
            w = redis.cli('GET', 'zcrawl:{%s}:waiting' % crawl)
            if w and int(w) >= urls:
                break
            if broker.poll() is not None:
                raise RuntimeError('broker exited %s: %s' % (broker.returncode, open(os.path.join(tmp, 'broker.log')).read()[-2000:]))
            time.sleep(0.2)
        else:
            raise RuntimeError('seeding never finished')
        queued_mem = int(redis.info('used_memory'))
        ready = int(redis.cli('ZCARD', 'zcrawl:{%s}:ready' % crawl))
        # Where the bytes are: MEMORY USAGE of a sample of 200 host queues, of the
        # ready set, and of a sample of 256 seen buckets (of 65536).
        pre = 'zcrawl:{%s}:' % crawl
        q = [int(redis.cli('MEMORY', 'USAGE', pre + 'q:h%d.example:8080' % i, 'SAMPLES', '0') or 0)
             for i in range(0, hosts, max(1, hosts // 200))]
        seen = [int(redis.cli('MEMORY', 'USAGE', pre + 'seen:%04x' % b, 'SAMPLES', '0') or 0)
                for b in range(0, 65536, 256)]
        queue_b = sum(q) / len(q) * hosts / urls
        ready_b = int(redis.cli('MEMORY', 'USAGE', pre + 'ready', 'SAMPLES', '0') or 0) / urls
        seen_b = sum(seen) / len(seen) * 65536 / urls
        redis_pid = redis.p.pid
        b0, r0 = cpu_s(broker.pid), cpu_s(redis_pid)
        fake = FakeStages(ep['control'], cfg.credit)
        t0 = time.time()
        while broker.poll() is None and time.time() - t0 < cfg.timeout:
            fake.pump(0.2)
            b1, r1 = cpu_s(broker.pid), cpu_s(redis_pid)
            if fake.urls >= urls:
                break
        t1 = time.time()
        fake.close()
        if fake.urls < urls:
            raise RuntimeError('only %d of %d URLs dispatched in %ds' % (fake.urls, urls, cfg.timeout))
        wall = t1 - (fake.first_job or t0)
        return dict(hosts=hosts, urls=urls, ready_hosts=ready, wall_s=round(wall, 2),
                    urls_per_s=round(urls / wall), broker_cpu_us_per_url=round((b1 - b0) / urls * 1e6, 1),
                    redis_cpu_us_per_url=round((r1 - r0) / urls * 1e6, 1),
                    redis_bytes_per_url=round((queued_mem - base) / urls, 1),
                    queue_bytes_per_url=round(queue_b, 1), ready_bytes_per_url=round(ready_b, 1),
                    seen_bytes_per_url=round(seen_b, 1))
    finally:
        if broker and broker.poll() is None:
            broker.terminate()
            try:
                broker.wait(10)
            except subprocess.TimeoutExpired:
                broker.kill()
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def sim_stats(port):
    with urllib.request.urlopen('http://127.0.0.1:%d/__stats' % port, timeout=30) as r:
        return json.loads(r.read())


def hol_run(cfg, fast, behind):
    """Seconds for the fast hosts to be crawled whole, alone or behind the slow host."""
    tmp = tempfile.mkdtemp(prefix='zc-fbench-')
    redis = Redis(tmp)
    procs = []
    books = 300
    try:
        port = free_port()
        procs.append(subprocess.Popen([os.path.join(cfg.bin, 'zcrawl-sitesim'), '--port', str(port), '--hosts',
                                       str(1 + fast), '--books', str(books), '--latency-ms', '20', '--slow-hosts', '0',
                                       '--slow-latency-ms', '1000'], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
        time.sleep(0.3)
        url = lambda i: 'http://h%d.localhost:%d/api/book/?limit=%d&offset=0' % (i, port, books)
        crawl = 'hol'
        ep = endpoints()
        if behind:
            seed(redis, crawl, [url(0)])
        else:
            seed(redis, crawl, [url(i) for i in range(1, 1 + fast)])
        procs.append(start_broker(cfg.bin, redis, crawl, ep, os.path.join(tmp, 'broker.log'),
                                  extra=['--max-per-host', '2', '--mode', 'service']))
        env = dict(os.environ, ZCRAWL_ALLOW_PRIVATE='1')
        for argv in ([os.path.join(cfg.bin, 'zcrawl-writer'), '--broker', ep['control'], '--docs', ep['docs_out'],
                      '--out', os.path.join(tmp, 'out.jsonl')],
                     [os.path.join(cfg.bin, 'zcrawl-parser'), '--broker', ep['control'], '--pages', ep['pages_out'],
                      '--docs', ep['docs_in']]) + tuple(
                [os.path.join(cfg.bin, 'zcrawl-fetcher'), '--broker', ep['control'], '--pages', ep['pages_in'],
                 '--concurrency', '64'] for _ in range(2)):
            procs.append(subprocess.Popen(argv + ['--log-level', 'warn'], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, env=env, start_new_session=True))
        t0 = time.time()
        if behind:
            time.sleep(3.5)
            seed(redis, crawl, [url(i) for i in range(1, 1 + fast)])
            t0 = time.time()
        want = books + 1
        while time.time() - t0 < cfg.timeout:
            st = sim_stats(port)['by_host'][1:]
            if all(h['requests'] >= want and h['in_progress'] == 0 for h in st):
                break
            time.sleep(0.05)
        took = time.time() - t0
        st = sim_stats(port)
        return took, st['max_host_in_progress']
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def head_of_line(cfg, fast=3):
    alone, cap1 = hol_run(cfg, fast, behind=False)
    behind, cap2 = hol_run(cfg, fast, behind=True)
    pages = fast * 301
    return dict(fast_hosts=fast, pages=pages, alone_s=round(alone, 2), behind_s=round(behind, 2),
                alone_pages_per_s=round(pages / alone, 1), behind_pages_per_s=round(pages / behind, 1),
                ratio=round(behind / alone, 2), max_per_host=max(cap1, cap2))


SCENARIOS = {
    'hosts10k': lambda cfg: many_hosts(cfg, 10000, 100000),
    'hosts100k': lambda cfg: many_hosts(cfg, 100000, 200000),
    'hol': head_of_line,
}


def run(cfg, keys, out_dir):
    """Runs the frontier scenarios in keys (cfg.repeat times each), writes
    out_dir/frontier.md and .json, returns the rows."""
    rows = []
    for key in keys:
        for rep in range(1, cfg.repeat + 1):
            t = time.time()
            try:
                r = SCENARIOS[key](cfg)
                r.update(scenario=key, repeat=rep, status='ok')
            except Exception as e:  # a failed run is a result, written as such
                r = dict(scenario=key, repeat=rep, status='FAILED', reason=str(e)[:300])
            log('%s rep %d (%.0fs): %s' % (key, rep, time.time() - t, r))
            rows.append(r)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'frontier.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(out_dir, 'frontier.md'), 'w') as f:
        f.write('# Frontier scenarios (bench/frontier_bench.py)\n\nload average at start: %s\n\n' % cfg.loadavg)
        many = [r for r in rows if r['scenario'].startswith('hosts')]
        if many:
            f.write('| hosts | URLs | URLs/s dispatched | broker CPU us/URL | Redis CPU us/URL | Redis bytes/URL queued '
                    '(q:* + ready + seen) | status |\n| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n')
            for r in many:
                f.write('| %s | %s | %s | %s | %s | %s (%s + %s + %s) | %s |\n' % (
                    r.get('hosts', r['scenario']), r.get('urls', '-'), r.get('urls_per_s', '-'),
                    r.get('broker_cpu_us_per_url', '-'), r.get('redis_cpu_us_per_url', '-'),
                    r.get('redis_bytes_per_url', '-'), r.get('queue_bytes_per_url', '-'),
                    r.get('ready_bytes_per_url', '-'), r.get('seen_bytes_per_url', '-'),
                    r['status'] if r['status'] == 'ok' else r.get('reason')))
        hol = [r for r in rows if r['scenario'] == 'hol']
        if hol:
            f.write('\n| fast hosts | pages | alone s | behind the slow host s | alone pages/s | behind pages/s | ratio | max per host | status |\n'
                    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n')
            for r in hol:
                f.write('| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' % (
                    r.get('fast_hosts', '-'), r.get('pages', '-'), r.get('alone_s', '-'), r.get('behind_s', '-'),
                    r.get('alone_pages_per_s', '-'), r.get('behind_pages_per_s', '-'), r.get('ratio', '-'),
                    r.get('max_per_host', '-'), r['status'] if r['status'] == 'ok' else r.get('reason')))
    return rows
