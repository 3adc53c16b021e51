"""test_fetcher.py -- bin/zcrawl-fetcher driven through real ZeroMQ sockets against
real HTTP servers. Python plays the broker: a ROUTER the fetcher's DEALER connects to,
and a PULL for its PAGE messages. The HTTP side is a ThreadingHTTPServer, and for the
1000-connection memory check an asyncio server that holds connections open."""
import asyncio
import functools
import gzip
import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

import pytest
import zmq

from harness import Sitesim, bin_path, free_port, tcp_conns, wait_exit, wait_for
from harness import hdr as header
from harness import unpack

HELLO, HEARTBEAT, CREDIT, JOB, DONE, PAGE, SHUTDOWN = 1, 2, 3, 4, 5, 6, 11
DEFAULT_UA = "zcrawl/0.1 (+https://github.com/zcrawl/zcrawl; polite distributed crawler)"
ASAN = "asan" in os.environ.get("ZCRAWL_BIN", "")
BIG_BODY = b"x" * (4 * 1024 * 1024)
LARGE_PAGE = b"L" * (7 * 1024 * 1024 + 512 * 1024)  # the 7.5 MB pages of issue 11


def _json_like(size, seed=7):
    """size bytes of JSON-looking text that gzip shrinks about as much as a real
    API page (4 to 6 times), not a thousandfold."""
    import random
    rnd = random.Random(seed)
    words = ["title", "author", "price", "isbn", "rating", "stock", "pages", "year"]
    parts, n = [], 0
    while n < size:
        item = '{"id": %d, "%s": "%08x", "%s": %d.%02d},' % (
            rnd.randrange(10 ** 9), rnd.choice(words), rnd.getrandbits(32), rnd.choice(words),
            rnd.randrange(1000), rnd.randrange(100))
        parts.append(item)
        n += len(item)
    return "".join(parts).encode()[:size]


@functools.lru_cache(maxsize=None)
def large_json(gz=False):
    """LARGE_PAGE's size of JSON-like text (gzip'd with gz), made on first use, not
    when every xdist worker collects this file."""
    return gzip.compress(large_json()) if gz else _json_like(len(LARGE_PAGE))


# ---------------------------------------------------------------- HTTP server

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", ctype="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        path, _, query = self.path.partition("?")
        args = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        with srv.lock:
            srv.current += 1
            srv.max_seen = max(srv.max_seen, srv.current)
            srv.hits[path] = srv.hits.get(path, 0) + 1
            srv.user_agents.add(self.headers.get("User-Agent"))
            srv.accept_encodings.add(self.headers.get("Accept-Encoding"))
        try:
            self.route(path, args)
        finally:
            with srv.lock:
                srv.current -= 1

    def route(self, path, args):
        if path == "/ok":
            self.reply(200, b"<html><body>hello fetcher</body></html>", "text/html; charset=utf-8")
        elif path == "/empty":
            self.reply(200, b"", "application/json")
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self.reply(code, b'{"detail": "x"}', "application/json")
        elif path == "/429":
            self.reply(429, b"slow down", headers=[("Retry-After", "2")])
        elif path == "/503date":
            when = formatdate(time.time() + 5, usegmt=True)
            self.reply(503, b"busy", headers=[("Retry-After", when)])
        elif path == "/gzip":
            raw = ('{"count": 9040, "results": ["%s"]}' % ("\u4e66" * 2000)).encode()
            self.reply(200, gzip.compress(raw), "application/json",
                       headers=[("Content-Encoding", "gzip"), ("X-Raw-Len", str(len(raw)))])
        elif path == "/redirect":
            self.reply(302, b"", headers=[("Location", "/ok")])
        elif path == "/linked":  # two Link headers, as RFC 8288 allows
            self.reply(200, b"[]", "application/json",
                       headers=[("Link", '<http://x/p?page=2>; rel="next"'), ("Link", '<http://x/p?page=9>; rel="last"')])
        elif path == "/slash":  # to the same URL in the crawl's canonical form
            self.reply(301, b"", headers=[("Location", "/slash/")])
        elif path == "/slash/":
            self.reply(200, b"slashed", "text/plain")
        elif path in ("/same", "/same/"):  # a loop between two spellings of one URL
            self.reply(302, b"", headers=[("Location", "/same/" if path == "/same" else "/same")])
        elif path == "/robots.txt":  # by the Host's first label: the server's robots table, else 404
            act = self.server.robots.get(self.headers.get("Host", "").split(".")[0], ("status", 404))
            if act[0] == "redirect":
                self.reply(301, b"", headers=[("Location", act[1])])
            elif act[0] == "body":
                self.reply(200, act[1], "text/plain")
            else:
                self.reply(act[1], b"no robots")
        elif path == "/to":  # a redirect to any Location (?loc=URL-encoded)
            self.reply(int(args.get("code", "302")), b"moved", headers=[("Location", unquote(args["loc"]))])
        elif path.startswith("/chain/"):  # /chain/N redirects N times before a 200
            n = int(path.rsplit("/", 1)[1])
            if n > 0:
                self.reply(301, b"", headers=[("Location", "/chain/%d" % (n - 1))])
            else:
                self.reply(200, b"end of chain", "text/plain")
        elif path == "/ra":  # a 503 with any Retry-After (?v=URL-encoded)
            self.reply(503, b"busy", headers=[("Retry-After", unquote(args["v"]))])
        elif path == "/large":
            self.reply(200, LARGE_PAGE, "application/octet-stream")
        elif path == "/largegz":
            self.reply(200, large_json(gz=True), "application/json", headers=[("Content-Encoding", "gzip")])
        elif path == "/loop":
            self.reply(302, b"", headers=[("Location", "/loop")])
        elif path == "/big":
            self.reply(200, b"y" * int(args.get("n", "300000")))
        elif path == "/huge":
            self.reply(200, BIG_BODY, "application/octet-stream")
        elif path == "/slow":
            time.sleep(int(args.get("ms", "200")) / 1000.0)  # the sleep is the test's: a slow server
            self.reply(200, b'{"slow": true}', "application/json")
        elif path == "/hang":
            self.server.stop.wait(30)
        elif path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"short")
            self.wfile.flush()
            self.close_connection = True
        else:
            self.reply(404, b"nope")


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        pass  # the fetcher hangs up on purpose (timeouts, body too large)


def serve_http():
    srv = HTTPServer(("127.0.0.1", 0), Handler)
    srv.lock = threading.Lock()
    srv.current = srv.max_seen = 0
    srv.hits = {}
    srv.user_agents = set()
    srv.accept_encodings = set()
    srv.robots = {}
    srv.stop = threading.Event()
    srv.port = srv.server_address[1]
    srv.base = "http://127.0.0.1:%d" % srv.port
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return srv


def stop_http(srv):
    srv.stop.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def http():
    srv = serve_http()
    yield srv
    stop_http(srv)


@pytest.fixture
def other_http():
    """A second server: another origin (same host, another port)."""
    srv = serve_http()
    yield srv
    stop_http(srv)


# ---------------------------------------------------------------- fake broker

class Broker:
    """The broker's side of the protocol: a ROUTER for control, a PULL for pages."""

    def __init__(self, heartbeat=True, ipc_dir=None):
        """ipc_dir: bind ipc:// endpoints in that folder (a fetcher in another
        network namespace reaches them) instead of loopback TCP."""
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.linger = 0
        self.pull.rcvhwm = 1
        self.pull.rcvbuf = 65536  # a small TCP window: an unread PULL fills up soon
        if ipc_dir:
            self.endpoint = "ipc://%s/control" % ipc_dir
            self.pages_endpoint = "ipc://%s/pages" % ipc_dir
            self.router.bind(self.endpoint)
            self.pull.bind(self.pages_endpoint)
        else:
            port = self.router.bind_to_random_port("tcp://127.0.0.1")
            self.endpoint = "tcp://127.0.0.1:%d" % port
            port = self.pull.bind_to_random_port("tcp://127.0.0.1")
            self.pages_endpoint = "tcp://127.0.0.1:%d" % port
        self.heartbeat = heartbeat
        self.ident = None
        self.last_hb = 0.0
        self.hellos = []
        self.credits = 0
        self.credit_msgs = 0
        self.done_msgs = 0
        self.dones = []
        self.pages = []
        self.read_pages = True
        self.keep_bodies = True  # False: a page's body frame is replaced by its sha1

    def close(self):
        self.router.close(0)
        self.pull.close(0)
        self.ctx.term()

    def send(self, t, *frames, ident=None):
        ident = ident or self.ident
        self.router.send_multipart([ident, header(t)] + [f if isinstance(f, bytes) else str(f).encode() for f in frames])

    def send_raw(self, frames):
        self.router.send_multipart([self.ident] + frames)

    def job(self, url, attempt=0, proof=b""):
        self.send(JOB, url.encode(), str(attempt).encode(), proof)

    def _beat(self):
        if self.heartbeat and self.ident is not None and time.time() - self.last_hb > 0.3:
            self.send(HEARTBEAT)
            self.last_hb = time.time()

    def pump(self, timeout):
        """Receives for up to timeout seconds; returns after the first batch of messages."""
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        if self.read_pages:
            poller.register(self.pull, zmq.POLLIN)
        self._beat()
        got = 0
        for sock, _ in poller.poll(int(timeout * 1000)):
            while True:
                try:
                    msg = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                msg = unpack(msg) if sock is self.pull else msg[:1] + unpack(msg[1:])
                got += 1
                if sock is self.pull:
                    assert msg[0] == header(PAGE), msg[0]
                    if not self.keep_bodies:  # the body: the 7th frame after the header
                        msg[7] = hashlib.sha1(msg[7]).hexdigest().encode()
                    self.pages.append(msg[1:])
                    continue
                ident, head, rest = msg[0], msg[1], msg[2:]
                assert head[:3] == b"ZC\x01", head
                t = head[3]
                if t == HELLO:
                    self.ident = ident
                    self.hellos.append((ident, rest))
                elif t == CREDIT:
                    assert ident == self.ident
                    self.credits += int(rest[0])
                    self.credit_msgs += 1
                elif t == DONE:  # one URL, or several '\n'-separated sharing the outcome
                    self.done_msgs += 1
                    self.dones.extend([u] + rest[1:] for u in rest[0].split(b"\n"))
                elif t == HEARTBEAT:
                    pass
                else:
                    raise AssertionError("unexpected message type %d" % t)
        return got

    def wait(self, cond, timeout=10.0, what="condition"):
        deadline = time.time() + timeout
        while not cond():
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("timed out waiting for %s (dones=%d pages=%d credits=%d hellos=%d)" % (
                    what, len(self.dones), len(self.pages), self.credits, len(self.hellos)))
            self.pump(min(left, 0.1))

    def wait_hello(self, timeout=10.0):
        n = len(self.hellos)
        self.wait(lambda: len(self.hellos) > n, timeout, "HELLO")
        return self.hellos[-1]

    def done_for(self, url, timeout=10.0):
        key = url.encode()
        self.wait(lambda: any(d[0] == key for d in self.dones), timeout, "DONE for " + url)
        return [d for d in self.dones if d[0] == key][-1]

    def page_for(self, url, timeout=10.0):
        key = url.encode()
        self.wait(lambda: any(p[0] == key for p in self.pages), timeout, "PAGE for " + url)
        return [p for p in self.pages if p[0] == key][-1]

    def settle(self, timeout=10.0):
        """A JOB for a port nobody listens on, then its DONE and its credit: whatever
        the fetcher sent before them (a surplus credit, a late page) has arrived by
        then. Counts one credit and one DONE more; no server sees a request."""
        url = "http://127.0.0.1:%d/settle" % free_port()
        credits = self.credits
        self.job(url)
        self.done_for(url, timeout)
        self.wait(lambda: self.credits > credits, timeout, "the credit of the settling JOB")


@pytest.fixture
def broker():
    b = Broker()
    yield b
    b.close()


_started = []  # (procs, Popen) of the current test


@pytest.fixture(autouse=True)
def fetchers_exit_clean(procs):
    """Every fetcher a test started must stop on SIGTERM with status 0 and a log free
    of sanitizer reports (ASan, UBSan, LeakSanitizer under ZCRAWL_BIN=build/asan/bin)."""
    del _started[:]
    yield
    for _, p in _started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for pr, p in _started:
        rc = wait_exit(p, 20)
        log = pr.log(p)
        assert "Sanitizer" not in log and "runtime error" not in log, log[-4000:]
        assert rc == 0, "fetcher exited %s\n%s" % (rc, log[-4000:])


def start_fetcher(procs, broker, *args, concurrency=8, env=None):
    argv = [bin_path("fetcher"), "--broker", broker.endpoint, "--pages", broker.pages_endpoint,
            "--concurrency", str(concurrency), "--log-level", "debug"] + list(args)
    p = procs.start("fetcher", argv, env=env)
    _started.append((procs, p))
    ident, (role, name, credit) = broker.wait_hello()
    assert role == b"fetcher"
    assert int(credit) == concurrency
    return p


def pss_kb(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return -1


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


# ---------------------------------------------------------------- tests

def test_bad_flag_exits_2_with_one_line():
    import subprocess
    for args in (["--bogus"], ["--concurrency", "0"], ["--concurrency", "x"], ["--log-level", "loud"],
                 ["--broker", "nonsense"], ["--pages", ""], ["--recv-buffer", "100"], ["--timeout-ms"]):
        r = subprocess.run([bin_path("fetcher")] + args, capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (args, r)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("zcrawl-fetcher: error: "), r.stderr
    r = subprocess.run([bin_path("fetcher"), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--concurrency" in r.stdout and "--max-body" in r.stdout


def test_ok_page_and_done(procs, broker, http):
    p = start_fetcher(procs, broker, "--name", "fx1")
    url = http.base + "/ok"
    before = int(time.time() * 1000)
    broker.job(url, 0, b"0:0123456789abcdef0123456789abcdef")
    page = broker.page_for(url)
    assert len(page) == 9
    u, final, status, ctype, fetched_at, total_ms, body, link, proof = page
    assert u == url.encode() and final == url.encode()
    assert link == b"" and proof == b"0:0123456789abcdef0123456789abcdef"  # the JOB's proof, echoed
    assert status == b"200"
    assert ctype == b"text/html; charset=utf-8"
    assert before - 1000 <= int(fetched_at) <= int(time.time() * 1000) + 1000
    assert 0 <= int(total_ms) < 5000
    assert body == b"<html><body>hello fetcher</body></html>"
    done = broker.done_for(url)
    assert done == [url.encode(), b"ok", b"200", b"0", b""]
    broker.wait(lambda: broker.credits == 1, 5, "CREDIT 1")
    assert http.user_agents == {DEFAULT_UA}
    assert p.poll() is None


def test_link_headers_go_with_the_page(procs, broker, http):
    """PAGE's link frame: the response's Link headers, two joined by ", " (issue 24)."""
    start_fetcher(procs, broker)
    url = http.base + "/linked"
    broker.job(url, 0)
    page = broker.page_for(url)
    assert page[7] == b'<http://x/p?page=2>; rel="next", <http://x/p?page=9>; rel="last"', page[7]


def test_outcomes(procs, broker, http):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    start_fetcher(procs, broker, "--timeout-ms", "1500", "--max-body", "100000", concurrency=16)
    b = http.base
    cases = {
        b + "/status/500": (b"retry", b"500", b"0", b"http 500"),
        b + "/status/503": (b"retry", b"503", b"0", b"http 503"),
        b + "/status/408": (b"retry", b"408", b"0", b"http 408"),
        b + "/429": (b"retry", b"429", b"2000", b"http 429"),
        b + "/status/404": (b"fail", b"404", b"0", b"http 404"),
        b + "/status/410": (b"fail", b"410", b"0", b"http 410"),
        b + "/status/403": (b"fail", b"403", b"0", b"http 403"),
        b + "/loop": (b"fail", b"302", b"0", b"too many redirects (5)"),
        b + "/big?n=300000": (b"fail", b"200", b"0", b"body too large"),
        b + "/truncated": (b"retry", b"200", b"0", b"curl: Transferred a partial file"),
        "http://127.0.0.1:%d/refused" % dead_port: (b"retry", b"0", b"0", b"curl: Couldn't connect to server"),
        "ftp://127.0.0.1/x": (b"fail", b"0", b"0", None),
        "file:///etc/passwd": (b"fail", b"0", b"0", b"curl: Unsupported protocol"),
    }
    t0 = time.time()
    hang = b + "/hang"
    broker.job(hang, 3)
    for url in cases:
        broker.job(url, 1)
    broker.job(b + "/503date", 0)
    for url, (outcome, status, retry_after, reason) in cases.items():
        d = broker.done_for(url)
        assert d[1] == outcome and d[2] == status and d[3] == retry_after, (url, d)
        if reason is not None:
            assert d[4] == reason, (url, d)
        else:
            assert d[4].startswith(b"curl: "), (url, d)
    d = broker.done_for(b + "/503date")
    assert d[1] == b"retry" and d[2] == b"503" and 2000 <= int(d[3]) <= 6000, d
    d = broker.done_for(hang, timeout=10)
    elapsed = time.time() - t0
    assert d[1:] == [b"retry", b"0", b"0", b"curl: Timeout was reached"], d
    assert 1.0 <= elapsed < 5.0, elapsed
    jobs = len(cases) + 2
    broker.wait(lambda: broker.credits == jobs, 5, "credits for every job")
    broker.settle()
    assert broker.credits == jobs + 1  # and the settling JOB's
    assert broker.pages == []  # only 2xx bodies go downstream


def test_gzip_and_redirect(procs, broker, http):
    start_fetcher(procs, broker)
    gz, red, empty = http.base + "/gzip", http.base + "/redirect", http.base + "/empty"
    for u in (gz, red, empty):
        broker.job(u)
    page = broker.page_for(gz)
    body = page[6]
    assert body.decode("utf-8").startswith('{"count": 9040')
    assert len(body) == len(('{"count": 9040, "results": ["%s"]}' % ("\u4e66" * 2000)).encode())
    assert page[3] == b"application/json"
    assert any(e and "gzip" in e for e in http.accept_encodings)
    assert broker.done_for(red)[1:] == [b"redirect", b"302", b"0", (http.base + "/ok").encode()]
    page = broker.page_for(empty)
    assert page[6] == b"" and page[3] == b"application/json"
    broker.wait(lambda: broker.credits == 3, 5, "3 credits")
    assert "/ok" not in http.hits


def test_redirect_within_origin_goes_to_the_broker(procs, broker, http):
    """Issue 22: a redirect to another URL of the same origin (relative or absolute
    Location) ends with DONE redirect and the target, which the broker queues like
    a discovered URL (scope, dedup, robots.txt, the host's rate and cap); the
    fetcher requests nothing more. Only a target that is the job URL itself in the
    crawl's canonical form (here a trailing slash), which the broker would drop
    as seen, is followed, at most --max-redirs hops; the PAGE's final_url is the
    URL the body came from."""
    start_fetcher(procs, broker, "--max-redirs", "3")
    b = http.base
    three, slash, same = b + "/chain/3", b + "/slash", b + "/same"
    absolute = b + "/to?code=307&loc=" + quote(b + "/ok?b=2&a=1", safe="")
    for u in (three, absolute, slash, same):
        broker.job(u)
    assert broker.done_for(three)[1:] == [b"redirect", b"301", b"0", (b + "/chain/2").encode()]
    # the target as the broker keys it: the canonical form
    assert broker.done_for(absolute)[1:] == [b"redirect", b"307", b"0", (b + "/ok?a=1&b=2").encode()]
    page = broker.page_for(slash)
    assert page[0] == slash.encode() and page[1] == (b + "/slash/").encode() and page[6] == b"slashed", page
    assert broker.done_for(slash)[1:3] == [b"ok", b"200"]
    assert broker.done_for(same)[1:] == [b"fail", b"302", b"0", b"too many redirects (3)"]
    broker.wait(lambda: broker.credits == 4, 5, "4 credits")
    assert http.hits == {"/chain/3": 1, "/to": 1, "/slash": 1, "/slash/": 1, "/same": 2, "/same/": 2}, http.hits


def test_redirect_to_another_origin_is_reported_not_followed(procs, broker, http, other_http):
    """Issue 12: a page redirecting to another port, another host or another
    scheme (file://, ftp://, https on the same host) ends with DONE redirect,
    status = the 3xx, reason = the absolute target; nothing else receives a
    request and no PAGE goes downstream."""
    start_fetcher(procs, broker)
    b = http.base
    targets = {
        "port": other_http.base + "/ok?secret=1",                        # another port: an internal service
        "host": "http://internal.localhost:%d/ok" % other_http.port,   # another host name
        "file": "file:///etc/passwd",
        "ftp": "ftp://127.0.0.1:%d/x" % other_http.port,
        "https": "https://127.0.0.1:%d/ok" % http.port,                # another scheme, same host and port
    }
    jobs = {}
    for name, target in targets.items():
        jobs[name] = b + "/to?name=%s&loc=%s" % (name, quote(target, safe=""))
        broker.job(jobs[name])
    rel = b + "/to?code=301&loc=" + quote("//internal.localhost:%d/ok" % other_http.port, safe="")
    broker.job(rel)
    for name, target in targets.items():
        d = broker.done_for(jobs[name])
        assert d[1:] == [b"redirect", b"302", b"0", target.encode()], (name, d)
    d = broker.done_for(rel)
    assert d[1:] == [b"redirect", b"301", b"0", ("http://internal.localhost:%d/ok" % other_http.port).encode()], d
    broker.wait(lambda: broker.credits == len(targets) + 1, 5, "credits")
    broker.settle()
    assert other_http.hits == {}, other_http.hits
    assert broker.pages == []
    assert set(http.hits) == {"/to"}


# ---------------------------------------------------------------- robots.txt

def test_robots_redirects_are_followed_across_origins(procs, broker, http, other_http):
    """Issue 22, RFC 9309 2.3.1.2: the broker's robots.txt request follows
    redirects itself, to other origins too, at most five hops, and answers DONE
    robots_txt with the final status and body; a sixth hop, or a target that is not
    http(s), makes robots.txt unavailable: the 3xx and no body. No PAGE."""
    start_fetcher(procs, broker)
    a = "http://a.localhost:%d/robots.txt" % http.port
    c = "http://c.localhost:%d/robots.txt" % http.port
    f = "http://f.localhost:%d/robots.txt" % http.port
    # a -> b (another origin) -> /chain/3 -> 2 -> 1 -> 0: five hops
    http.robots["a"] = ("redirect", "http://b.localhost:%d/robots.txt" % other_http.port)
    other_http.robots["b"] = ("redirect", "/chain/3")
    http.robots["c"] = ("redirect", "/chain/5")  # six hops
    http.robots["f"] = ("redirect", "file:///etc/passwd")
    for u in (a, c, f):
        broker.job(u)
    assert broker.done_for(a)[1:] == [b"robots_txt", b"200", b"0", b"end of chain"]
    assert broker.done_for(c)[1:] == [b"robots_txt", b"301", b"0", b""]
    assert broker.done_for(f)[1:] == [b"robots_txt", b"301", b"0", b""]
    broker.wait(lambda: broker.credits == 3, 5, "3 credits")
    assert other_http.hits == {"/robots.txt": 1, "/chain/3": 1, "/chain/2": 1, "/chain/1": 1, "/chain/0": 1}
    assert http.hits["/chain/1"] == 1 and "/chain/0" not in http.hits, http.hits
    assert broker.pages == []


def test_robots_larger_than_max_body_gives_its_first_500_kib(procs, broker, http):
    """Issue 22, RFC 9309 2.5: a robots.txt over --max-body is not "body too
    large" (which the broker read as no robots.txt: allow all) but its first
    500 KiB, cut after the last whole line; one under 500 KiB comes whole."""
    start_fetcher(procs, broker, "--max-body", "65536")
    line = b"Disallow: /" + b"x" * 88 + b"\n"
    big = b"User-agent: *\nDisallow: /a\n" + line * 7000  # 700 KB
    mid = b"User-agent: *\n" + line * 2000  # 200 KB
    http.robots["big"], http.robots["mid"] = ("body", big), ("body", mid)
    ub, um = ("http://%s.localhost:%d/robots.txt" % (h, http.port) for h in ("big", "mid"))
    broker.job(ub)
    broker.job(um)
    want = big[:500 * 1024]
    want = want[:want.rindex(b"\n") + 1]
    d = broker.done_for(ub)
    assert d[1:4] == [b"robots_txt", b"200", b"0"] and len(d[4]) == len(want) and d[4] == want, (d[1:4], len(d[4]))
    d = broker.done_for(um)
    assert d[1:4] == [b"robots_txt", b"200", b"0"] and d[4] == mid, (d[1:4], len(d[4]))
    broker.wait(lambda: broker.credits == 2, 5, "2 credits")


def test_retry_after_from_libcurl_is_capped(procs, broker, http):
    """Retry-After (seconds or an HTTP-date) comes from CURLINFO_RETRY_AFTER and
    is capped by --max-retry-after-ms: `Retry-After: 100000` must not park a URL
    for a day (issue 11)."""
    start_fetcher(procs, broker)  # the default cap: 10 min
    b = http.base
    cases = {
        "100000": 600000,                       # capped at 10 min
        "120": 120000,
        "0": 0,
        "soon": 0,                              # unparsable
        "-5": 0,
        formatdate(time.time() + 30, usegmt=True): (25000, 31000),
        formatdate(time.time() + 86400 * 3, usegmt=True): 600000,
        formatdate(time.time() - 60, usegmt=True): 0,  # in the past
    }
    urls = {}
    for i, v in enumerate(cases):
        urls[v] = b + "/ra?i=%d&v=%s" % (i, quote(v, safe=""))
        broker.job(urls[v])
    for v, want in cases.items():
        d = broker.done_for(urls[v])
        assert d[1:3] == [b"retry", b"503"], (v, d)
        got = int(d[3])
        if isinstance(want, tuple):
            assert want[0] <= got <= want[1], (v, got)
        else:
            assert got == want, (v, got)


def test_retry_after_cap_flag(procs, broker, http):
    start_fetcher(procs, broker, "--max-retry-after-ms", "5000")
    u = http.base + "/ra?v=100000"
    broker.job(u)
    assert broker.done_for(u)[1:4] == [b"retry", b"503", b"5000"]


# ---------------------------------------------------------------- SSRF guard

GUARD_ON = {"ZCRAWL_ALLOW_PRIVATE": "0"}


def test_guard_refuses_loopback_and_private(procs, broker, http):
    """Without --allow-private, no connection is made to a loopback, private or
    other special address, whatever the URL spells: the job ends as a dead letter
    (fail, "blocked address IP"), and the server never sees a connection."""
    p = start_fetcher(procs, broker, env=GUARD_ON, concurrency=16)
    port = http.port
    cases = {
        "http://127.0.0.1:%d/ok" % port: "127.0.0.1",
        "http://localhost:%d/ok" % port: None,          # 127.0.0.1 or ::1, by libcurl's choice
        "http://site.localhost:%d/ok" % port: None,     # a name that resolves to loopback
        "http://127.1:%d/ok" % port: "127.0.0.1",       # shorthand IPv4
        "http://2130706433:%d/ok" % port: "127.0.0.1",  # 127.0.0.1 as one number
        "http://[::1]:%d/ok" % port: "::1",
        "http://[::ffff:127.0.0.1]:%d/ok" % port: None,  # v4-mapped
        "http://0.0.0.0:%d/ok" % port: "0.0.0.0",
        "http://10.255.255.1:%d/ok" % port: "10.255.255.1",
        "http://169.254.169.254/latest/meta-data/": "169.254.169.254",
        "http://[fd00::1]:%d/ok" % port: "fd00::1",
        "http://100.64.0.1:%d/ok" % port: "100.64.0.1",
    }
    for u in cases:
        broker.job(u)
    for u, ip in cases.items():
        d = broker.done_for(u)
        assert d[1:3] == [b"fail", b"0"], (u, d)
        assert d[4].startswith(b"blocked address "), (u, d)
        if ip:
            assert d[4] == ("blocked address " + ip).encode(), (u, d)
    broker.wait(lambda: broker.credits == len(cases), 5, "credits")
    assert http.hits == {} and broker.pages == []
    assert "guard=on" in procs.log(p)


def test_guard_off_with_allow_private(procs, broker, http):
    start_fetcher(procs, broker, "--allow-private", env=GUARD_ON)
    u = http.base + "/ok"
    broker.job(u)
    assert broker.done_for(u)[1] == b"ok"


def test_guard_applies_to_redirect_hops(procs, broker, http):
    """A same-origin redirect opens no new connection to anything the guard would
    refuse: with the guard on the first hop is already refused, and the
    redirect's target is never requested."""
    start_fetcher(procs, broker, env=GUARD_ON)
    u = "http://localhost:%d/chain/2" % http.port
    broker.job(u)
    d = broker.done_for(u)
    assert d[1] == b"fail" and d[4].startswith(b"blocked address "), d
    assert http.hits == {}



# ---------------------------------------------------------------- a host of its own

PUBLIC = "1.2.3.4"  # what the guard takes for public; inside the namespace only


def netns_ok():
    r = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True, timeout=10)
    return r.returncode == 0, r.stderr.strip()


class NetnsFetcher:
    """A fetcher in a network namespace of its own (tests/integration/netns_host.py),
    with loopback and PUBLIC on its lo and the given HTTP servers on them; the
    test's Broker listens on ipc:// in tmp. logs(name) is what a server received."""

    def __init__(self, procs, tmp, servers, args=(), env=None, concurrency=8):
        ok, why = netns_ok()
        if not ok:
            pytest.skip("LOUD SKIP: cannot make a network namespace (unshare -rn: %s); "
                        "this test needs unprivileged user namespaces or root" % why)
        self.tmp = str(tmp)
        self.servers = servers
        self.broker = Broker(ipc_dir=self.tmp)
        argv = [bin_path("fetcher"), "--broker", self.broker.endpoint, "--pages", self.broker.pages_endpoint,
                "--concurrency", str(concurrency), "--log-level", "debug"] + list(args)
        spec = {"addr": PUBLIC, "dir": self.tmp, "servers": servers, "argv": argv}
        with open(os.path.join(self.tmp, "spec.json"), "w") as f:
            json.dump(spec, f)
        here = os.path.dirname(os.path.abspath(__file__))
        self.p = procs.start("fetcher-netns", ["unshare", "-rn", "/usr/bin/python3",
                                               os.path.join(here, "netns_host.py"),
                                               os.path.join(self.tmp, "spec.json")], env=env)
        _started.append((procs, self.p))
        ready = os.path.join(self.tmp, "ready.json")
        wait_for(lambda: os.path.exists(ready) or self.p.poll() is not None, 20, "the namespace's servers")
        assert self.p.poll() is None, procs.log(self.p)
        with open(ready) as f:
            self.ports = json.load(f)
        ident, (role, name, credit) = self.broker.wait_hello()
        assert role == b"fetcher"

    def url(self, server, path):
        return "http://%s:%d%s" % (self.servers[server]["bind"], self.ports[server], path)

    def logs(self, name):
        path = os.path.join(self.tmp, name + ".log")
        return open(path).read().splitlines() if os.path.exists(path) else []

    def close(self):
        self.broker.close()


def test_proxy_from_the_environment_is_ignored(procs, tmp_path):
    """Issue 22: libcurl takes a proxy from http_proxy, HTTPS_PROXY, ALL_PROXY
    unless told otherwise, and behind a proxy the guard sees only the proxy's
    address. A fetcher whose environment names a proxy on a public address, with
    the guard on: a JOB to a loopback target is refused as blocked (nothing reaches
    the proxy or the target), a JOB to a public site goes straight to it, and the
    log says the variables were ignored."""
    servers = {"proxy": {"bind": PUBLIC}, "site": {"bind": PUBLIC}, "target": {"bind": "127.0.0.1"}}
    # The namespace is the test's alone: the proxy's port can be fixed before it runs.
    servers["proxy"]["port"] = 3128
    env = dict(GUARD_ON, http_proxy="http://%s:3128" % PUBLIC, HTTPS_PROXY="http://%s:3128" % PUBLIC,
               ALL_PROXY="http://%s:3128" % PUBLIC)
    nf = None
    try:
        nf = NetnsFetcher(procs, tmp_path, servers, env=env)
        b = nf.broker
        target, site = nf.url("target", "/ok"), nf.url("site", "/ok")
        b.job(target)
        b.job(site)
        d = b.done_for(target)
        assert d[1:] == [b"fail", b"0", b"0", b"blocked address 127.0.0.1"], d
        page = b.page_for(site)
        assert page[2] == b"200" and page[6] == b"site", page
        assert nf.logs("proxy") == [] and nf.logs("target") == [], (nf.logs("proxy"), nf.logs("target"))
        assert nf.logs("site") == ["GET /ok %s:%d" % (PUBLIC, nf.ports["site"])], nf.logs("site")
        log = procs.log(nf.p)
        assert "event=proxy_env_ignored" in log and "vars=https_proxy" not in log, log[-3000:]
        assert "HTTPS_PROXY" in log and "ALL_PROXY" in log and "guard=on" in log, log[-3000:]
    finally:
        if nf:
            nf.p.send_signal(signal.SIGTERM)
            wait_exit(nf.p, 20)
            nf.close()


def test_robots_redirect_hops_go_through_the_guard(procs, tmp_path):
    """Issue 22: each hop of a robots.txt redirect connects through the address
    guard. With the guard on: a site's robots.txt redirecting to a loopback
    address makes robots.txt unavailable (the 3xx, no body) and nothing reaches
    loopback; one redirecting to another public site is followed."""
    servers = {"site": {"bind": PUBLIC, "port": 8081,
                        "routes": {"/robots.txt": [301, "http://127.0.0.1:8083/robots.txt"]}},
               "other": {"bind": PUBLIC, "port": 8082,
                         "routes": {"/robots.txt": [302, "http://%s:8081/rules" % PUBLIC],
                                    }},
               "inside": {"bind": "127.0.0.1", "port": 8083}}
    servers["site"]["routes"]["/rules"] = [200, "User-agent: *\nDisallow: /x\n"]
    nf = None
    try:
        nf = NetnsFetcher(procs, tmp_path, servers, env=GUARD_ON)
        b = nf.broker
        site, other = nf.url("site", "/robots.txt"), nf.url("other", "/robots.txt")
        b.job(site)
        b.job(other)
        assert b.done_for(site)[1:] == [b"robots_txt", b"301", b"0", b""]
        assert b.done_for(other)[1:] == [b"robots_txt", b"200", b"0", b"User-agent: *\nDisallow: /x\n"]
        assert nf.logs("inside") == [], nf.logs("inside")
        assert "event=blocked ip=127.0.0.1" in procs.log(nf.p)
    finally:
        if nf:
            nf.p.send_signal(signal.SIGTERM)
            wait_exit(nf.p, 20)
            nf.close()


@pytest.mark.serial  # how many transfers really run at once
def test_concurrency_cap_with_credit(procs, broker, http):
    conc, total = 50, 200
    start_fetcher(procs, broker, concurrency=conc)
    credit = conc
    sent = 0
    t0 = time.time()
    while len(broker.dones) < total:
        while credit > 0 and sent < total:
            broker.job(http.base + "/slow?ms=150&i=%d" % sent)
            sent += 1
            credit -= 1
        before = broker.credits
        broker.pump(0.5)
        credit += broker.credits - before
        assert time.time() - t0 < 30, "too slow: %d dones" % len(broker.dones)
    assert all(d[1] == b"ok" for d in broker.dones)
    broker.wait(lambda: len(broker.pages) == total, 5, "all pages")
    assert http.max_seen <= conc, http.max_seen
    assert http.max_seen >= conc * 0.8, http.max_seen  # really ran in parallel
    broker.wait(lambda: broker.credits == total, 5, "all credits")
    assert broker.credit_msgs < total  # batched, not one per transfer
    assert broker.done_msgs < total  # ok answers of one turn share a DONE
    print("\nconcurrency: max in server %d of %d; %d credits in %d CREDIT messages; %d DONE messages; %.2fs" % (
        http.max_seen, conc, broker.credits, broker.credit_msgs, broker.done_msgs, time.time() - t0))


def test_over_credit_job_is_refused(procs, broker, http):
    start_fetcher(procs, broker, concurrency=2)
    urls = [http.base + "/slow?ms=500&i=%d" % i for i in range(3)]
    for u in urls:
        broker.job(u)
    d = broker.done_for(urls[2], timeout=2)
    assert d[1:] == [b"retry", b"0", b"0", b"fetcher over credit"]
    for u in urls[:2]:
        assert broker.done_for(u)[1] == b"ok"
    broker.wait(lambda: broker.credits == 2, 5, "2 credits")
    broker.settle()
    assert broker.credits == 2 + 1  # and the settling JOB's


def test_garbage_does_not_kill_it(procs, broker, http):
    p = start_fetcher(procs, broker)
    garbage = [
        [b"hello"],
        [b"ZC"],
        [b"ZC\x02\x04", b"u", b"0"],               # other version
        [b"ZC\x01\x63"],                            # unknown type
        [b"ZC\x01\x04", b"only-url"],               # JOB with too few frames
        [b"ZC\x01\x04", b"u", b"0", b"extra"],      # too many
        [b"ZC\x01\x04", b"http://x/", b"abc"],      # attempt not a number
        [b"ZC\x01\x04", b"http://x/\nhttp://y/", b"0"],  # two urls, one attempt
        [b"ZC\x01\x04", b"http://x/", b"0\n"],      # one url, an empty second attempt
        header(CREDIT) + b"", ]
    garbage[-1] = [header(CREDIT), b"5"]            # a type the fetcher never takes
    for g in garbage:
        broker.send_raw(g)
    broker.send_raw([b""] * 12)
    url = http.base + "/ok"
    broker.job(url)
    assert broker.done_for(url)[1] == b"ok"
    assert broker.page_for(url)[6].startswith(b"<html>")
    bad_url = "http://exa mple.com/\x01"
    broker.job(bad_url)
    assert broker.done_for(bad_url)[1] in (b"fail", b"retry")
    assert p.poll() is None
    broker.send(SHUTDOWN)
    assert wait_exit(p) == 0
    log = procs.log(p)
    assert log.count("event=bad_message") >= len(garbage)


def test_job_batch(procs, broker, http):
    """One JOB may carry several URLs ('\n'-separated, with as many attempts): each is
    fetched, and each gets its own answer even when answers share a DONE."""
    start_fetcher(procs, broker, concurrency=8)
    urls = [http.base + "/ok?b=%d" % i for i in range(6)] + [http.base + "/status/404"]
    broker.send(JOB, "\n".join(urls).encode(), "\n".join(["0"] * 6 + ["2"]).encode())
    for u in urls[:6]:
        assert broker.done_for(u)[1:3] == [b"ok", b"200"]
        assert broker.page_for(u)[0] == u.encode()
    assert broker.done_for(urls[6])[1:3] == [b"fail", b"404"]
    broker.wait(lambda: broker.credits == 7, 5, "7 credits")
    assert len(broker.dones) == 7


def test_shutdown_drains_in_flight(procs, broker, http):
    p = start_fetcher(procs, broker, "--drain-ms", "3000")
    url = http.base + "/slow?ms=400"
    broker.job(url)
    broker.wait(lambda: http.hits.get("/slow", 0) == 1, 5, "request in server")
    broker.send(SHUTDOWN)
    late = http.base + "/ok?late"
    broker.wait(lambda: "event=draining" in procs.log(p), 5, "the fetcher to start draining")
    broker.job(late)  # after SHUTDOWN: refused, not fetched
    assert broker.done_for(url)[1] == b"ok"
    assert broker.page_for(url)[2] == b"200"
    assert broker.done_for(late)[1:] == [b"retry", b"0", b"0", b"shutdown"]
    assert wait_exit(p, 10) == 0
    assert http.hits.get("/ok", 0) == 0


def test_shutdown_gives_up_after_drain_ms(procs, broker, http):
    p = start_fetcher(procs, broker, "--drain-ms", "500")
    url = http.base + "/hang"
    broker.job(url)
    broker.wait(lambda: http.hits.get("/hang", 0) == 1, 5, "request in server")
    t0 = time.time()
    broker.send(SHUTDOWN)
    assert broker.done_for(url)[1:] == [b"retry", b"0", b"0", b"shutdown"]
    assert wait_exit(p, 10) == 0
    assert time.time() - t0 < 4


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_0(procs, broker, http, sig):
    p = start_fetcher(procs, broker)
    url = http.base + "/ok"
    broker.job(url)
    broker.done_for(url)
    p.send_signal(sig)
    assert wait_exit(p, 10) == 0
    assert "event=stopped" in procs.log(p)


def test_idle_shutdown_exits_0(procs, broker):
    p = start_fetcher(procs, broker)
    broker.send(SHUTDOWN)
    assert wait_exit(p, 10) == 0


def test_reconnect_hello_carries_free_slots(procs, http):
    b = Broker(heartbeat=False)
    try:
        p = start_fetcher(procs, b, "--heartbeat-ms", "200", "--name", "fx-re", concurrency=5)
        first = b.ident
        b.job(http.base + "/hang")
        # No heartbeats from us: after 3 intervals the fetcher reconnects and says
        # HELLO again with the slots it has free (one transfer still runs).
        ident, (role, name, credit) = b.wait_hello(timeout=5)
        assert ident != first
        assert role == b"fetcher" and name == b"fx-re"
        assert int(credit) == 4
        assert p.poll() is None
    finally:
        b.close()


def test_backpressure_keeps_pages(procs, broker, http):
    """With nobody reading pages, the fetcher keeps them (and its credit) instead of
    dropping them; once pages flow again every one arrives."""
    n = 12
    broker.read_pages = False
    p = start_fetcher(procs, broker, "--pages-hwm", "1", concurrency=n)
    urls = [http.base + "/huge?i=%d" % i for i in range(n)]
    for u in urls:
        broker.job(u)
    broker.wait(lambda: http.hits.get("/huge", 0) == n, 20, "all requests")
    # Every body is in the fetcher: the server wrote them all and the fetcher left
    # nothing unread; what it could not send waits there.
    broker.wait(lambda: http.current == 0 and not any(q for _, q in tcp_conns(p.pid, http.port)), 20,
                "every body read by the fetcher")
    broker.pump(0.2)
    held = n - broker.credits
    oks = len([d for d in broker.dones if d[1] == b"ok"])
    assert oks < n, "every page went out: the pages socket never filled"
    assert held > 0, "credit granted while pages could not be sent"
    assert broker.credits <= oks  # DONE ok only once ZeroMQ took the page
    broker.read_pages = True
    broker.wait(lambda: len(broker.pages) == n and broker.credits == n, 30, "pages to flow")
    assert all(p[6] == BIG_BODY for p in broker.pages)
    assert all(d[1] == b"ok" for d in broker.dones)
    print("\nbackpressure: %d of %d pages queued in the fetcher, %d slots held" % (n - oks, n, held))


@pytest.mark.long
def test_held_page_bytes_are_bounded(procs, broker, http):
    """Issue 11: 60 pages of 7.5 MB with nobody reading pages (a stopped parser)
    took a fetcher to 435 MB. Now the bytes it holds (bodies being received,
    waiting for the pages socket, or queued inside ZeroMQ) stay within
    --max-held-bytes (default 64 MiB) plus one page: transfers pause, credit
    stops. Bound asserted: peak RSS < 64 MiB + 8 MiB (--max-body) + 30 MB for the
    process itself. Once pages flow again, every one arrives whole."""
    n = 60
    large_json(gz=True)  # made before the server answers with it
    broker.read_pages = False
    broker.keep_bodies = False
    p = start_fetcher(procs, broker, "--timeout-ms", "300000", "--log-level", "info", concurrency=64)
    idle = rss_kb(p.pid)
    # A third of them gzip'd (decoded by libcurl). A paused transfer may still hold in
    # libcurl the decoding of one received chunk: recv buffer x the compression ratio
    # (a few times here; a thousandfold "gzip bomb" is only capped by --max-body).
    urls = [http.base + ("/largegz?i=%d" if i % 3 == 0 else "/large?i=%d") % i for i in range(n)]
    for u in urls:
        broker.job(u)
    broker.wait(lambda: http.hits.get("/large", 0) + http.hits.get("/largegz", 0) == n, 30, "all 60 requests")
    peak_seen = 0
    t_end = time.time() + 4
    while time.time() < t_end:
        broker.pump(0.2)
        peak_seen = max(peak_seen, rss_kb(p.pid))
    hwm = rss_kb(p.pid, "VmHWM")
    bound_kb = (64 + 8) * 1024 + 30 * 1024
    print("\nheld pages: fetcher RSS idle %.1f MB, while 60 x 7.5 MB pages wait %.1f MB, peak %.1f MB "
          "(bound %.0f MB)%s" % (idle / 1024, peak_seen / 1024, hwm / 1024, bound_kb / 1024,
                                 " (ASan build)" if ASAN else ""))
    assert broker.credits < n // 2, "credit granted while %d pages wait" % n
    if not ASAN:
        assert hwm < bound_kb, "peak RSS %d kB over the bound %d kB" % (hwm, bound_kb)
    broker.read_pages = True
    broker.wait(lambda: len(broker.pages) == n and len(broker.dones) == n, 120, "all pages")
    want = {hashlib.sha1(LARGE_PAGE).hexdigest().encode(), hashlib.sha1(large_json()).hexdigest().encode()}
    for pg in broker.pages:
        assert pg[6] == hashlib.sha1(large_json() if b"/largegz" in pg[0] else LARGE_PAGE).hexdigest().encode()
    assert {pg[6] for pg in broker.pages} == want
    assert sorted(pg[0] for pg in broker.pages) == sorted(u.encode() for u in urls)
    assert all(d[1] == b"ok" for d in broker.dones)
    broker.wait(lambda: broker.credits == n, 10, "every slot given back")
    assert http.hits["/large"] + http.hits["/largegz"] == n  # nothing fetched twice


@pytest.mark.skipif(not os.access(bin_path("sitesim"), os.X_OK), reason="no bin/zcrawl-sitesim")
def test_against_sitesim(procs, broker):
    """The project's emulator: a list page and every detail page on it come back
    whole and equal to what the emulator serves; 429s from it are retries."""
    sim = Sitesim(procs, "--books", "40", "--latency-ms", "20")
    start_fetcher(procs, broker, concurrency=20)
    broker.job(sim.start_url)
    page = broker.page_for(sim.start_url)
    assert page[2] == b"200" and page[3].startswith(b"application/json")
    listing = json.loads(page[6])
    assert listing["count"] == 40 and len(listing["results"]) == 18
    urls = [sim.base + "/api/book/%s/" % item["id"] for item in listing["results"]]
    for u in urls:
        broker.job(u)
    for u in urls:
        assert broker.done_for(u)[1] == b"ok"
        body = broker.page_for(u)[6]
        assert json.loads(body) == sim.json(u[len(sim.base):])
    broker.wait(lambda: broker.credits == 1 + len(urls), 5, "credits")

    busy = Sitesim(procs, "--books", "40", "--fail-429", "1", "--retry-after", "3")
    u = busy.base + "/api/book/?limit=18&offset=0"
    broker.job(u)
    assert broker.done_for(u)[1:4] == [b"retry", b"429", b"3000"]


# ---------------------------------------------------------------- memory

class HoldServer:
    """An asyncio HTTP server that holds every request until release(). With
    partial set it first sends the headers and half of a 2 KiB body, so that every
    transfer is mid-body (receive and body buffers in use) while held."""

    PART = 1024

    def __init__(self, partial=False):
        self.partial = partial
        self.open = 0
        self.served = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10), "hold server did not start"

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main(ready))
        finally:
            self.loop.close()

    async def _main(self, ready):
        self.released = asyncio.Event()
        self.stopping = asyncio.Event()
        self.tasks = set()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=4096)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        await self.stopping.wait()
        server.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                if self.partial:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: %d\r\n\r\n" % (2 * self.PART) + b"a" * self.PART)
                    await writer.drain()
                    self.open += 1
                    await self.released.wait()
                    writer.write(b"b" * self.PART)
                else:
                    self.open += 1
                    await self.released.wait()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
                self.open -= 1
                await writer.drain()
                self.served += 1
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            pass
        finally:
            writer.close()
            self.tasks.discard(task)

    def release(self):
        self.loop.call_soon_threadsafe(self.released.set)

    def close(self):
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(10)


@pytest.mark.parametrize("partial", [False, True], ids=["waiting", "mid-body"])
def test_rss_with_1000_concurrent_transfers(procs, broker, partial):
    """1000 transfers held open by the server, either before the response
    ("waiting") or halfway through a 2 KiB body ("mid-body"): RSS stays < 30 MB.
    About 13 MB of it is shared library pages (libcurl's TLS/LDAP/GSSAPI stack,
    libzmq, libstdc++) that every process using them shares; PSS is printed too."""
    conc = 1000
    hs = HoldServer(partial)
    try:
        p = start_fetcher(procs, broker, "--log-level", "info", "--timeout-ms", "60000",
                          concurrency=conc)
        idle = rss_kb(p.pid)
        for i in range(conc):
            broker.job("http://127.0.0.1:%d/hold?i=%d" % (hs.port, i))
        broker.wait(lambda: hs.open == conc, 30, "1000 open requests")
        # Mid-body: the fetcher has read every half body the server sent.
        broker.wait(lambda: not any(q for _, q in tcp_conns(p.pid, hs.port)), 10, "every byte sent read")
        broker.pump(0.1)
        held = rss_kb(p.pid)
        pss = pss_kb(p.pid)
        assert len(broker.dones) == 0
        hs.release()
        broker.wait(lambda: len(broker.dones) == conc and len(broker.pages) == conc, 30, "1000 DONEs")
        assert all(d[1] == b"ok" for d in broker.dones)
        want = b"a" * hs.PART + b"b" * hs.PART if partial else b"hello"
        assert all(pg[6] == want for pg in broker.pages)
        peak = rss_kb(p.pid, "VmHWM")
        print("\nfetcher RSS (%s): idle %.1f MB, 1000 transfers held open %.1f MB (PSS %.1f MB), "
              "peak %.1f MB%s" % ("mid-body" if partial else "waiting", idle / 1024, held / 1024,
                                  pss / 1024, peak / 1024, " (ASan build)" if ASAN else ""))
        per = (held - idle) * 1024.0 / conc
        print("per transfer (%s): %.0f bytes" % ("mid-body" if partial else "waiting", per))
        if not ASAN:
            assert held < 30 * 1024, "RSS %d kB with 1000 transfers" % held
            assert peak < 30 * 1024, "peak RSS %d kB" % peak
            if not partial:
                # Measured: 12 661 B; 13 582 B when each easy handle had its own TLS
                # session cache (bench/README.md, scenario 7, has the breakdown). The
                # bound sits between the two, nearer the old figure, so that noise in
                # the new one does not fail it.
                assert per < 13.1 * 1024, "%.0f bytes per waiting transfer" % per
        broker.send(SHUTDOWN)
        assert wait_exit(p, 15) == 0
    finally:
        hs.close()
