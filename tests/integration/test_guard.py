"""test_guard.py -- what a peer on the control socket or a hostile website can
change (issue 12, the broker's part): roles and leases checked, credit capped,
JOBs that are never answered taken back, the crawl's scope, DONE redirect, and
robots.txt.

The attackers are plain pyzmq DEALERs, as an attacker on the network would use;
the crawl around them is real (broker, fetcher, parser, writer, Redis, the
emulator). New broker settings are given through their environment variables,
so that the same test run against an older broker fails on what it checks, not
on an unknown flag."""
import http.server
import json
import os
import re
import socketserver
import subprocess
import threading
import time

import pytest
import zmq

from harness import ControlPeer, Pipeline, Sitesim, assert_once, bin_path, hdr, jsonl_ids, wait_for

HELLO, HEARTBEAT, CREDIT, JOB, DONE, DISCOVERED, DOC, WRITTEN, DEAD, SHUTDOWN, HOLD = 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12


def b(x):
    return x if isinstance(x, bytes) else str(x).encode()


Peer = ControlPeer


def stat(pl, field):
    return int(pl.stats().get(field, "0") or 0)


def books_once(out, want):
    assert_once(jsonl_ids(out), set(want))


@pytest.fixture
def env(monkeypatch):
    """Sets broker settings through the environment (Procs copies it)."""
    def setenv(**kw):
        for k, v in kw.items():
            monkeypatch.setenv(k, str(v))
    return setenv


class Attacker(threading.Thread):
    """Runs fn(peer) in a loop on its own thread until stopped; counts sends."""

    def __init__(self, endpoint, fn, role=None, credit=0, curve=None):
        super().__init__(daemon=True)
        self.endpoint, self.fn, self.role, self.credit, self.curve = endpoint, fn, role, credit, curve
        self.stop = threading.Event()
        self.sent = 0
        self.error = None

    def run(self):
        p = Peer(self.endpoint, self.role, "evil-%s" % (self.role or "nobody"), self.credit, self.curve)
        try:
            while not self.stop.is_set():
                self.sent += self.fn(p)
                p.pump(0.05)
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            p.close()


# ------------------------------------------------------------------ credit and unanswered JOBs

def test_fetcher_with_huge_credit_never_answering_does_not_freeze(procs, redis, env, tmp_path):
    """Mid-crawl, a peer says HELLO as a fetcher with credit 100000, heartbeats and
    never answers a JOB. Its credit is clamped to --max-credit; what it took comes
    back after --job-timeout-ms and its credit goes to 0; the real fetcher
    finishes the crawl with every book once."""
    env(ZCRAWL_JOB_TIMEOUT_MS=3000, ZCRAWL_MAX_CREDIT=500, ZCRAWL_IGNORE_ROBOTS=1)
    sim = Sitesim(procs, "--books", "300", "--latency-ms", "20")
    want = sim.ids()["reachable"]
    out = str(tmp_path / "books.jsonl")
    pl = Pipeline(procs, redis, sim.start_url)
    pl.start_all(fetchers=1, out=out)
    pl.wait_stat("fetched", 5, timeout=30)
    evil = Peer(pl.ep["control"], "fetcher", "greedy", 100000)
    try:
        deadline = time.time() + 90
        while pl.broker.poll() is None and time.time() < deadline:
            evil.pump(0.2)
        assert pl.broker.poll() is not None, "crawl frozen: %d JOBs held by the greedy fetcher; stats %s" % (
            len(evil.jobs()), pl.stats())
        pl.wait_done(timeout=5)
    finally:
        evil.close()
    books_once(out, want)
    # It took what the per-host cap (8) let it, so the site's every slot.
    assert len(evil.jobs()) >= 4, len(evil.jobs())
    log = procs.log(pl.broker)
    assert "event=credit_clamped" in log and "asked=100000 granted=500" in log, log[-2000:]
    assert "event=jobs_unanswered" in log, log[-2000:]
    assert stat(pl, "unanswered") >= 4, pl.stats()


# ------------------------------------------------------------------ reports from the wrong peers

@pytest.mark.parametrize("keys", [False, True], ids=["plain", "leaked-keys"])
def test_reports_from_wrong_peers_change_nothing(procs, redis, env, tmp_path, keys):
    """During a real crawl: a fetcher (HELLO, credit 0) answers DONE fail 404 for
    every book it does not hold; a peer without HELLO sends DONE, WRITTEN and DEAD
    for every book; a parser sends WRITTEN and DONE, a writer DISCOVERED and
    CREDIT. Nothing of it counts: every book is written exactly once, no dead
    letters, nothing gone that the site has, and the refusals are counted. With
    keys, the attackers hold the stages' own listed keys (leaked from a stage's
    host): CURVE lets them in, the role and lease checks still hold."""
    sim = Sitesim(procs, "--books", "300", "--latency-ms", "30")
    ids = sim.ids()
    want = ids["reachable"]
    detail = ["%s/api/book/%s" % (sim.base, i) for i in want]
    out = str(tmp_path / "books.jsonl")
    kargs, curve = [], {}
    if keys:
        import zmq.auth
        kdir = str(tmp_path / "keys")
        r = subprocess.run([bin_path("zcrawl"), "keygen", kdir], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        kargs = ["--keys", kdir]
        server = zmq.auth.load_certificate(os.path.join(kdir, "broker.key"))[0]
        for role in ("fetcher", "parser", "writer"):
            curve[role] = (server,) + zmq.auth.load_certificate(os.path.join(kdir, role + ".key_secret"))
        curve[None] = curve["writer"]
    pl = Pipeline(procs, redis, sim.start_url, broker_args=["--stats-ms", "200"] + kargs)
    pl.start_broker()
    ep = pl.ep["control"]
    chunk = "\n".join(detail)

    def fake_fetcher(p):
        for u in detail:
            p.send(DONE, u, "fail", 404, 0, "gone")
        p.send(DONE, chunk, "ok", 200, 0, "")
        return len(detail) + 1

    def nobody(p):
        p.send(DONE, chunk, "fail", 404, 0, "gone")
        p.send(WRITTEN, chunk)
        for u in detail[:50]:
            p.send(DEAD, u, "parse", "evil")
        p.send(HOLD, chunk)
        return 54

    def parser(p):
        p.send(WRITTEN, chunk)
        p.send(DONE, chunk, "fail", 410, 0, "")
        p.send(CREDIT, 1000)
        return 3

    def writer(p):
        # A writer's DISCOVERED closes a page of documents (docs/PROTOCOL.md): with
        # keys it must carry the page's proof of lease (crawl.secret, beside the
        # keys); without keys nothing tells a writer from a forger.
        if keys:
            p.send(DISCOVERED, sim.start_url, "http://127.0.0.1:1/evil", 1, "0:" + "0" * 32)
            p.send(DISCOVERED, sim.start_url, "http://127.0.0.1:1/evil")
        p.send(DONE, chunk, "fail", 404, 0, "")
        return 3 if keys else 1

    attackers = [Attacker(ep, fake_fetcher, "fetcher", 0, curve.get("fetcher")),
                 Attacker(ep, nobody, None, 0, curve.get(None)),
                 Attacker(ep, parser, "parser", 0, curve.get("parser")),
                 Attacker(ep, writer, "writer", 0, curve.get("writer"))]
    for a in attackers:
        a.start()
    try:
        pl.start_writer(None, out, *kargs)
        pl.start_parser(*kargs)
        pl.start_fetcher(*kargs)
        pl.start_fetcher(*kargs)
        pl.wait_done(timeout=120)
    finally:
        for a in attackers:
            a.stop.set()
        for a in attackers:
            a.join(10)
    for a in attackers:
        assert a.error is None, a.error
        assert a.sent > 0
    books_once(out, want)
    assert pl.dead() == [], pl.dead()[:3]
    gone = set(redis.cli("HKEYS", pl.key("gone")).split())
    assert not gone & set(detail), sorted(gone & set(detail))[:3]
    assert stat(pl, "written") == len(want), pl.stats()
    refused = stat(pl, "refused_messages")
    assert refused >= 100, pl.stats()
    log = procs.log(pl.broker)
    for reason in ("no_hello", "wrong_role", "not_held") + (("unproven",) if keys else ()):
        assert "reason=%s" % reason in log, reason
    # Logged at most once a second per reason, not once per message.
    assert log.count("event=refused") < refused / 10, (log.count("event=refused"), refused)


def test_refused_messages_counted_exactly(procs, redis, env):
    """Broker alone: each refused report is counted once, and a stage that said
    HELLO as one role cannot become another on the same connection."""
    url = "http://127.0.0.1:9/api/book/?limit=18&offset=0"
    env(ZCRAWL_IGNORE_ROBOTS=1)
    pl = Pipeline(procs, redis, url, broker_args=["--stats-ms", "100"])
    pl.start_broker()
    nobody = Peer(pl.ep["control"])
    fetcher = Peer(pl.ep["control"], "fetcher", "f", 0)
    try:
        nobody.send(DONE, url, "fail", 404, 0, "")         # no HELLO
        nobody.send(WRITTEN, url)                          # no HELLO
        nobody.send(DEAD, url, "parse", "x")               # no HELLO
        fetcher.send(WRITTEN, url)                         # wrong role
        fetcher.send(DISCOVERED, url, "http://127.0.0.1:9/api/book/1")  # wrong role
        fetcher.send(DONE, url, "fail", 404, 0, "")        # not held by it
        fetcher.send(HELLO, "writer", "f", 0)              # role change
        fetcher.pump(0.5)
        wait_for(lambda: stat(pl, "refused_messages") >= 7, 10, "7 refusals")
        pl.wait_stats_written()  # counted once: no more in a later write
        assert stat(pl, "refused_messages") == 7, pl.stats()
        assert stat(pl, "gone") == 0 and stat(pl, "written") == 0 and pl.dead() == []
        assert redis.cli("GET", pl.key("waiting")).strip() == "1"
        assert int(pl.stats()["bad_messages"]) == 0
    finally:
        nobody.close()
        fetcher.close()


# ------------------------------------------------------------------ scope

def test_discovered_200000_urls_outside_scope_queue_nothing(procs, redis, env):
    """A parser's DISCOVERED of 200 000 URLs (loopback ports, private and
    link-local addresses, localhost names, file://): for a page that is not
    leased, nothing at all; for a leased one, its lease closes and every URL is
    dropped as out of scope, counted."""
    start = "http://127.0.0.1:9/api/book/?limit=18&offset=0"
    env(ZCRAWL_IGNORE_ROBOTS=1)
    pl = Pipeline(procs, redis, start, broker_args=["--stats-ms", "100"])
    pl.start_broker()
    urls = []
    for i in range(200000):
        k = i % 8
        urls.append(["http://127.0.0.1:%d/x%d" % (1 + i // 8 % 8, i),   # another port
                     "http://localhost:9/api/book/%d" % i,              # another host name
                     "http://10.%d.%d.1/" % (i % 250, i // 250 % 250),
                     "http://169.254.169.254/latest/meta-data/%d" % i,
                     "https://127.0.0.1:9/api/book/%d" % i,             # another scheme
                     "file:///etc/passwd#%d" % i,
                     "http://[::1]:9/api/book/%d" % i,
                     "gopher://127.0.0.1:6379/_%d" % i][k])
    body = "\n".join(urls)
    parser = Peer(pl.ep["control"], "parser", "p")
    fetcher = None
    try:
        parser.send(DISCOVERED, start, body)  # not leased: no fetcher yet
        parser.pump(0.5)
        wait_for(lambda: stat(pl, "not_leased") >= 1, 20, "not_leased counted")
        assert redis.cli("GET", pl.key("waiting")).strip() == "1"
        assert stat(pl, "discovered") == 1  # the start URL alone
        fetcher = Peer(pl.ep["control"], "fetcher", "f", 1)
        wait_for(lambda: (fetcher.pump(0.1), fetcher.jobs())[1], 10, "the start URL's JOB")
        assert fetcher.jobs() == [start]
        fetcher.send(DONE, start, "ok", 200, 0, "")
        fetcher.pump(0.3)
        parser.send(DISCOVERED, start, body)
        parser.pump(0.5)
        wait_for(lambda: pl.broker.poll() is not None, 30, "the crawl's end (stats %s)" % pl.stats())
        assert pl.broker.returncode == 0, procs.log(pl.broker)[-2000:]
    finally:
        parser.close()
        if fetcher:
            fetcher.close()
    st = pl.stats()
    assert int(st["out_of_scope"]) == 200000, st
    assert redis.cli("GET", pl.key("waiting")).strip() in ("0", "")
    assert redis.cli("KEYS", pl.key("q:*")).strip() == ""
    assert int(st.get("discovered", "0") or 0) == 1, st  # the start URL itself
    assert fetcher.jobs() == [start]  # nothing else was ever handed out


def test_done_redirect_scope_and_dedup(procs, redis, env):
    """DONE redirect closes the lease and counts redirected; the target is queued
    like a DISCOVERED of one URL when in scope (here by --allow-host) and not
    seen, dropped and counted when outside (another port, file://, a private
    address). Only the in-scope target is ever handed out."""
    base = "http://127.0.0.1:9/r"
    starts = [base + str(i) for i in range(5)]
    allowed = "http://www.allowed.localhost:8080/book"
    env(ZCRAWL_IGNORE_ROBOTS=1, ZCRAWL_ALLOW_HOST="*.allowed.localhost")
    pl = Pipeline(procs, redis, None, broker_args=["--stats-ms", "100"] + starts)
    pl.start_broker()
    targets = {starts[0]: "http://127.0.0.1:1/elsewhere", starts[1]: "file:///etc/passwd",
               starts[2]: "http://10.0.0.1/admin", starts[3]: allowed, starts[4]: starts[3]}
    f = Peer(pl.ep["control"], "fetcher", "f", 10)
    answered = set()
    try:
        deadline = time.time() + 30
        while pl.broker.poll() is None and time.time() < deadline:
            f.pump(0.1)
            for u in f.jobs():
                if u in answered:
                    continue
                answered.add(u)
                if u in targets:
                    f.send(DONE, u, "redirect", 301, 0, targets[u])
                else:
                    f.send(DONE, u, "fail", 404, 0, "not found")
        assert pl.broker.wait(timeout=5) == 0, procs.log(pl.broker)[-2000:]
    finally:
        f.close()
    st = pl.stats()
    assert sorted(f.jobs()) == sorted(starts + [allowed]), f.jobs()
    assert int(st["redirected"]) == 5, st
    assert int(st["out_of_scope"]) == 3, st
    assert int(st["gone"]) == 1, st
    assert redis.cli("HKEYS", pl.key("gone")).split() == [allowed]


# ------------------------------------------------------------------ robots.txt

class Site:
    """A small book site in Python: robots.txt, one list page and detail pages,
    plus optional redirects. Keeps every request (path, time)."""

    def __init__(self, n=6, robots=None, redirects=None, files=None, status=None):
        """redirects {path: Location} (302), files {path: text} (200), status: every
        request answered with it (a broken proxy)."""
        self.n, self.robots, self.redirects, self.files = n, robots, redirects or {}, files or {}
        self.requests = []
        site = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                site.requests.append((self.path, time.time()))
                if status:
                    return self.answer(status, b"no")
                if self.path in site.files:
                    return self.answer(200, site.files[self.path].encode(), "text/plain")
                if self.path in site.redirects:
                    self.send_response(302)
                    self.send_header("Location", site.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/robots.txt":
                    if site.robots is None:
                        return self.answer(404, b"no robots")
                    return self.answer(200, site.robots.encode(), "text/plain")
                if self.path.startswith("/api/book/?"):
                    res = [{"id": str(i), "name": "b%d" % i} for i in range(1, site.n + 1)]
                    return self.answer(200, json.dumps({"count": site.n, "results": res}).encode())
                if self.path.startswith("/api/book/"):
                    i = self.path.rstrip("/").rsplit("/", 1)[1]
                    doc = {"id": i, "name": "book %s" % i, "authors": ["a"], "translators": [], "publisher": "p",
                           "tags": [], "url": "", "isbn": "x", "cover": "", "page_number": 1, "price": None,
                           "score": None, "introduction": "", "catalog": None, "published_at": None,
                           "updated_at": None, "comments": []}
                    return self.answer(200, json.dumps(doc).encode())
                self.answer(404, b"{}")

            def answer(self, code, body, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def paths(self):
        return [p for p, _ in self.requests]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_forgotten_parser_recalled_by_identity_the_oldest_of_513_not(procs, redis):
    """A parser forgotten for silence is a peer again by its next message on the
    same identity; the broker remembers the last 512 identities that said HELLO,
    so after 512 newer ones the first is forgotten for good (its report is
    refused as from a peer without HELLO) while the newest is still recalled."""
    pl = Pipeline(procs, redis, "http://127.0.0.1:9/a", broker_args=["--heartbeat-ms", "100"])
    pl.start_broker()
    log = lambda: procs.log(pl.broker)  # noqa: E731
    ctx = zmq.Context()

    def dealer(ident):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 2000)
        s.setsockopt(zmq.ROUTING_ID, ident)
        s.connect(pl.ep["control"])
        return s

    def say(s, t, *frames):
        s.send_multipart([hdr(t)] + [b(f) for f in frames])

    first = dealer(b"first-parser")
    try:
        say(first, HELLO, "parser", "first", 0)
        wait_for(lambda: "peer_expired name=first " in log(), 20, "the silent parser forgotten", details=log)
        say(first, HEARTBEAT)
        wait_for(lambda: "peer_recalled name=first" in log(), 20, "the parser recalled", details=log)
        for i in range(512):  # each HELLO is remembered; the 512th pushes out the first
            s = dealer(b"filler-%03d" % i)
            say(s, HELLO, "parser", "filler%03d" % i, 0)
            if i < 511:
                s.close()
        # The newest stays connected (a new connection of the same identity could
        # be refused by the ROUTER while the old one's close is not yet seen).
        last = s
        wait_for(lambda: log().count("event=peer_joined ") >= 513, 60, "513 HELLOs taken", details=log)
        wait_for(lambda: "peer_expired name=first " in log().split("peer_recalled name=first", 1)[1], 20,
                 "the first parser forgotten again", details=log)
        say(first, WRITTEN, "http://127.0.0.1:9/a")
        wait_for(lambda: "reason=no_hello type=WRITTEN" in log(), 20, "the forgotten identity refused",
                 details=log)
        assert log().count("peer_recalled name=first") == 1, log()[-3000:]
        wait_for(lambda: "peer_expired name=filler511 " in log(), 20, "the newest forgotten for silence",
                 details=log)
        say(last, HEARTBEAT)
        wait_for(lambda: "peer_recalled name=filler511" in log(), 20, "the newest identity recalled", details=log)
    finally:
        ctx.destroy(linger=0)  # every socket, whatever failed


def test_robots_via_fake_fetcher(procs, redis):
    """The broker's half of robots.txt, with the fetcher played by the test: the
    origin's robots.txt is the first JOB and nothing else of that origin goes out
    before its answer; Disallow'd URLs end in the excluded hash (not dead
    letters), never handed out; the rules are cached in Redis with a TTL."""
    origin = "http://127.0.0.1:9"
    # A link to robots.txt itself among them: leased, it is answered like the
    # broker's own request (one more request at most), and its lease closes as
    # excluded "robots_txt": it is no page.
    starts = [origin + p for p in ("/a", "/private/b", "/robots.txt", "/c", "/private/d")]
    pl = Pipeline(procs, redis, None, broker_args=["--stats-ms", "100"] + starts)
    pl.start_broker()
    f = Peer(pl.ep["control"], "fetcher", "f", 10)
    try:
        wait_for(lambda: (f.pump(0.1), f.jobs())[1], 10, "a JOB")
        f.pump(0.5)
        assert f.jobs() == [origin + "/robots.txt"], f.jobs()
        rules = "User-agent: *\nDisallow: /\n\nUser-agent: zcrawl\nDisallow: /private\n"
        f.send(DONE, origin + "/robots.txt", "robots_txt", 200, 0, rules)
        answered = set()
        deadline = time.time() + 20
        while pl.broker.poll() is None and time.time() < deadline:
            f.pump(0.1)
            for u in f.jobs()[1:]:
                if u not in answered:
                    answered.add(u)
                    if u.endswith("/robots.txt"):  # as the fetcher answers it
                        f.send(DONE, u, "robots_txt", 200, 0, rules)
                    else:
                        f.send(DONE, u, "fail", 404, 0, "")
        assert pl.broker.wait(timeout=5) == 0, procs.log(pl.broker)[-2000:]
    finally:
        f.close()
    assert sorted(u for u in f.jobs() if not u.endswith("/robots.txt")) == [origin + "/a", origin + "/c"], f.jobs()
    assert 1 <= f.jobs().count(origin + "/robots.txt") <= 2, f.jobs()
    assert redis.hgetall(pl.key("excluded")) == {origin + "/private/b": "robots", origin + "/private/d": "robots",
                                                 origin + "/robots.txt": "robots_txt"}
    st = pl.stats()
    assert int(st["excluded"]) == 3 and pl.dead() == [], st
    key = pl.key("robots:" + origin)
    assert re.match(r"200 \d{13}\n", redis.cli("GET", key)), redis.cli("GET", key)  # status, when fetched
    ttl = int(redis.cli("TTL", key))
    assert 86000 < ttl <= 86400, ttl


def test_robots_rules_older_than_their_ttl_are_fetched_again(procs, redis):
    """RFC 9309 2.4: a cached robots.txt is used for a day at most. A long-running
    broker kept an origin's rules for ever. With --robots-ttl-s 2, URLs of the
    origin parked after the rules aged wait for robots.txt fetched again, and the
    new rules decide: /new (disallowed now) is excluded, /old (disallowed before)
    goes out."""
    origin = "http://127.0.0.1:9"
    pl = Pipeline(procs, redis, None, broker_args=["--stats-ms", "100", "--robots-ttl-s", "2", origin + "/a"])
    pl.start_broker()
    f = Peer(pl.ep["control"], "fetcher", "f", 10)
    p = Peer(pl.ep["control"], "parser", "p", 0)
    try:
        wait_for(lambda: (f.pump(0.1), f.jobs())[1], 10, "robots.txt asked for")
        f.send(DONE, origin + "/robots.txt", "robots_txt", 200, 0, "User-agent: *\nDisallow: /old$\n")
        wait_for(lambda: (f.pump(0.1), len(f.jobs()) >= 2)[1], 10, "the start URL after robots.txt")
        assert f.jobs() == [origin + "/robots.txt", origin + "/a"], f.jobs()
        time.sleep(2.2)  # the sleep is the test's: the rules grow older than --robots-ttl-s
        f.send(DONE, origin + "/a", "ok", 200, 0, "")  # fetched; the parser's DISCOVERED closes it
        p.send(DISCOVERED, origin + "/a", origin + "/new\n" + origin + "/old")
        wait_for(lambda: (f.pump(0.1), p.pump(0), len(f.jobs()) >= 3)[2], 10, "robots.txt asked for again")
        assert f.jobs()[2] == origin + "/robots.txt", f.jobs()
        f.send(DONE, origin + "/robots.txt", "robots_txt", 200, 0, "User-agent: *\nDisallow: /new$\n")
        wait_for(lambda: (f.pump(0.1), p.pump(0), len(f.jobs()) >= 4)[2], 10, "the URL the new rules allow")
        assert f.jobs()[3:] == [origin + "/old"], f.jobs()
        f.send(DONE, origin + "/old", "fail", 404, 0, "")
        wait_for(lambda: (f.pump(0.1), p.pump(0), pl.broker.poll() is not None)[2], 20, "the crawl's end")
    finally:
        f.close()
        p.close()
    assert pl.broker.returncode == 0, procs.log(pl.broker)[-2000:]
    assert redis.hgetall(pl.key("excluded")) == {origin + "/new": "robots"}
    assert "event=robots_expired origin=%s" % origin in procs.log(pl.broker)
    assert re.match(r"200 \d{13}\n", redis.cli("GET", pl.key("robots:" + origin))), "the record says when it was fetched"


def test_robots_unreachable_retried_then_allows_on_404(procs, redis):
    """A 5xx robots.txt is retried later (the origin's URLs wait, nothing is
    excluded); a 404 then allows everything."""
    origin = "http://127.0.0.1:9"
    pl = Pipeline(procs, redis, origin + "/a", broker_args=["--stats-ms", "100", "--retry-base-ms", "300"])
    pl.start_broker()
    f = Peer(pl.ep["control"], "fetcher", "f", 10)
    try:
        wait_for(lambda: (f.pump(0.1), f.jobs())[1], 10, "a JOB")
        f.send(DONE, origin + "/robots.txt", "robots_txt", 503, 0, "")
        wait_for(lambda: (f.pump(0.1), len(f.jobs()) >= 2)[1], 10, "robots.txt asked again")
        assert f.jobs() == [origin + "/robots.txt"] * 2, f.jobs()
        f.send(DONE, origin + "/robots.txt", "fail", 404, 0, "not found")
        wait_for(lambda: (f.pump(0.1), len(f.jobs()) >= 3)[1], 10, "the URL after robots.txt")
        assert f.jobs()[2] == origin + "/a"
        f.send(DONE, origin + "/a", "fail", 404, 0, "")
        assert pl.broker.wait(timeout=10) == 0
    finally:
        f.close()
    assert stat(pl, "excluded") == 0 and stat(pl, "gone") == 1


def test_robots_disallow_and_crawl_delay_real_crawl(procs, redis, tmp_path):
    """The whole pipeline against a site whose robots.txt disallows two books and
    asks for a Crawl-delay of 1 s: those two are excluded and never requested,
    the others written once, and no two requests to the site come less than
    ~1 s apart."""
    site = Site(n=6, robots="User-agent: *\nDisallow: /api/book/3$\nDisallow: /api/book/5$\nCrawl-delay: 1\n")
    out = str(tmp_path / "books.jsonl")
    try:
        pl = Pipeline(procs, redis, site.base + "/api/book/?limit=18&offset=0")
        pl.start_all(fetchers=2, out=out, fetcher_args=["--allow-private"])
        pl.wait_done(timeout=60)
    finally:
        site.close()
    paths = site.paths()
    assert paths[0] == "/robots.txt", paths
    assert "/api/book/3" not in paths and "/api/book/5" not in paths, paths
    books_once(out, ["1", "2", "4", "6"])
    assert redis.hgetall(pl.key("excluded")) == {site.base + "/api/book/3": "robots",
                                                 site.base + "/api/book/5": "robots"}
    times = [t for _, t in site.requests]
    gaps = [b2 - a for a, b2 in zip(times, times[1:])]
    assert min(gaps) > 0.8, gaps


def test_hostile_redirects_reach_nothing_outside_scope(procs, redis, tmp_path):
    """A site whose detail pages redirect to another port, to a private address
    and to file://: nothing outside the scope receives a request, the redirected
    books are counted, the others written."""
    other = Site(n=1)
    site = Site(n=5, redirects={"/api/book/2": other.base + "/api/book/2",
                                "/api/book/3": "http://10.255.255.1/api/book/3",
                                "/api/book/4": "file:///etc/passwd"})
    out = str(tmp_path / "books.jsonl")
    try:
        pl = Pipeline(procs, redis, site.base + "/api/book/?limit=18&offset=0")
        pl.start_all(fetchers=1, out=out, fetcher_args=["--allow-private"])
        pl.wait_done(timeout=60)
    finally:
        site.close()
        other.close()
    assert other.requests == [], other.requests
    books_once(out, ["1", "5"])
    st = pl.stats()
    # file:// has no origin to follow: reported like any other origin, out of scope.
    assert int(st["redirected"]) == 3 and int(st["out_of_scope"]) == 3, st
    assert pl.dead() == [], pl.dead()


def test_launcher_obeys_robots_and_passes_ignore_robots(procs, tmp_path):
    """`zcrawl run` obeys robots.txt by default (a site that disallows everything
    is not crawled; its URL ends excluded) and passes --ignore-robots and
    --allow-host to its broker."""
    site = Site(n=3, robots="User-agent: *\nDisallow: /\n")
    try:
        runs = []
        for extra in ([], ["--ignore-robots", "--allow-host", "*.example.org"]):
            out, logdir = tmp_path / ("b%d.jsonl" % len(runs)), tmp_path / ("logs%d" % len(runs))
            argv = [bin_path("zcrawl"), "run", "--no-progress", "--out", str(out), "--log-dir", str(logdir),
                    "--crawl", "r%d" % len(runs), "--timeout", "60"] + extra + [site.base + "/api/book/?limit=18&offset=0"]
            before = len(site.requests)
            r = subprocess.run(argv, capture_output=True, text=True, timeout=90, cwd=str(tmp_path))
            assert r.returncode == 0, r.stdout + r.stderr
            runs.append((site.paths()[before:], out, logdir))
    finally:
        site.close()
    (obeyed, out0, logs0), (ignored, out1, logs1) = runs
    assert obeyed == ["/robots.txt"], obeyed
    assert not os.path.exists(out0) or jsonl_ids(str(out0)) == []
    assert sorted(ignored) == sorted(["/api/book/?limit=18&offset=0", "/api/book/1", "/api/book/2", "/api/book/3"]), ignored
    books_once(str(out1), ["1", "2", "3"])
    broker_log = open([os.path.join(str(logs1), f) for f in os.listdir(str(logs1)) if f.startswith("broker")][0]).read()
    assert "robots=ignored" in broker_log and "host_patterns=1" in broker_log, broker_log[:2000]


# ------------------------------------------------------------------ issue 22: robots.txt, redirects, proxies

def crawl(tmp_path, start, name, env=None, timeout=90):
    """`zcrawl run` (CURVE on, as by default) of start into NAME.jsonl; returns the
    finished process, the output file and the log folder."""
    out, logdir = str(tmp_path / (name + ".jsonl")), str(tmp_path / ("logs-" + name))
    argv = [bin_path("zcrawl"), "run", "--no-progress", "--out", out, "--log-dir", logdir, "--crawl", name,
            "--timeout", str(timeout - 10), start]
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(tmp_path), env=e)
    return r, out, logdir


def stage_log(logdir, stage):
    return "".join(open(os.path.join(logdir, f)).read() for f in sorted(os.listdir(logdir)) if f.startswith(stage))


def test_robots_redirect_to_another_origin_is_obeyed(tmp_path):
    """RFC 9309 2.3.1.2: a robots.txt answered by a redirect to another origin's
    file (two hops here) is that file: its rules hold for the crawled origin
    (book 2 disallowed, never requested), the other origin is asked for nothing
    else, and every other book is stored once. It was taken as "no robots.txt"."""
    other = Site(n=0, files={"/rules.txt": "User-agent: *\nDisallow: /api/book/2$\n"},
                 redirects={"/moved": "/rules.txt"})
    site = Site(n=4, redirects={"/robots.txt": other.base + "/moved"})
    try:
        r, out, logdir = crawl(tmp_path, site.base + "/api/book/?limit=18&offset=0", "rr")
    finally:
        site.close()
        other.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert other.paths() == ["/moved", "/rules.txt"], other.paths()
    assert "/api/book/2" not in site.paths() and site.paths()[0] == "/robots.txt", site.paths()
    books_once(out, ["1", "3", "4"])


def test_robots_over_max_body_obeys_its_first_500_kib(tmp_path):
    """RFC 9309 2.5: a robots.txt larger than the fetchers' --max-body
    (ZCRAWL_MAX_BODY here) is parsed to its first 500 KiB: a rule near its start
    and one at 300 KB hold, one past 500 KiB does not. It was parsed as empty."""
    filler = "# " + "x" * 97 + "\n"
    rules = ("User-agent: *\nDisallow: /api/book/3$\n" + filler * 3000 + "Disallow: /api/book/5$\n" + filler * 3500 +
             "Disallow: /api/book/6$\n")
    assert 500 * 1024 < rules.index("/api/book/6$") and rules.index("/api/book/5$") < 500 * 1024
    site = Site(n=6, robots=rules)
    try:
        r, out, logdir = crawl(tmp_path, site.base + "/api/book/?limit=18&offset=0", "big",
                               env={"ZCRAWL_MAX_BODY": "65536"})
    finally:
        site.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "/api/book/3" not in site.paths() and "/api/book/5" not in site.paths(), site.paths()
    assert site.paths().count("/robots.txt") == 1, site.paths()
    books_once(out, ["1", "2", "4", "6"])


def test_same_origin_redirects_obey_robots_and_crawl_delay(tmp_path):
    """A redirect to another URL of the same origin is the broker's to queue, so
    robots.txt and the host's rate hold for it: the target robots.txt disallows is
    never requested, the others come a Crawl-delay apart like every request. A
    redirect to the same URL in the crawl's canonical form (a trailing slash) is
    followed by the fetcher at once (the broker would drop it as seen). Each
    book stored once. The fetcher used to follow every same-origin hop itself."""
    site = Site(n=5, robots="User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n",
                redirects={"/api/book/2": "/private/2", "/api/book/3": "/api/book/33", "/api/book/4": "/api/book/4/"})
    try:
        r, out, logdir = crawl(tmp_path, site.base + "/api/book/?limit=18&offset=0", "redir", timeout=120)
    finally:
        site.close()
    assert r.returncode == 0, r.stdout + r.stderr
    paths = site.paths()
    assert not any(p.startswith("/private/") for p in paths), paths
    assert "/api/book/33" in paths and "/api/book/4/" in paths, paths
    books_once(out, ["1", "33", "4", "5"])
    # every request a Crawl-delay after the one before, but the hop the fetcher follows
    times = [t for p, t in site.requests if p != "/api/book/4/"]
    gaps = [b2 - a for a, b2 in zip(times, times[1:])]
    assert min(gaps) > 0.8, list(zip(paths, gaps))


def test_proxy_variables_of_the_environment_are_ignored(tmp_path):
    """Issue 22: http_proxy, HTTPS_PROXY and ALL_PROXY in the environment of a crawl
    (here a proxy that answers 502 to everything) are not used: every request goes
    to the site, every book is stored once, the proxy sees nothing, and the
    fetchers' log says the variables were ignored."""
    proxy = Site(status=502)
    site = Site(n=4)
    env = {v: proxy.base for v in ("http_proxy", "HTTPS_PROXY", "ALL_PROXY")}
    try:
        r, out, logdir = crawl(tmp_path, site.base + "/api/book/?limit=18&offset=0", "proxy", env=env)
    finally:
        site.close()
        proxy.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert proxy.requests == [], proxy.paths()
    books_once(out, ["1", "2", "3", "4"])
    assert "event=proxy_env_ignored" in stage_log(logdir, "fetcher")


def test_launcher_lifts_the_address_guard_only_for_the_origins_named(tmp_path):
    """Issue 22.9: `zcrawl run` of a site on 127.0.0.1 switched the SSRF guard off
    for every origin. Now only the start URL's origin may reach private addresses
    (one line says so): a redirect to another private origin that --allow-host
    puts in scope (internal.localhost) is refused at the connection, that server
    gets no request, and the other books are stored once."""
    internal = Site(n=3)
    site = Site(n=3, redirects={"/api/book/2": "http://internal.localhost:%d/api/book/2" % internal.port})
    try:
        out, logdir = str(tmp_path / "g.jsonl"), str(tmp_path / "logs-g")
        argv = [bin_path("zcrawl"), "run", "--no-progress", "--out", out, "--log-dir", logdir, "--crawl", "g",
                "--timeout", "80", "--allow-host", "*.localhost", site.base + "/api/book/?limit=18&offset=0"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=90, cwd=str(tmp_path))
    finally:
        site.close()
        internal.close()
    assert internal.requests == [], (internal.requests, r.stderr)
    assert "may reach private addresses for %s only" % site.base in r.stderr, r.stderr
    books_once(out, ["1", "3"])
    fetchers = stage_log(logdir, "fetcher")
    assert "event=address_guard_exempt origins=\"%s\"" % site.base in fetchers, fetchers[:3000]
    assert "event=blocked " in fetchers, fetchers[-3000:]
    # The refused URL is a dead letter, so the crawl ends with 1 and says why.
    assert r.returncode == 1, r.stdout + r.stderr
