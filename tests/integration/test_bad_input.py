"""test_bad_input.py -- bad input gets a clear answer, never a crash (issue "Crash
any stage, lose nothing", part "Bad input"). Bad flags and unreachable
dependencies end with one line `zcrawl-X: error: ...`; an unreachable broker is
waited for; garbage ZeroMQ messages on every socket of every stage are logged,
counted, dead-lettered where a URL is known, and the stage goes on working."""
import collections
import os
import re
import signal
import socket
import subprocess
import threading
import time

import bson
import pytest
import zmq

from harness import Pipeline, Sitesim, bin_path, free_port, hdr, jsonl_ids, run, wait_exit, wait_for

HELLO, HEARTBEAT, CREDIT, JOB, DONE, PAGE, DISCOVERED, DOC, WRITTEN, DEAD, SHUTDOWN = range(1, 12)
EXES = ["broker", "fetcher", "parser", "writer", "sitesim", "zcrawl"]


def prog(name):
    return "zcrawl" if name == "zcrawl" else "zcrawl-" + name


def one_error_line(name, r, *mentions):
    lines = r.stderr.splitlines()
    assert len(lines) == 1, "%s: want one line on stderr, got %d:\n%s" % (name, len(lines), r.stderr)
    assert lines[0].startswith(prog(name) + ": error: "), r.stderr
    for m in mentions:
        assert m in lines[0], "%r does not name %r" % (lines[0], m)
    return lines[0]


# ---------------------------------------------------------------- flags

BAD_NUMBER = {
    "broker": ["--max-per-host", "eight"],
    "fetcher": ["--concurrency", "12x"],
    "parser": ["--heartbeat-ms", "1e3"],
    "writer": ["--batch", "lots"],
    "sitesim": ["--fail-500", "often"],
    "zcrawl": ["run", "--fetchers", "two", "http://127.0.0.1:1/"],
}
OUT_OF_RANGE = {
    "broker": ["--lease-ms", "0"],
    "fetcher": ["--concurrency", "0"],
    "parser": ["--max-body", "-1"],
    "writer": ["--batch", "0"],
    "sitesim": ["--books", "-5"],
    "zcrawl": ["run", "--fetchers", "-1", "http://127.0.0.1:1/"],
}
ENV_BAD = {
    "broker": ("ZCRAWL_MAX_PER_HOST", "--max-per-host"),
    "fetcher": ("ZCRAWL_CONCURRENCY", "--concurrency"),
    "parser": ("ZCRAWL_HEARTBEAT_MS", "--heartbeat-ms"),
    "writer": ("ZCRAWL_BATCH", "--batch"),
    "sitesim": ("ZCRAWL_SITESIM_BOOKS", "--books"),
    "zcrawl": ("ZCRAWL_FETCHERS", "--fetchers"),
}


@pytest.mark.parametrize("name", EXES)
def test_unknown_flag(name):
    args = ["run", "--no-such-flag", "http://127.0.0.1:1/"] if name == "zcrawl" else ["--no-such-flag"]
    r = run(name, *args)
    assert r.returncode == 2, r
    one_error_line(name, r, "--no-such-flag")
    assert r.stdout == ""


@pytest.mark.parametrize("name", EXES)
def test_bad_number(name):
    args = BAD_NUMBER[name]
    r = run(name, *args)
    assert r.returncode == 2, r
    flag = [a for a in args if a.startswith("--")][0]
    one_error_line(name, r, flag, args[args.index(flag) + 1])
    assert r.stdout == ""


@pytest.mark.parametrize("name", EXES)
def test_number_out_of_range(name):
    args = OUT_OF_RANGE[name]
    r = run(name, *args)
    assert r.returncode == 2, r
    one_error_line(name, r, [a for a in args if a.startswith("--")][0])


@pytest.mark.parametrize("name", EXES)
def test_bad_number_in_environment(name):
    var, flag = ENV_BAD[name]
    args = ["run", "http://127.0.0.1:1/"] if name == "zcrawl" else []
    r = run(name, *args, env={var: "nine"})
    assert r.returncode == 2, r
    one_error_line(name, r, var, flag)


@pytest.mark.parametrize("name", EXES)
def test_flag_without_value(name):
    args = {"zcrawl": ["run", "--fetchers"], "sitesim": ["--books"]}.get(name, ["--log-level"])
    r = run(name, *args)
    assert r.returncode == 2, r
    one_error_line(name, r, args[-1])


@pytest.mark.parametrize("name", EXES)
def test_help(name):
    r = run(name, "--help")
    assert r.returncode == 0, r
    assert r.stdout.startswith("usage: %s " % prog(name)), r.stdout[:200]
    assert "--help" in r.stdout and "--log-level" in r.stdout
    assert r.stderr == ""


def test_sitesim_fault_rates_over_one():
    r = run("sitesim", "--port", "0", "--fail-500", "0.7", "--fail-429", "0.5")
    assert r.returncode == 2, r
    one_error_line("sitesim", r)


# ---------------------------------------------------------------- dependencies

@pytest.fixture
def plain_redis(procs):
    from harness import Redis
    return Redis(procs)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "not a url", "http://", "http://exa mple.com/",
                                 "/api/book/"])
def test_broker_bad_start_url(plain_redis, url):
    t0 = time.time()
    r = run("broker", "--redis", plain_redis.uri, "--crawl", "badurl", "--control",
            "tcp://127.0.0.1:%d" % free_port(), url)
    assert r.returncode != 0, r
    one_error_line("broker", r, url)
    assert time.time() - t0 < 5


def test_broker_one_bad_start_url_of_several_seeds_nothing(plain_redis):
    """Start URLs are checked before anything starts: one bad one among several
    seeds none of them (the frontier key never appears)."""
    good = ["http://127.0.0.1:1/api/book/?limit=18&offset=%d" % (18 * k) for k in range(3)]
    r = run("broker", "--redis", plain_redis.uri, "--crawl", "badmany", "--control",
            "tcp://127.0.0.1:%d" % free_port(), "--start", good[0], good[1], "gopher://x/", good[2])
    assert r.returncode != 0, r
    one_error_line("broker", r, "gopher://x/")
    assert plain_redis.cli("EXISTS", "zcrawl:{badmany}:frontier").strip() == "0"
    assert plain_redis.cli("KEYS", "zcrawl:{badmany}:seen*").strip() == ""


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "not a url", "http://"])
def test_launcher_bad_start_url_of_several(url):
    r = run("zcrawl", "run", "--no-progress", "http://127.0.0.1:1/a", url, "http://127.0.0.1:1/b")
    assert r.returncode == 2, r
    one_error_line("zcrawl", r, url)


@pytest.mark.parametrize("uri,mention", [("redis://127.0.0.1:99999", "port"), ("foo://x", "foo://x"),
                                         ("redis://127.0.0.1/abc", "database")])
def test_launcher_bad_redis_uri(uri, mention):
    """Checked before anything starts (no private Redis, no stage)."""
    t0 = time.time()
    r = run("zcrawl", "run", "--no-progress", "--redis", uri, "http://127.0.0.1:1/")
    assert r.returncode == 2, r
    one_error_line("zcrawl", r, mention)
    assert time.time() - t0 < 5


@pytest.mark.parametrize("uri,mention", [
    ("foo://x", "foo://x"),
    ("redis://", "redis://"),
    ("redis://127.0.0.1:99999", "port"),
    ("redis://127.0.0.1:6379/abc", "database"),
])
def test_broker_bad_redis_uri(uri, mention):
    t0 = time.time()
    r = run("broker", "--redis", uri, "http://127.0.0.1:1/")
    assert r.returncode != 0, r
    one_error_line("broker", r, mention)
    assert time.time() - t0 < 5


def test_broker_unreachable_redis():
    port = free_port()
    t0 = time.time()
    r = run("broker", "--redis", "redis://127.0.0.1:%d" % port, "http://127.0.0.1:1/")
    assert r.returncode != 0, r
    one_error_line("broker", r, str(port))
    assert time.time() - t0 < 5


def test_broker_bad_crawl_name(plain_redis):
    r = run("broker", "--redis", plain_redis.uri, "--crawl", "a b:c", "http://127.0.0.1:1/")
    assert r.returncode != 0, r
    one_error_line("broker", r, "a b:c")


@pytest.mark.parametrize("what", ["bogus", "busy"])
def test_broker_unusable_control_endpoint(plain_redis, what):
    """An endpoint it cannot bind is one clear line, like every other bad flag."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    ep = "not-an-endpoint" if what == "bogus" else "tcp://127.0.0.1:%d" % busy.getsockname()[1]
    try:
        # --insecure: the other endpoints stay at their defaults (tcp://*:555x), which
        # need keys or --insecure; the control endpoint is what this test is about.
        r = run("broker", "--redis", plain_redis.uri, "--crawl", "ep" + what, "--control", ep, "--insecure",
                "http://127.0.0.1:1/")
    finally:
        busy.close()
    assert r.returncode != 0, r
    one_error_line("broker", r, ep)


@pytest.mark.parametrize("uri,mention", [
    ("mongo://nope", "MongoDB URI"),
    ("mongodb://", "URI"),
    ("mongodb://127.0.0.1:99999/", "URI"),
])
def test_writer_bad_mongo_uri(uri, mention):
    r = run("writer", "--mongo", uri, "--broker", "tcp://127.0.0.1:%d" % free_port())
    assert r.returncode != 0, r
    one_error_line("writer", r, mention)


def test_writer_unreachable_mongo():
    port = free_port()
    t0 = time.time()
    r = run("writer", "--mongo", "mongodb://127.0.0.1:%d/" % port, "--server-timeout-ms", "1000",
            "--broker", "tcp://127.0.0.1:%d" % free_port())
    assert r.returncode != 0, r
    one_error_line("writer", r, str(port))
    assert time.time() - t0 < 10


def stage_argv(name, tmp_path, broker, pages, docs):
    argv = [bin_path(name), "--broker", broker, "--heartbeat-ms", "100"]
    if name == "fetcher":
        argv += ["--pages", pages]
    elif name == "parser":
        argv += ["--pages", pages, "--docs", docs]
    else:
        argv += ["--docs", docs, "--out", str(tmp_path / "w.jsonl")]
    return argv


@pytest.mark.parametrize("name", ["fetcher", "parser", "writer"])
def test_stage_with_bad_broker_endpoint(name, tmp_path):
    argv = stage_argv(name, tmp_path, "not-an-endpoint", "tcp://127.0.0.1:1", "tcp://127.0.0.1:1")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert r.returncode != 0, r
    one_error_line(name, r, "not-an-endpoint")


class JunkServer:
    """A TCP server that answers every connection with bytes that are not ZMTP."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            try:
                c.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + os.urandom(512))
            except OSError:
                pass
            c.close()

    def close(self):
        self.stop = True
        self.sock.close()


@pytest.mark.parametrize("name", ["fetcher", "parser", "writer"])
@pytest.mark.parametrize("peer", ["nothing", "junk"])
def test_stage_waits_for_unreachable_broker(procs, tmp_path, name, peer):
    """Nothing listening (or a server that speaks no ZeroMQ) where the broker
    should be: the stage keeps retrying with backoff, and stops cleanly on SIGTERM."""
    junk = JunkServer() if peer == "junk" else None
    try:
        ep = lambda: "tcp://127.0.0.1:%d" % (junk.port if junk else free_port())
        p = procs.start(name, stage_argv(name, tmp_path, ep(), ep(), ep()))
        # It finds no broker and says so (the handshake with the junk fails, or the
        # junk is dropped as bad), and runs on.
        said = "event=broker_handshake_failed|event=bad_message" if junk else "event=broker_unreachable"
        wait_for(lambda: p.poll() is not None or ((not junk or junk.accepted > 0) and re.search(said, procs.log(p))),
                 20, "the %s to say it has no broker" % name, details=lambda: procs.log(p))
        assert p.poll() is None, "%s exited %s without a broker:\n%s" % (name, p.poll(), procs.log(p))
        log = procs.log(p)
        assert "level=error" not in log, log
        if junk:
            # libzmq may read the junk as old-style ZMTP frames: those arrive as
            # messages and must be dropped as bad; or the stage finds no broker.
            assert junk.accepted > 0
            assert "event=broker_handshake_failed" in log or "event=bad_message" in log, log
        else:
            # Nothing ever answered: unreachable, not silent (it never spoke).
            assert "event=broker_unreachable" in log and "event=broker_silent" not in log, log
        assert "event=broker_reconnected" not in log, log
        p.send_signal(signal.SIGTERM)
        assert wait_exit(p, 10) == 0, procs.log(p)
    finally:
        if junk:
            junk.close()


# ---------------------------------------------------------------- garbage: broker

# Over the bound (more frames than the type carries): refused, reason size, not a
# bad message (test_security.py has the 200-frame one).
BROKER_TOO_LONG = [[hdr(DONE)] + [b"f"] * 9]
BROKER_GARBAGE = [
    [b"\xde\xad" * 32],                                        # not a header
    [b"\x00" * 4, b"x"],
    [b""],
    [b"ZC\x09\x01", b"fetcher", b"x", b"1"],                   # other version
    [b"ZC\x01\x63"],                                           # unknown type
    [b"ZC\x01\x00"],
    [hdr(HELLO), b"fetcher"],                                  # too few frames
    [hdr(HELLO), b"martian", b"n", b"1"],                      # unknown role
    [hdr(HELLO), b"fetcher", b"n", b"99999999999999"],         # absurd credit
    [hdr(DONE), b"http://x/api/book/1", b"ok", b"abc", b"0", b""],   # status not a number
    [hdr(DONE), b"http://x/api/book/1", b"ok", b"200", b"-5", b""],  # negative retry_after
    [hdr(DONE), b"http://x/api/book/1", b"ok", b"9" * 20, b"0", b""],
    [hdr(DONE), b"http://x/\x00", b"ok", b"200", b"0", b""],   # NUL in url
    [hdr(JOB), b"http://x/", b"0"],                            # not for the broker
    [hdr(PAGE)] + [b"x"] * 7,
    [hdr(SHUTDOWN)],
    [hdr(DEAD), b"http://x/", b"s" * 100, b"r"],               # stage name too long
    [hdr(DISCOVERED), b"http://x/\x00", b"http://y/"],         # NUL in a frame
    [hdr(WRITTEN), b"a\x00b"],
]


def test_broker_survives_garbage_and_crawls(procs, redis, tmp_path):
    sim = Sitesim(procs, "--books", "300", "--latency-ms", "20")
    ids = sim.ids()
    want = set(ids["reachable"])
    out = str(tmp_path / "books.jsonl")
    pl = Pipeline(procs, redis, sim.start_url, broker_args=["--stats-ms", "100"])
    pl.start_broker()
    ctx = zmq.Context()
    socks = []

    def sock(kind, ep):
        s = ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 1000)
        s.connect(ep)
        socks.append(s)
        return s

    try:
        dealer = sock(zmq.DEALER, pl.ep["control"])
        for g in BROKER_GARBAGE + BROKER_TOO_LONG:
            dealer.send_multipart(g)
        want_bad = len(BROKER_GARBAGE)
        wait_for(lambda: int(pl.stats().get("bad_messages", "0")) >= want_bad or pl.broker.poll() is not None,
                 10, "%d bad messages counted" % want_bad)
        assert pl.broker.poll() is None, procs.log(pl.broker)
        pl.wait_stat("refused_size", len(BROKER_TOO_LONG), timeout=10)
        bad = int(pl.stats().get("bad_messages", "0"))
        assert bad == want_bad, (bad, want_bad, procs.log(pl.broker)[-3000:])
        assert procs.log(pl.broker).count("event=bad_message") == bad
        assert pl.broker.poll() is None
        # The stages, and garbage through the streamers while they crawl: pages for
        # the parser and documents for the writer that are no page and no document.
        pl.start_writer(None, out)
        pl.start_parser()
        pl.start_fetcher()
        pages_in = sock(zmq.PUSH, pl.ep["pages_in"])
        docs_in = sock(zmq.PUSH, pl.ep["docs_in"])
        pl.wait_stat("fetched", 50, timeout=30)
        for g in ([b"junk"], [hdr(PAGE), b"x"], [hdr(DOC), b"u", b"v"]):
            pages_in.send_multipart(g)
            docs_in.send_multipart(g)
        pages_in.send_multipart([hdr(PAGE), b"http://evil/api/book/1", b"http://evil/api/book/1",
                                 b"200", b"application/json", b"0", b"0", b"{not json"])
        docs_in.send_multipart([hdr(DOC), b"http://evil/api/book/2", b"not bson"])
        docs_in.send_multipart([hdr(DOC), b"http://evil/api/book/3", bson.encode({"name": "no id"})])
        pl.wait_done(timeout=90)
    finally:
        for s in socks:
            s.close(0)
        ctx.term()
    got = jsonl_ids(out)
    dups = [i for i, n in collections.Counter(got).items() if n > 1]
    assert not dups and set(got) == want, (len(got), len(want), dups[:5])
    assert pl.dead() == []  # dead letters only for URLs of this crawl
    assert int(pl.stats()["written"]) == len(want)


# ---------------------------------------------------------------- garbage: parser

def page(url, body, status=b"200", ctype=b"application/json; charset=utf-8", fetched=b"1700000000000"):
    return [hdr(PAGE), url, url, status, ctype, fetched, b"12", body]


def test_parser_garbage_pages(procs, fb):
    sim = Sitesim(procs, "--books", "40")
    good_list = sim.get("/api/book/?limit=18&offset=0")[1]
    good_id = sim.ids()["reachable"][0]
    good_detail = sim.get("/api/book/%s" % good_id)[1]
    base = b"http://127.0.0.1:%d/api/book/" % sim.port
    pages_ep = fb.bind("pages", "push")
    docs_ep = fb.bind("docs", "pull")
    p = procs.start("parser", [bin_path("parser"), "--broker", fb.control_ep, "--pages", pages_ep,
                               "--docs", docs_ep, "--heartbeat-ms", "200", "--max-body", "1048576"])
    fb.wait(lambda: fb.of_type(HELLO), 10, "HELLO from the parser")

    d = lambda n: base + str(2000000 + n).encode()
    dead_cases = {  # url -> (PAGE, words the DEAD reason must hold)
        d(1): (page(d(1), b"<html>not json</html>"), "invalid JSON"),
        d(2): (page(d(2), b"[" + b" " * (2 << 20) + b"]"), "too large"),
        d(3): (page(d(3), b'{"id": "2000003", "name": "\xff\xfe\xc0"}'), "utf-8"),
        d(4): (page(d(4), b"[" * 100000 + b"]" * 100000), "nesting"),
        d(5): (page(d(5), b'{' + b'"a":{' * 5000 + b'}' * 5001), "nesting"),
        d(6): (page(d(6), b"[1, 2, 3]"), "not an object"),
        d(7): (page(d(7), b'{"id": "999", "name": "x"}'), "id mismatch"),
        d(8): (page(d(8), b'{"name": "no id"}'), "no id"),
        d(9): (page(d(9), b'{"id": {"$gt": 1}}'), "bad id"),
        d(10): (page(d(10), b"{}", ctype=b"text/html"), "content-type"),
        d(11): (page(d(11), b"{}", ctype=b""), "content-type"),
        d(12): (page(d(12), b"{}", ctype=b"\xff\x00\x01json-ish\n"), None),  # mentions json: parsed, so no id
        d(13): (page(d(13), b"{}", status=b"500"), "status 500"),
        d(14): (page(d(14), b"{}", status=b"OK"), "status"),
        d(15): (page(d(15), b""), "empty body"),
        d(16): (page(d(16), b'{"id": "2000016",\x00 "name": "x"}'), "NUL"),
        d(17): (page(d(17), b'{"id": "2000017", "name": "\\u0000"}'), "NUL"),
        d(18): (page(d(18), b'{"id": "2000018"} trailing'), "trailing"),
        d(19): (page(d(19), b'{"id": "2000019", "name": "\\uZZZZ"}'), "escape"),
        d(20): (page(d(20), b'{"id": "2000020", "name": "cut'), "invalid JSON"),
        base + b"?limit=18&offset=0&x=1": (page(base + b"?limit=18&offset=0&x=1",
                                                 b'{"count": "many", "results": []}'), "count"),
        base + b"?limit=18&offset=18": (page(base + b"?limit=18&offset=18",
                                              b'{"count": 5, "results": {}}'), "results"),
        b"http://127.0.0.1:1/elsewhere": (page(b"http://127.0.0.1:1/elsewhere", b"{}"), "page kind"),
        b"http://127.0.0.1:1/api/book/1\x00": (page(b"http://127.0.0.1:1/api/book/1\x00", b"{}"), "url"),
        base + b"x" * 100000: (page(base + b"x" * 100000, b"{}"), "url"),
    }
    structural = [
        [b"junk"],
        [b""],
        [b"ZC\x09\x06"] + page(d(90), b"{}")[1:],       # other version
        [b"ZC\x01\x63", b"x"],                           # unknown type
        [hdr(PAGE), d(91), d(91), b"200"],               # too few frames
        page(d(92), b"{}") + [b"", b"", b"extra"],       # too many (link, proof, and one more)
        [hdr(DOC), d(93), b"x"],                         # a type that never comes this way
        page(b"", b"{}"),                                # empty url
    ]
    for g in structural:
        fb.push("pages", g)
    for url, (msg, _) in dead_cases.items():
        fb.push("pages", msg)
    # Garbage on the control socket too; a SHUTDOWN with a frame too many is no SHUTDOWN.
    fb.pump(0.3)
    fb.to_stage([b"junk"])
    fb.to_stage([hdr(JOB), b"http://x/", b"0"])
    fb.to_stage([hdr(SHUTDOWN), b"extra"])
    odd = d(21)
    fb.push("pages", page(odd, b'{"id": "2000021", "authors": 5, "score": "high", "tags": {"a": 1}, '
                               b'"comments": "x", "page_number": [1]}'))
    # Then real pages: they must still be parsed.
    list_url = base + b"?limit=18&offset=0"
    detail_url = base + good_id.encode()
    fb.push("pages", page(list_url, good_list))
    fb.push("pages", page(detail_url, good_detail, fetched=b"not-a-time"))
    expect_dead = {u for u, (_, why) in dead_cases.items()}
    fb.wait(lambda: fb.of_type(DISCOVERED) and fb.pulled["docs"] and
            {f[0] for f in fb.of_type(DEAD)} >= expect_dead, 20, "DEAD for every bad page, then DISCOVERED and DOC")
    fb.pump(0.5)
    assert p.poll() is None, "the parser died:\n%s" % procs.log(p)[-3000:]
    dead = {f[0]: f for f in fb.of_type(DEAD)}
    dead.pop(odd, None)
    assert set(dead) == expect_dead, set(dead) ^ expect_dead
    for url, (_, why) in dead_cases.items():
        f = dead[url]
        assert len(f) == 3 and f[1] == b"parse" and f[2], f[:3]
        if why:
            assert why.lower() in f[2].decode("utf-8", "replace").lower(), (url[:80], f[2], why)
    assert len([f for f in fb.of_type(DEAD) if f[0] != odd]) == len(expect_dead), "a page dead-lettered twice"
    # The good pages: the list page's URLs, one DOC for the detail page, nothing else.
    disc = fb.of_type(DISCOVERED)
    assert len(disc) == 1 and disc[0][0] == list_url
    urls = disc[0][1].split(b"\n")
    assert len(urls) == 18 + 2 and base + good_id.encode() in urls
    docs = [f for f in fb.pulled["docs"] if f[1] != odd]
    odd_out = len(fb.pulled["docs"]) - len(docs) + sum(1 for f in fb.of_type(DEAD) if f[0] == odd)
    assert odd_out == 1, "a page of wrong-typed fields must give one DOC or one DEAD"
    assert len(docs) == 1, [d[1] for d in docs]
    assert docs[0][0] == hdr(DOC) and docs[0][1] == detail_url
    doc = bson.decode(docs[0][2])
    assert doc["_id"] == good_id
    log = procs.log(p)
    assert log.count("event=bad_message") >= len(structural) + 3, log[-3000:]
    fb.to_stage([hdr(SHUTDOWN)])
    assert wait_exit(p, 10) == 0


# ---------------------------------------------------------------- garbage: writer

def nested_bson(depth):
    # {"_id": "n", "a": {"a": {...}}} built by hand: bson.encode recurses.
    inner = b"\x05\x00\x00\x00\x00"
    for _ in range(depth):
        body = b"\x03a\x00" + inner + b"\x00"
        inner = (len(body) + 4).to_bytes(4, "little") + body
    body = b"\x02_id\x00" + (2).to_bytes(4, "little") + b"n\x00" + b"\x03a\x00" + inner + b"\x00"
    return (len(body) + 4).to_bytes(4, "little") + body


def test_writer_garbage_docs(procs, fb, tmp_path):
    out = tmp_path / "books.jsonl"
    docs_ep = fb.bind("docs", "push")
    good = bson.encode({"_id": "1", "name": "ok"})
    u = lambda s: b"http://x/api/book/" + s
    dead_cases = {
        u(b"notbson"): b"not bson at all",
        u(b"empty"): b"",
        u(b"noid"): bson.encode({"name": "no id"}),
        u(b"intid"): bson.encode({"_id": 5}),
        u(b"emptyid"): bson.encode({"_id": ""}),
        u(b"truncated"): good[:-3],
        u(b"biglen"): b"\xff\xff\xff\x7f" + good[4:],
        u(b"nested"): nested_bson(5000),
        u(b"huge"): bson.encode({"_id": "h", "x": "y" * (17 << 20)}),
    }
    structural = [
        [b"junk"],
        [b"ZC\x09\x08", u(b"v"), good],          # other version
        [b"ZC\x01\x63"],                          # unknown type
        [hdr(DOC)],                               # too few frames
        [hdr(DOC), u(b"x"), good, b"", b"", b"extra"],  # too many (2 to 4: url, doc(s), proof, urls)
        [hdr(PAGE)] + [b"x"] * 7,                 # a type that never comes this way
        [hdr(DOC), b"", good],                    # empty url
        [hdr(DOC), b"a\nb", good],                # newline in url
    ]
    # Started once the 17 MB document is made: no heartbeat goes out meanwhile, and
    # a writer that hears none for 3 intervals reconnects (the junk below would go
    # to its old connection).
    p = procs.start("writer", [bin_path("writer"), "--broker", fb.control_ep, "--docs", docs_ep,
                               "--out", str(out), "--heartbeat-ms", "200", "--batch-ms", "50"])
    fb.wait(lambda: fb.of_type(HELLO), 10, "HELLO from the writer")
    for g in structural:
        fb.push("docs", g)
    for url, body in dead_cases.items():
        fb.push("docs", [hdr(DOC), url, body])
    # The junk below goes to the writer's connection of the moment: the one its last
    # DEAD came over (chewing the 17 MB document can keep it from the control socket
    # past 3 heartbeats, and it reconnects).
    fb.wait(lambda: len(fb.of_type(DEAD)) >= len(dead_cases), 20, "DEAD for the bad documents")
    fb.to_stage([b"junk"])
    fb.to_stage([hdr(SHUTDOWN), b"extra"])
    fb.push("docs", [hdr(DOC), u(b"1"), good])
    fb.wait(lambda: fb.of_type(WRITTEN) and len(fb.of_type(DEAD)) >= len(dead_cases), 20,
            "WRITTEN for the good document and DEAD for the bad ones")
    fb.pump(0.3)
    assert p.poll() is None, procs.log(p)[-3000:]
    assert [f[0] for f in fb.of_type(WRITTEN)] == [u(b"1")]
    dead = {f[0]: f for f in fb.of_type(DEAD)}
    assert set(dead) == set(dead_cases), set(dead) ^ set(dead_cases)
    assert all(f[1] == b"write" and f[2] for f in dead.values()), dead
    assert "_id" in dead[u(b"noid")][2].decode()
    assert jsonl_ids(str(out)) == ["1"]
    assert procs.log(p).count("event=bad_message") >= len(structural) + 1
    fb.to_stage([hdr(SHUTDOWN)])
    assert wait_exit(p, 10) == 0


# ---------------------------------------------------------------- garbage: fetcher

def test_fetcher_garbage_jobs(procs, fb):
    sim = Sitesim(procs, "--books", "40")
    good = "http://127.0.0.1:%d/api/book/%s" % (sim.port, sim.ids()["reachable"][0])
    pages_ep = fb.bind("pages", "pull")
    p = procs.start("fetcher", [bin_path("fetcher"), "--broker", fb.control_ep, "--pages", pages_ep,
                                "--heartbeat-ms", "200", "--concurrency", "32", "--timeout-ms", "5000"])
    fb.wait(lambda: fb.of_type(HELLO), 10, "HELLO from the fetcher")
    structural = [
        [b"junk"],
        [b""],
        [b"ZC\x09\x04", good.encode(), b"0"],     # other version
        [b"ZC\x01\x63"],                          # unknown type
        [hdr(JOB)],                               # too few frames
        [hdr(JOB), good.encode()],
        [hdr(JOB), good.encode(), b"0", b"", b"x"],  # too many (urls, attempts, proofs)
        [hdr(JOB), good.encode(), b"abc"],        # attempt not a number
        [hdr(JOB), good.encode(), b"0", b"0:ab\n0:cd"],  # two proofs for one url
        [hdr(JOB), good.encode(), b"0", b"0:" + b"a" * 60],  # a proof longer than any
        [hdr(SHUTDOWN), b"extra"],                # no SHUTDOWN
        [hdr(PAGE)] + [b"x"] * 7,                 # a type that never comes this way
    ]
    answered = [  # JOBs with the right shape and a URL that cannot be fetched
        b"file:///etc/passwd",
        b"gopher://127.0.0.1:%d/" % sim.port,
        b"dict://127.0.0.1:%d/" % sim.port,
        b"javascript:alert(1)",
        b"http://",
        b"http://exa mple.com/\x01",
        b"http://127.0.0.1:%d/api/book/\x00x" % sim.port,
        b"http://127.0.0.1:%d/%s" % (sim.port, b"a" * 1000000),
        b"",
    ]
    for g in structural:
        fb.to_stage(g)
    for url in answered:
        fb.to_stage([hdr(JOB), url, b"0"])
    # A '\n' separates the URLs of a JOB: two URLs need two attempts, else the JOB is refused.
    split = b"gopher://127.0.0.1:%d/\nHost: evil" % sim.port
    fb.to_stage([hdr(JOB), split, b"0"])
    fb.to_stage([hdr(JOB), split, b"0\n0"])
    answered += split.split(b"\n")
    # The proof of lease comes back with the PAGE, its last frame (link: empty, before it).
    fb.to_stage([hdr(JOB), good.encode(), b"0", b"0:0123456789abcdef0123456789abcdef"])
    # ok answers of one turn share a DONE: its first frame lists their URLs
    done = lambda: {u for f in fb.of_type(DONE) for u in f[0].split(b"\n")}
    fb.wait(lambda: good.encode() in done() and set(answered) <= done(), 20,
            "DONE for every JOB of the right shape")
    fb.pump(0.5)
    assert p.poll() is None, procs.log(p)[-3000:]
    answers = [[u] + f[1:] for f in fb.of_type(DONE) for u in f[0].split(b"\n")]
    by_url = {a[0]: a for a in answers}
    assert len(answers) == len(answered) + 1, "a JOB answered twice"
    assert by_url[good.encode()][1:3] == [b"ok", b"200"]
    for url in answered:  # a URL that can never be fetched is no transient failure
        assert by_url[url][1] == b"fail" and by_url[url][4], (url[:80], by_url[url][1:])
    pages = fb.pulled["pages"]
    assert [f[1] for f in pages] == [good.encode()], [f[1][:80] for f in pages]
    assert len(pages[0]) == 10 and pages[0][8:] == [b"", b"0:0123456789abcdef0123456789abcdef"], pages[0][8:]
    assert pages[0][3] == b"200" and b'"id"' in pages[0][7]
    assert not any(b"root:" in f[-1] for f in pages)
    assert procs.log(p).count("event=bad_message") >= len(structural)
    fb.to_stage([hdr(SHUTDOWN)])
    assert wait_exit(p, 15) == 0
