"""test_proof.py -- pages and documents carry proof of their lease (issue 22, item 2).

A keyed pipeline (CURVE everywhere, the crawl secret at the broker, the parser and
the writer, not at the fetchers) crawls 300 books while someone holding only the
fetcher's keypair pushes forged PAGEs into the broker's pages-in: one for book
424242, which nobody leased, and a falsified body for a real book, without a proof,
with a made-up one, and with the real proof of another URL (what a fetcher holding
that URL's JOB has). Someone holding only the parser's keypair pushes forged DOCs
into docs-in. None is stored; each is counted (the parser's pages_unproven, shown
at the broker as the parser's problem; the writer's docs_unproven); the crawl
still stores every book exactly once, the real body."""
import hashlib
import hmac
import json
import os
import re
import stat
import subprocess

import bson
import zmq
import zmq.auth

from harness import Pipeline, Sitesim, assert_once, bin_path, hdr, jsonl_ids, wait_for

JOB, PAGE, DOC = 4, 6, 8


def keygen(path):
    r = subprocess.run([bin_path("zcrawl"), "keygen", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return str(path)


def proof_for(secret_hex, url, attempt=0):
    """The broker's proof of lease, made as docs/PROTOCOL.md says (not with zcrawl's code)."""
    mac = hmac.new(bytes.fromhex(secret_hex), ("%s\n%d" % (url, attempt)).encode(), hashlib.sha256)
    return ("%d:%s" % (attempt, mac.hexdigest()[:32])).encode()


def page(url, body, proof):
    return [hdr(PAGE), url.encode(), url.encode(), b"200", b"application/json", b"1700000000000", b"5",
            json.dumps(body).encode(), b"", proof]


def jsonl_docs(path):
    with open(path) as f:
        return {str(d["_id"]): d for d in map(json.loads, f)}


def test_keygen_writes_the_crawl_secret(tmp_path):
    d = keygen(tmp_path / "keys")
    p = os.path.join(d, "crawl.secret")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}\n", open(p).read())
    # A stage refuses a secret file that is not one, naming the flag, not the content.
    bad = tmp_path / "bad.secret"
    bad.write_text("not-a-secret\n")
    bad.chmod(0o600)
    r = subprocess.run([bin_path("parser"), "--secret-file", str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--secret-file" in r.stderr and "not-a-secret" not in r.stderr, r


def test_forged_pages_and_documents_are_dropped_and_counted(procs, redis, tmp_path):
    keys = keygen(tmp_path / "keys")
    secret_file = os.path.join(keys, "crawl.secret")
    secret = open(secret_file).read().strip()
    broker_pub = zmq.auth.load_certificate(os.path.join(keys, "broker.key"))[0]
    sim = Sitesim(procs, "--books", "300", "--latency-ms", "20")
    want = set(sim.ids()["reachable"])
    real, real2 = sorted(want)[:2]
    out = str(tmp_path / "books.jsonl")
    pl = Pipeline(procs, redis, sim.start_url,
                  broker_args=["--stats-ms", "100", "--max-per-host", "4", "--keys", keys,
                               "--secret-file", secret_file])
    pl.start_broker()
    assert 'proof="hmac-sha256' in procs.log(pl.broker)
    writer = pl.start_writer(None, out, "--keys", keys, "--secret-file", secret_file)
    parser = pl.start_parser("--keys", keys, "--secret-file", secret_file)
    wait_for(lambda: "proof=checked" in procs.log(parser) and "proof=checked" in procs.log(writer), 20,
             "the parser and the writer say they check proofs")

    ctx = zmq.Context()
    try:
        def sock(kind, ep, role):
            s = ctx.socket(kind)
            s.setsockopt(zmq.LINGER, 2000)
            s.curve_serverkey = broker_pub
            s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(
                os.path.join(keys, role + ".key_secret"))
            s.connect(ep)
            return s

        base = sim.base + "/api/book/"
        book = sim.json("/api/book/%s" % real)
        forged = dict(book, name="FORGED by a fetcher key")
        unleased = dict(book, id=424242, name="planted by a fetcher key")
        # Before any fetcher runs: before this fix each of these became a document at once.
        fetcher_key = sock(zmq.PUSH, pl.ep["pages_in"], "fetcher")
        for msg in (page(base + "424242", unleased, b""),
                    page(base + "424242", unleased, b"0:" + b"0" * 32),
                    page(base + real, forged, b""),
                    page(base + real, forged, proof_for(secret, sim.start_url))):
            fetcher_key.send_multipart(msg)
        parser_key = sock(zmq.PUSH, pl.ep["docs_in"], "parser")
        book2 = sim.json("/api/book/%s" % real2)
        parser_key.send_multipart([hdr(DOC), (base + "424243").encode(),
                                   bson.encode(dict(book2, _id="424243", name="planted by a parser key")), b""])
        parser_key.send_multipart([hdr(DOC), (base + real2).encode(),
                                   bson.encode(dict(book2, _id=str(real2), name="FORGED by a parser key")),
                                   proof_for(secret, base + real)])

        # Counted, and the broker shows it: the parser's problem.
        wait_for(lambda: "pages_unproven: 4 pages dropped" in pl.stats().get("problem", ""), 30,
                 "the broker's problem naming the parser's 4 unproven pages", details=pl.stats)
        wait_for(lambda: "event=doc_unproven" in procs.log(writer), 30, "the writer's doc_unproven line")
        plog = procs.log(parser)
        assert "event=page_unproven" in plog and "proof=missing" in plog, plog[-2000:]

        pl.start_fetcher("--keys", keys)
        pl.start_fetcher("--keys", keys)
        pl.wait_done(timeout=180)
    finally:
        ctx.destroy(linger=0)

    assert_once(jsonl_ids(out), want)
    docs = jsonl_docs(out)
    assert "424242" not in docs and "424243" not in docs
    assert docs[str(real)]["name"] == book["name"], docs[str(real)]
    assert docs[str(real2)]["name"] == book2["name"], docs[str(real2)]
    assert re.search(r"event=stopped .*pages_unproven=4\b", procs.log(parser)), procs.log(parser)[-1500:]
    assert re.search(r"event=exit .*docs_unproven=2\b", procs.log(writer)), procs.log(writer)[-1500:]
    assert int(pl.stats()["written"]) == len(want)


def test_deployments_hand_the_secret_to_broker_parsers_writers_only():
    """The compose and stack files and the systemd units give the crawl secret to the
    broker, parsers and writers, with ZCRAWL_SECRET_FILE pointing at it, and never to
    a fetcher."""
    import yaml
    root = os.path.join(os.path.dirname(__file__), "..", "..", "deploy")
    for name in ("docker-compose.yml", "docker-stack.yml"):
        with open(os.path.join(root, name)) as f:
            services = yaml.safe_load(f)["services"]
        for svc in ("broker", "parser", "writer", "fetcher"):
            s = services[svc]
            held = [x if isinstance(x, str) else x["source"] for x in s.get("secrets", [])]
            env = s.get("environment", {})
            if svc == "fetcher":
                assert "crawl_secret" not in held and "ZCRAWL_SECRET_FILE" not in env, (name, svc)
                assert not any("crawl.secret" in v for v in s.get("volumes", [])), (name, svc)
            else:
                assert "crawl_secret" in held, (name, svc, held)
                assert env.get("ZCRAWL_SECRET_FILE") == "/run/secrets/crawl_secret", (name, svc, env)
    for unit in os.listdir(os.path.join(root, "systemd")):
        if not unit.endswith(".service"):
            continue
        text = open(os.path.join(root, "systemd", unit)).read()
        has = "crawl.secret" in text and "ZCRAWL_SECRET_FILE=%d/crawl.secret" in text
        assert has == ("fetcher" not in unit), unit


def test_zcrawl_run_gives_the_secret_to_broker_parsers_writers(procs, tmp_path):
    """`zcrawl run` with its fresh keys makes a crawl secret (mode 0600) and hands it
    to the broker, the parsers and the writers (a fetcher would refuse the flag:
    exit 2): every page and document proves its lease and none is dropped."""
    sim = Sitesim(procs, "--books", "100")
    out, logs = tmp_path / "out.jsonl", tmp_path / "logs"
    r = subprocess.run([bin_path("zcrawl"), "run", "--no-progress", "--out", str(out), "--log-dir", str(logs),
                        "--timeout", "120", sim.start_url], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert stat.S_IMODE(os.stat(logs / "crawl.secret").st_mode) == 0o600
    assert_once(jsonl_ids(str(out)), set(sim.ids()["reachable"]))

    def log(name):
        return (logs / name).read_text(errors="replace")
    assert 'proof="hmac-sha256' in log("broker-1.log")
    for name in ("parser-1.log", "writer-1.log"):
        assert "proof=checked" in log(name), log(name)[-1500:]
    assert re.search(r"event=stopped .*pages_unproven=0\b", log("parser-1.log"))
    assert re.search(r"event=exit .*docs_unproven=0\b", log("writer-1.log"))
