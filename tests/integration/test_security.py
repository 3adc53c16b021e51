"""test_security.py -- CURVE on every ZeroMQ link, secure or explicit, secrets kept
(issue 12, parts "CURVE", "Secure or explicit", "Secrets stay secret").

A pipeline runs with keys from `zcrawl keygen`; attackers with pyzmq, with a CURVE
keypair of their own (not listed in authorized/) or with no CURVE at all, try the
issue's attacks: a HELLO with credit 100000 to the broker, a PULL on the pages
endpoint, a PUSH of a DOC to the documents endpoint, a PUSH of a PAGE to a parser
that binds its own endpoint. None completes a connection; the crawl ends with every
book exactly once; the refusals are counted (stats auth_refused and, for a handshake
that fails before ZAP, refused_handshakes; the stage's log)."""
import os
import re
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.request

import bson
import pytest
import zmq
import zmq.auth

from harness import (Pipeline, Redis, Sitesim, assert_once, bin_path, clean_env, free_port, hdr, jsonl_ids, run,
                     wait_for, wait_log, wait_port)

HELLO, HEARTBEAT, CREDIT, JOB, DONE, PAGE, DISCOVERED, DOC, WRITTEN, DEAD, SHUTDOWN = range(1, 12)
SECRET = "S3kr1tPw9"


def keygen(path):
    d = str(path)
    r = subprocess.run([bin_path("zcrawl"), "keygen", d], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return d


class Attacker:
    """pyzmq sockets of someone on the network: with a CURVE keypair of its own that
    no authorized/ lists (it knows the server's public key: it is public), or with
    no CURVE at all."""

    def __init__(self, server_pub):
        self.ctx = zmq.Context()
        self.server_pub = server_pub
        self.pub, self.sec = zmq.curve_keypair()
        self.socks = []

    def sock(self, kind, ep, curve=True, keypair=None):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if curve:
            s.curve_serverkey = self.server_pub
            s.curve_publickey, s.curve_secretkey = keypair or (self.pub, self.sec)
        s.connect(ep)
        self.socks.append(s)
        return s

    def close(self):
        for s in self.socks:
            s.close(0)
        self.ctx.term()


def read_for(socks, seconds):
    """Every message any of socks receives within seconds."""
    poller = zmq.Poller()
    for s in socks:
        poller.register(s, zmq.POLLIN)
    got = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        for s, _ in poller.poll(100):
            got.append(s.recv_multipart())
    return got


def test_keygen_writes_zeromq_certificates(tmp_path):
    d = keygen(tmp_path / "keys")
    for role in ("broker", "fetcher", "parser", "writer"):
        pub, sec = zmq.auth.load_certificate(os.path.join(d, role + ".key_secret"))
        assert sec is not None and len(pub) == 40
        assert zmq.auth.load_certificate(os.path.join(d, role + ".key"))[0] == pub
        assert stat.S_IMODE(os.stat(os.path.join(d, role + ".key_secret")).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.join(d, role + ".key")).st_mode) == 0o644
        # A public certificate holds no secret.
        assert "secret-key" not in open(os.path.join(d, role + ".key")).read()
    admitted = sorted(os.listdir(os.path.join(d, "authorized")))
    assert admitted == ["fetcher.key", "parser.key", "writer.key"]
    for f in admitted:
        assert zmq.auth.load_certificate(os.path.join(d, "authorized", f))[0] == \
            zmq.auth.load_certificate(os.path.join(d, f))[0]
    # Keys in place are not replaced by accident.
    r = run("zcrawl", "keygen", d)
    assert r.returncode == 2 and "--force" in r.stderr, r
    before = zmq.auth.load_certificate(os.path.join(d, "broker.key"))[0]
    assert run("zcrawl", "keygen", "--force", d).returncode == 0
    assert zmq.auth.load_certificate(os.path.join(d, "broker.key"))[0] != before


def test_attackers_without_listed_key_are_refused(procs, redis, tmp_path):
    """The issue's attacks against a pipeline with keys (stages through the broker's
    streamers): nothing reaches the broker, the pages or the output."""
    keys = keygen(tmp_path / "keys")
    broker_pub = zmq.auth.load_certificate(os.path.join(keys, "broker.key"))[0]
    sim = Sitesim(procs, "--books", "1000", "--latency-ms", "30")
    want = set(sim.ids()["reachable"])
    out = str(tmp_path / "books.jsonl")
    pl = Pipeline(procs, redis, sim.start_url,
                  broker_args=["--stats-ms", "100", "--max-per-host", "4", "--keys", keys])
    pl.start_broker()
    evil = Attacker(broker_pub)
    try:
        # The attacks, before any stage is there to compete with them.
        curve_hello = evil.sock(zmq.DEALER, pl.ep["control"])
        plain_hello = evil.sock(zmq.DEALER, pl.ep["control"], curve=False)
        for s, name in ((curve_hello, b"evil-curve"), (plain_hello, b"evil-plain")):
            s.send_multipart([hdr(HELLO), b"fetcher", name, b"100000"], zmq.NOBLOCK)
        curve_pull = evil.sock(zmq.PULL, pl.ep["pages_out"])
        plain_pull = evil.sock(zmq.PULL, pl.ep["pages_out"], curve=False)
        curve_push = evil.sock(zmq.PUSH, pl.ep["docs_in"])
        plain_push = evil.sock(zmq.PUSH, pl.ep["docs_in"], curve=False)
        # A fetcher's key that leaked: listed, but a fetcher has no business reading
        # what parsers read or handing in documents.
        leaked = zmq.auth.load_certificate(os.path.join(keys, "fetcher.key_secret"))
        leaked_pull = evil.sock(zmq.PULL, pl.ep["pages_out"], keypair=leaked)
        leaked_push = evil.sock(zmq.PUSH, pl.ep["docs_in"], keypair=leaked)
        for s, i in ((curve_push, "evil-doc-curve"), (plain_push, "evil-doc-plain"),
                     (leaked_push, "evil-doc-leaked")):
            s.send_multipart([hdr(DOC), ("http://evil/api/book/%s" % i).encode(),
                              bson.encode({"_id": i, "name": "planted"})], zmq.NOBLOCK)
        # Every CURVE attacker is judged by the broker's ZAP handler, refused, counted.
        # One without CURVE fails the handshake before ZAP: counted apart.
        pl.wait_stat("auth_refused", 5, timeout=20)
        pl.wait_stat("refused_handshakes", 3, timeout=20)
        log = procs.log(pl.broker)
        assert "event=auth_refused" in log, log[-2000:]

        # A listed key gets through the same door: the refusals are about the keys.
        legit_pub, legit_sec = zmq.auth.load_certificate(os.path.join(keys, "fetcher.key_secret"))
        control = evil.sock(zmq.DEALER, pl.ep["control"], keypair=(legit_pub, legit_sec))
        control.send_multipart([hdr(HELLO), b"fetcher", b"listed-key", b"0"])
        assert control.poll(10000), "a listed key got no answer from the broker"
        assert control.recv_multipart()[0] == hdr(HEARTBEAT)
        control.close(0)

        pl.start_writer(None, out, "--keys", keys)
        pl.start_parser("--keys", keys)
        pl.start_fetcher("--keys", keys)
        pl.wait_stat("fetched", 1, timeout=30)
        fetched0 = int(pl.stats()["fetched"])
        # Five seconds of a running crawl: not one page, job or heartbeat for them.
        got = read_for([curve_pull, plain_pull, leaked_pull, curve_hello, plain_hello], 5)
        assert got == [], got[:3]
        assert int(pl.stats()["fetched"]) > fetched0 or pl.broker.poll() is not None
        pl.wait_done(timeout=120)
    finally:
        evil.close()
    assert_once(jsonl_ids(out), want)
    assert not any(i.startswith("evil-") for i in jsonl_ids(out))
    log = procs.log(pl.broker)
    assert "evil" not in log, [x for x in log.splitlines() if "evil" in x][:3]
    stats = pl.stats()
    assert int(stats["auth_refused"]) >= 5, stats
    assert int(stats["written"]) == len(want), stats


def metric(port, name):
    """The value of the sample called name on the broker's /metrics, or None."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def test_handshakes_failed_before_zap_are_counted_and_logged(procs, redis, tmp_path):
    """Peers that fail the CURVE handshake before the ZAP handler sees a key: one
    that expects another server key (a fresh keypair's; its own key is even a
    listed one) and one without CURVE, on the control endpoint and on a streamer's.
    None connects; every failure is counted (stats refused_handshakes, /metrics
    zcrawl_refused_handshakes_total; not auth_refused) and logged with its
    endpoint, at most a line a second under a flood; the crawl ends with every
    book once. (A wrong-key client retries on its own; one without CURVE often
    gives up after one try, so the flood keeps opening new ones.)"""
    keys = keygen(tmp_path / "keys")
    wrong_server = zmq.curve_keypair()[0]
    listed = zmq.auth.load_certificate(os.path.join(keys, "fetcher.key_secret"))
    sim = Sitesim(procs, "--books", "300", "--latency-ms", "20")
    want = set(sim.ids()["reachable"])
    out = str(tmp_path / "books.jsonl")
    mport = free_port()
    pl = Pipeline(procs, redis, sim.start_url,
                  broker_args=["--stats-ms", "100", "--max-per-host", "4", "--keys", keys,
                               "--metrics", "127.0.0.1:%d" % mport])
    pl.start_broker()
    assert wait_port(mport, proc=pl.broker), procs.log(pl.broker)
    t0 = time.time()
    evil = Attacker(wrong_server)
    line = r"event=handshake_refused endpoint=%s reason=%s detail=.* refused=%s "

    def settled():
        """refused_handshakes once it stayed the same for half a second (the only
        sign that a closed client has stopped retrying: the count stops)."""
        n = -1
        while True:
            time.sleep(0.5)
            m = int(pl.stats().get("refused_handshakes", "0"))
            if m == n:
                return n
            n = m

    stop = threading.Event()

    def flood():
        """New sockets without CURVE, five a second on each endpoint, until stop."""
        ctx = zmq.Context()
        open_ = []
        try:
            while not stop.wait(0.2):
                for kind, ep in ((zmq.DEALER, "control"), (zmq.PULL, "pages_out"), (zmq.PUSH, "docs_in")):
                    s = ctx.socket(kind)
                    s.setsockopt(zmq.LINGER, 0)
                    s.connect(pl.ep[ep])
                    open_.append(s)
                while len(open_) > 30:
                    open_.pop(0).close(0)
        finally:
            for s in open_:
                s.close(0)
            ctx.term()

    flooder = threading.Thread(target=flood)
    try:
        # One kind at a time, a second apart: each gets its line (one a second).
        wrong = evil.sock(zmq.DEALER, pl.ep["control"], keypair=listed)
        wrong.send_multipart([hdr(HELLO), b"fetcher", b"evil-wrong-key", b"100000"], zmq.NOBLOCK)
        wait_log(procs, pl.broker, line % (re.escape(pl.ep["control"]), "protocol", 1))
        assert 'detail="cryptographic error' in procs.log(pl.broker)
        wrong.close(0)
        n = settled()
        assert n >= 1
        time.sleep(1.2)  # the sleep is the test's: a line a second at most, and this kind gets its own
        plain = evil.sock(zmq.DEALER, pl.ep["control"], curve=False)
        plain.send_multipart([hdr(HELLO), b"fetcher", b"evil-plain", b"100000"], zmq.NOBLOCK)
        # Whichever side sees the mechanism mismatch first: a protocol error here,
        # or the client hanging up on the server's greeting.
        wait_log(procs, pl.broker, line % (re.escape(pl.ep["control"]), "(protocol|other)", n + 1))
        plain.close(0)
        n = settled()
        time.sleep(1.2)  # the sleep is the test's, as above
        pull = evil.sock(zmq.PULL, pl.ep["pages_out"], curve=False)
        wait_log(procs, pl.broker, line % (re.escape(pl.ep["pages_out"]), "(protocol|other)", n + 1))
        assert int(pl.stats().get("auth_refused", "0")) == 0, pl.stats()

        # Then all at once, on every endpoint, all through the crawl.
        evil.sock(zmq.DEALER, pl.ep["control"], keypair=listed)
        evil.sock(zmq.PULL, pl.ep["pages_out"], keypair=listed)
        flooder.start()
        pl.wait_stat("refused_handshakes", n + 40, timeout=30)
        refused = int(pl.stats()["refused_handshakes"])
        wait_for(lambda: (metric(mport, "zcrawl_refused_handshakes_total") or 0) >= refused, 10,
                 "/metrics to count %d refused handshakes" % refused, step=0.1)
        assert metric(mport, "zcrawl_refused_handshakes_total") >= refused

        pl.start_writer(None, out, "--keys", keys)
        pl.start_parser("--keys", keys)
        pl.start_fetcher("--keys", keys)
        got = read_for([pull] + evil.socks[-2:], 3)
        assert got == [], got[:3]
        pl.wait_done(timeout=120)
    finally:
        stop.set()
        if flooder.is_alive():
            flooder.join(10)
        evil.close()
    elapsed = time.time() - t0
    assert_once(jsonl_ids(out), want)
    stats = pl.stats()
    assert int(stats["written"]) == len(want), stats
    assert int(stats["auth_refused"]) == 0, stats
    log = procs.log(pl.broker)
    assert "evil" not in log, [x for x in log.splitlines() if "evil" in x][:3]
    lines = log.count("event=handshake_refused")
    assert 3 <= lines <= elapsed + 3, (lines, elapsed)
    assert lines * 5 < int(stats["refused_handshakes"]), (lines, stats)


def test_direct_wiring_parser_serves_with_its_own_key(procs, redis, tmp_path):
    """A parser that binds its pages endpoint is a CURVE server with its own ZAP
    handler: fetchers connect with "#parser"; a PUSH of a PAGE from an unlisted key
    or without CURVE never reaches it."""
    keys = keygen(tmp_path / "keys")
    parser_pub = zmq.auth.load_certificate(os.path.join(keys, "parser.key"))[0]
    sim = Sitesim(procs, "--books", "300", "--latency-ms", "20")
    want = set(sim.ids()["reachable"])
    out = str(tmp_path / "books.jsonl")
    pages = "tcp://127.0.0.1:%d" % free_port()
    pl = Pipeline(procs, redis, sim.start_url, broker_args=["--max-per-host", "4", "--keys", keys])
    pl.start_broker()
    pl.start_writer(None, out, "--keys", keys)
    parser = procs.start("parser", [bin_path("parser"), "--broker", pl.ep["control"], "--pages", "@" + pages,
                                    "--docs", pl.ep["docs_in"], "--keys", keys])
    evil = Attacker(parser_pub)
    try:
        bogus = [hdr(PAGE), b"http://evil/api/book/1", b"http://evil/api/book/1", b"200",
                 b"application/json", b"0", b"0", b'{"id": 1, "name": "planted"}']
        wait_log(procs, parser, "event=started", timeout=10)
        evil.sock(zmq.PUSH, pages).send_multipart(bogus, zmq.NOBLOCK)
        evil.sock(zmq.PUSH, pages, curve=False).send_multipart(bogus, zmq.NOBLOCK)
        wait_log(procs, parser, "event=auth_refused", timeout=20)
        pl.start_fetcher("--keys", keys, "--pages", pages + "#parser")
        pl.wait_done(timeout=90)
    finally:
        evil.close()
    assert_once(jsonl_ids(out), want)
    assert "evil" not in procs.log(parser)


def test_launcher_runs_with_fresh_keys(procs, tmp_path):
    """zcrawl run: the default path is secure too (keys in its log folder, every
    stage with them, direct wiring included), and complete."""
    sim = Sitesim(procs, "--books", "300")
    want = set(sim.ids()["reachable"])
    out, logs = str(tmp_path / "books.jsonl"), str(tmp_path / "logs")
    r = subprocess.run([bin_path("zcrawl"), "run", "--no-progress", "--log-dir", logs, "--out", out,
                        "--timeout", "120", sim.start_url], capture_output=True, text=True, timeout=180,
                       env=clean_env(), cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert_once(jsonl_ids(out), want)
    keys = os.path.join(logs, "keys")
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(keys, "broker.key_secret")).st_mode) == 0o600
    # Every stage ran with them: a stage without would have been refused by the
    # broker's ZAP handler (mechanism mismatch) and the crawl would not have ended.
    for f in os.listdir(logs):
        if f.endswith(".log"):
            text = open(os.path.join(logs, f)).read()
            assert "auth_refused" not in text and "error" not in text.lower(), (f, text[-1500:])


@pytest.mark.parametrize("name,args,bad", [
    ("broker", ["--control", "tcp://0.0.0.0:%(p)d"], "tcp://0.0.0.0:%(p)d"),
    ("broker", ["--docs-out", "tcp://*:%(p)d"], "tcp://*:%(p)d"),
    ("fetcher", ["--broker", "tcp://192.0.2.1:5555"], "tcp://192.0.2.1:5555"),
    ("parser", ["--pages", "@tcp://0.0.0.0:%(p)d"], "tcp://0.0.0.0:%(p)d"),
    ("writer", ["--docs", "tcp://broker.example:5559"], "tcp://broker.example:5559"),
])
def test_non_loopback_without_keys_is_refused(redis, name, args, bad):
    """Secure or explicit: one line saying so, exit 2, before anything binds; with
    --insecure (or ZCRAWL_INSECURE) the same command runs."""
    p = free_port()
    base = {"broker": ["--redis", redis.uri, "--crawl", "sec"] +
            sum([["--" + k, "tcp://127.0.0.1:%d" % free_port()]
                 for k in ("control", "pages-in", "pages-out", "docs-in", "docs-out")], []),
            "fetcher": ["--broker", "tcp://127.0.0.1:%d" % free_port(), "--pages", "tcp://127.0.0.1:1"],
            "parser": ["--broker", "tcp://127.0.0.1:%d" % free_port(), "--pages", "tcp://127.0.0.1:1",
                       "--docs", "tcp://127.0.0.1:2"],
            "writer": ["--broker", "tcp://127.0.0.1:%d" % free_port(), "--out", "/dev/null"]}[name]
    argv = base + [a % {"p": p} for a in args] + (["http://127.0.0.1:1/"] if name == "broker" else [])
    r = run(name, *argv)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    line = lines[0]
    assert line.startswith("zcrawl-%s: error: " % name), line
    for m in (bad % {"p": p}, "--keys", "--insecure", "loopback"):
        assert m in line, (m, line)
    if name in ("broker", "parser"):
        with socket.socket() as s:  # it did not bind before refusing
            s.bind(("0.0.0.0", p))
    # Explicitly insecure: it starts (and is stopped here).
    for env in ({"ZCRAWL_INSECURE": "1"}, {}):
        extra = [] if env else ["--insecure"]
        with tempfile.NamedTemporaryFile() as err:
            proc = subprocess.Popen([bin_path(name)] + argv + extra, stdout=subprocess.DEVNULL,
                                    stderr=err, env=clean_env(**env))
            try:
                said = lambda: open(err.name, errors="replace").read()
                wait_for(lambda: proc.poll() is not None or "event=started" in said(), 10, "the %s to start" % name)
                assert proc.poll() is None, said()
            finally:
                proc.terminate()
                proc.wait(timeout=15)


def test_bad_keys_are_one_line_errors(tmp_path):
    keys = keygen(tmp_path / "keys")
    ep = "tcp://127.0.0.1:%d" % free_port()
    os.chmod(os.path.join(keys, "fetcher.key_secret"), 0o644)
    r = run("fetcher", "--broker", ep, "--pages", ep, "--keys", keys)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "chmod 600" in r.stderr, r.stderr
    r = run("parser", "--broker", ep, "--pages", ep, "--docs", ep, "--keys", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "nowhere" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    r = run("writer", "--broker", ep, "--docs", ep + "#nobody", "--out", "/dev/null", "--keys", keys)
    assert r.returncode == 2 and "#nobody" in r.stderr, r.stderr
    os.remove(os.path.join(keys, "authorized", "fetcher.key"))
    os.remove(os.path.join(keys, "authorized", "parser.key"))
    os.remove(os.path.join(keys, "authorized", "writer.key"))
    r = run("parser", "--broker", ep, "--pages", "@" + ep, "--docs", ep, "--keys", keys)
    assert r.returncode == 2 and "authorized" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr


def all_output(r, logdir=None):
    text = (r.stdout or "") + (r.stderr or "")
    if logdir and os.path.isdir(logdir):
        for root, _, files in os.walk(logdir):
            for f in files:
                if f.endswith(".log"):
                    with open(os.path.join(root, f), errors="replace") as fh:
                        text += fh.read()
    return text


def test_passwords_never_printed(redis, tmp_path):
    """A password in --redis / --mongo (or their variables) appears in no output of
    a failing run: errors, logs, --help."""
    closed = free_port()
    uris = {
        "bad port": "redis://:%s@127.0.0.1:99999" % SECRET,
        "bad db": "redis://:%s@127.0.0.1:6379/abc" % SECRET,
        "unreachable": "redis://:%s@127.0.0.1:%d" % (SECRET, closed),
        "user": "redis://zc:%s@127.0.0.1:%d" % (SECRET, closed),
    }
    outputs = {}
    loop = ["--" + k for k in ("control", "pages-in", "pages-out", "docs-in", "docs-out")]
    eps = sum([[k, "tcp://127.0.0.1:%d" % free_port()] for k in loop], [])
    for what, uri in uris.items():
        r = run("broker", "--redis", uri, *eps, "http://127.0.0.1:1/")
        assert r.returncode != 0, (what, r)
        outputs["broker " + what] = all_output(r)
        r = run("broker", *eps, "http://127.0.0.1:1/", env={"ZCRAWL_REDIS": uri})
        outputs["broker env " + what] = all_output(r)
        logs = str(tmp_path / ("logs-" + what.replace(" ", "-")))
        r = run("zcrawl", "run", "--no-progress", "--log-dir", logs, "--timeout", "20", "--redis", uri,
                "--out", str(tmp_path / "o.jsonl"), "http://127.0.0.1:1/", timeout=60, cwd=str(tmp_path))
        assert r.returncode != 0, (what, r)
        outputs["zcrawl run " + what] = all_output(r, logs)
        r = run("zcrawl", "status", "--redis", uri, timeout=60)
        assert r.returncode != 0, (what, r)
        outputs["zcrawl status " + what] = all_output(r)
    # A wrong password against a real Redis: AUTH fails, the password stays hidden.
    wrong = redis.uri.replace("redis://", "redis://:%s@" % SECRET)
    r = run("broker", "--redis", wrong, *eps, "http://127.0.0.1:1/")
    outputs["broker wrong password"] = all_output(r)
    # MongoDB URIs: unreachable, malformed, a secret in a query parameter.
    for what, uri in {
        "mongo unreachable": "mongodb://zc:%s@127.0.0.1:%d/db" % (SECRET, closed),
        "mongo bad host": "mongodb://zc:%s@127.0.0.1:99999/db" % SECRET,
        "mongo query": "mongodb://127.0.0.1:%d/db?tlsCertificateKeyFilePassword=%s" % (closed, SECRET),
    }.items():
        r = run("writer", "--broker", "tcp://127.0.0.1:%d" % free_port(), "--mongo", uri,
                "--server-timeout-ms", "300")
        assert r.returncode != 0, (what, r)
        outputs["writer " + what] = all_output(r)
        logs = str(tmp_path / ("logs-" + what.replace(" ", "-")))
        r = run("zcrawl", "run", "--no-progress", "--log-dir", logs, "--timeout", "8", "--max-restarts", "1",
                "--mongo", uri, "--crawl", what.replace(" ", "-"), "http://127.0.0.1:1/", timeout=60,
                cwd=str(tmp_path))
        assert r.returncode != 0, (what, r)
        outputs["zcrawl run " + what] = all_output(r, logs)
    # --help shows defaults, which come from the environment too.
    for name, var, uri in (("broker", "ZCRAWL_REDIS", uris["user"]),
                           ("writer", "ZCRAWL_MONGO", "mongodb://zc:%s@h/db" % SECRET),
                           ("zcrawl", "ZCRAWL_REDIS", uris["user"])):
        r = run(name, *(["run"] if name == "zcrawl" else []), "--help", env={var: uri})
        assert r.returncode == 0 and "***@" in r.stdout, r.stdout
        outputs[name + " --help"] = all_output(r)
    leaks = {k: [x for x in v.splitlines() if SECRET in x][:2] for k, v in outputs.items() if SECRET in v}
    assert not leaks, leaks


def cmdlines_with(secret):
    """Command lines of running processes that hold secret (what any user's ps shows)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if secret.encode() in cmd and b"pytest" not in cmd:
                found.append(cmd.replace(b"\0", b" ").decode(errors="replace"))
    return found


def test_launcher_keeps_passwords_off_command_lines(procs, tmp_path):
    """zcrawl run --redis URI-with-password: the stages get the URI through their
    environment, so no process's command line (ps) shows the password -- except
    the launcher's own, which the user typed."""
    redis = Redis(procs)
    assert redis.cli("CONFIG", "SET", "requirepass", SECRET).strip() == "OK"
    site = Sitesim(procs, "--books", "400", "--latency-ms", "20")
    want = set(site.ids()["reachable"])
    out, logs = str(tmp_path / "books.jsonl"), str(tmp_path / "logs")
    uri = "redis://:%s@127.0.0.1:%d/2" % (SECRET, redis.port)
    launcher = subprocess.Popen([bin_path("zcrawl"), "run", "--no-progress", "--log-dir", logs, "--out", out,
                                 "--max-per-host", "4", "--timeout", "120", site.start_url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=clean_env(ZCRAWL_REDIS=uri), cwd=str(tmp_path))
    seen, stages_seen = [], 0
    while launcher.poll() is None:  # sampling every command line, every 50 ms, while the crawl runs
        seen += cmdlines_with(SECRET)
        stages_seen = max(stages_seen, sum(1 for c in cmdlines_with("--log-level") if "zcrawl-" in c))
        time.sleep(0.05)
    stdout, stderr = launcher.communicate()
    assert launcher.returncode == 0, stdout + stderr
    assert stages_seen >= 4, "the stages were never seen running"
    assert seen == [], seen[:3]
    assert SECRET not in stdout + stderr
    assert_once(jsonl_ids(out), want)
