"""test_faults.py -- crash any stage, lose nothing (issue "Crash any stage, lose
nothing"). Each test runs a real crawl against the emulator, does real damage in the
middle of it (kill -9 of a stage, Redis or the MongoDB-wire server going away,
SIGTERM to everything, a faulty site) and ends with exactly one document per
reachable book and no duplicate.

Sinks: the promise "exactly one document per book" rests on idempotent upserts by
_id, so every test that kills or cuts something uses the MongoDB sink. A JSON Lines
file is an append log: after a crash a batch that was written but not confirmed is
written again, so there it is at-least-once lines (dedupe by _id, the last line
wins). test_writer_kill9_jsonl_is_at_least_once checks that weaker promise, and
test_emulator_faults_all_at_once (no crash, only a faulty site) checks exact once
with a JSON Lines file, where a duplicate would show.

Timing: catalogues of 1000-2000 books behind 50 ms of emulator latency and a
per-host cap of 8 make each crawl last several seconds, long enough to hit it in
the middle; heartbeats of 200 ms, leases of 4 s (held ones renewed every second)
and --recover-ms 1000 make the recovery paths quick.

Two writer tests drive a lone writer through harness.FakeBroker to pin down, without
timing luck, what the crash tests can only hit by chance: a torn last line left in
a JSON Lines file by a killed writer, and one _id twice in a batch (what any
redelivery produces)."""
import collections
import json
import re
import signal
import time

import bson
import pytest

from harness import Pipeline, Sitesim, assert_once, bin_path, hdr, jsonl_ids, mongo_ids, wait_exit, wait_for, wait_log

HELLO, DOC, WRITTEN, DEAD = 1, 8, 9, 10
HB = "200"
STAGE = ("--heartbeat-ms", HB)
FAST_BROKER = ["--max-per-host", "8", "--heartbeat-ms", HB, "--lease-ms", "4000",
               "--recover-ms", "1000"]


@pytest.fixture(autouse=True)
def hold_ms(monkeypatch):
    """HOLD every second, as test_writer_faults.py does: with leases of 4 s the
    default (10 s) lets every lease a slow write holds run out, and under load
    (parallel tests, ASan) the crawl then fetches its pages again and again."""
    monkeypatch.setenv("ZCRAWL_HOLD_MS", "1000")


def site(procs, books=1000, latency=50, *extra):
    sim = Sitesim(procs, "--books", str(books), "--latency-ms", str(latency), *extra)
    ids = sim.ids()
    want = set(ids["reachable"])
    assert len(want) == books - books // 300
    return sim, want, ids


def pipeline(procs, redis, sim, broker_args=FAST_BROKER, crawl="t"):
    return Pipeline(procs, redis, sim.start_url, crawl=crawl, broker_args=list(broker_args))


def start_stages(pl, mongo=None, out=None, fetchers=("f1", "f2")):
    """Writer, parser and the named fetchers, all with the short heartbeat."""
    st = {"writer": pl.start_writer(mongo, out, *STAGE), "parser": pl.start_parser(*STAGE)}
    for name in fetchers:
        st[name] = pl.start_fetcher("--name", name, *STAGE)
    return st


def mid_crawl(pl, want, field="fetched", at_least=300):
    """Waits until the crawl is well under way and checks it is not over yet."""
    pl.wait_stat(field, at_least, timeout=60)
    st = pl.stats()
    assert pl.broker.poll() is None, "the crawl ended before the fault: %s" % st
    assert int(st.get("written", "0")) < len(want) - 100, "too late for a mid-crawl fault: %s" % st
    return st


def check_done(pl, want, ids, got_ids, timeout=60):
    pl.wait_done(timeout=timeout)
    assert_once(got_ids(), want)
    st = pl.stats()
    assert st["state"] == "done", st
    assert int(st["written"]) == len(want), st
    assert int(st["gone"]) == len(ids["missing"]), st
    assert pl.dead() == [], pl.dead()[:5]
    return st


def peer_expired(log, name):
    """(held, requeued) of every event=peer_expired for name in a broker log."""
    out = []
    for m in re.finditer(r"event=peer_expired name=(\S+) held=(\d+) requeued=(\d+)", log):
        if m.group(1) == name:
            out.append((int(m.group(2)), int(m.group(3))))
    return out


def wait_expired(procs, pl, name):
    """Waits until the broker has forgotten a killed stage (event=peer_expired with
    a name like name, a regular expression)."""
    wait_log(procs, pl.broker, r"event=peer_expired name=%s " % name, timeout=10)


def default_name(role, p):
    """The name a stage started without --name says in HELLO: role-HOST-PID."""
    return r"%s-\S+-%d" % (role, p.pid)


# ---------------------------------------------------------------- fetchers

def test_fetcher_kill9_and_restart(procs, redis, mongo):
    sim, want, ids = site(procs)
    pl = pipeline(procs, redis, sim)
    pl.start_broker()
    st = start_stages(pl, mongo=mongo.uri)
    mid_crawl(pl, want)
    procs.kill9(st["f1"])
    wait_expired(procs, pl, "f1")
    assert pl.broker.poll() is None
    again = pl.start_fetcher("--name", "f1-again", *STAGE)
    check_done(pl, want, ids, lambda: mongo_ids(mongo.uri))
    log = procs.log(pl.broker)
    exp = peer_expired(log, "f1")
    assert exp and exp[0][0] > 0, "the killed fetcher's jobs were not taken back:\n%s" % log[-3000:]
    assert "event=peer_joined role=fetcher name=f1-again" in log
    # The restarted fetcher did real work, and left on SHUTDOWN.
    assert wait_exit(again, 10) == 0
    assert re.search(r"event=stats jobs=[1-9]", procs.log(again)), procs.log(again)[-2000:]


def test_fetcher_killed_for_good_leases_come_back(procs, redis, mongo):
    sim, want, ids = site(procs)
    pl = pipeline(procs, redis, sim)
    pl.start_broker()
    st = start_stages(pl, mongo=mongo.uri)
    mid_crawl(pl, want)
    procs.kill9(st["f2"])
    t_kill = time.time()
    # Its leases must come back within a few heartbeats, not after --lease-ms.
    exp = wait_for(lambda: peer_expired(procs.log(pl.broker), "f2"), 10, "event=peer_expired for the killed fetcher")
    took = time.time() - t_kill
    held, requeued = exp[0]
    assert held > 0 and requeued > 0, exp
    assert took < 3.0, "the dead fetcher was noticed after %.1fs" % took
    check_done(pl, want, ids, lambda: mongo_ids(mongo.uri))
    assert wait_exit(st["f1"], 10) == 0  # the survivor finished the crawl and got SHUTDOWN
    assert peer_expired(procs.log(pl.broker), "f1") == []


# ---------------------------------------------------------------- parser and writer

def test_parser_kill9_and_restart(procs, redis, mongo):
    sim, want, ids = site(procs)
    pl = pipeline(procs, redis, sim)
    pl.start_broker()
    st = start_stages(pl, mongo=mongo.uri)
    mid_crawl(pl, want)
    procs.kill9(st["parser"])
    wait_expired(procs, pl, default_name("parser", st["parser"]))
    assert pl.broker.poll() is None
    pl.start_parser(*STAGE)
    stats = check_done(pl, want, ids, lambda: mongo_ids(mongo.uri))
    print("parser kill: expired=%s retried=%s emulator duplicates=%d"
          % (stats.get("expired"), stats.get("retried"), sim.stats()["duplicates"]))


def test_writer_kill9_and_restart_mongo(procs, redis, mongo):
    sim, want, ids = site(procs)
    pl = pipeline(procs, redis, sim)
    pl.start_broker()
    st = start_stages(pl, mongo=mongo.uri)
    mid_crawl(pl, want, "written", 200)
    procs.kill9(st["writer"])
    wait_expired(procs, pl, default_name("writer", st["writer"]))
    assert pl.broker.poll() is None
    pl.start_writer(mongo.uri, None, *STAGE)
    stats = check_done(pl, want, ids, lambda: mongo_ids(mongo.uri))
    print("writer kill (mongo): expired=%s emulator duplicates=%d"
          % (stats.get("expired"), sim.stats()["duplicates"]))


def test_writer_kill9_jsonl_is_at_least_once(procs, redis, tmp_path):
    """JSON Lines cannot be exactly-once across a kill -9 (a batch written and not
    confirmed is written again). What it must give: every book, every line a whole
    JSON document (a torn last line of the killed writer at most), and duplicates
    only of documents the killed writer had in hand."""
    sim, want, ids = site(procs)
    out = str(tmp_path / "books.jsonl")
    pl = pipeline(procs, redis, sim)
    pl.start_broker()
    st = start_stages(pl, out=out)
    mid_crawl(pl, want, "written", 200)
    procs.kill9(st["writer"])
    with open(out, "rb") as f:
        at_kill = f.read()
    wait_expired(procs, pl, default_name("writer", st["writer"]))
    pl.start_writer(None, out, *STAGE)
    pl.wait_done(timeout=60)
    with open(out, "rb") as f:
        data = f.read()
    assert data.startswith(at_kill[:at_kill.rfind(b"\n") + 1])  # the whole lines stay
    lines = data.split(b"\n")
    assert lines[-1] == b"", "the file does not end with a newline"
    got, bad = [], []
    for i, line in enumerate(lines[:-1]):
        try:
            got.append(json.loads(line)["_id"])
        except ValueError:
            bad.append(i)
    # A line torn by the kill is cut by the next writer.
    torn_at = at_kill.count(b"\n") if not at_kill.endswith(b"\n") else None
    assert bad == [], (bad, torn_at)
    assert set(got) == want, "missing %s" % sorted(want - set(got))[:10]
    dups = [i for i, n in collections.Counter(got).items() if n > 1]
    print("writer kill (jsonl): %d lines, %d duplicated ids, torn line: %s"
          % (len(got), len(dups), torn_at))
    # The duplicates are documents of the killed writer's last, unconfirmed
    # batches: at most what --batch (500) lets it hold.
    assert len(dups) <= 500, len(dups)
    assert int(pl.stats()["written"]) == len(want)


def start_lone_writer(procs, fb, *sink):
    fb.docs = fb.bind("docs", "push")
    p = procs.start("writer", [bin_path("writer"), "--broker", fb.control_ep, "--docs", fb.docs,
                               "--heartbeat-ms", HB, "--batch-ms", "300"] + list(sink))
    fb.wait(lambda: fb.of_type(HELLO), 10, "HELLO from the writer")
    return p


def written_urls(fb):
    return [u.decode() for f in fb.of_type(WRITTEN) for u in f[0].split(b"\n")]


def test_writer_restarted_on_torn_jsonl_line(procs, fb, tmp_path):
    """A writer killed inside write(2) leaves a torn last line (SIGKILL can cut a
    write to a regular file between pages). The next writer appending to the same
    file must start its documents on a line of their own, or its first document
    is glued to the torn line and lost to every reader."""
    out = tmp_path / "books.jsonl"
    out.write_bytes(b'{"_id": "1", "name": "whole"}\n{"_id": "2", "na')
    p = start_lone_writer(procs, fb, "--out", str(out))
    for i in (3, 4):
        fb.push("docs", [hdr(DOC), b"http://x/api/book/%d" % i, bson.encode({"_id": str(i), "name": "new"})])
    fb.wait(lambda: len(written_urls(fb)) >= 2, 10, "WRITTEN for both documents")
    p.send_signal(signal.SIGTERM)
    assert wait_exit(p, 15) == 0
    readable = []
    for line in out.read_bytes().split(b"\n"):
        try:
            readable.append(json.loads(line)["_id"])
        except ValueError:
            pass
    assert readable == ["1", "3", "4"], "readable documents %s in:\n%s" % (readable, out.read_text())


def test_writer_same_id_twice_in_one_batch_mongo(procs, fb, mongo):
    """After any redelivery (a lease that ran out, a restarted stage) the same book
    can reach a writer twice within one batch. Both must be confirmed, one
    document stored, and the batch must not stall."""
    import pymongo
    p = start_lone_writer(procs, fb, "--mongo", mongo.uri, "--db", "zc_f_dup")
    url = lambda i: b"http://x/api/book/%d" % i
    fb.push("docs", [hdr(DOC), url(1), bson.encode({"_id": "1", "v": 0})])
    fb.wait(lambda: len(written_urls(fb)) >= 1, 10, "WRITTEN for the first document")
    # One batch (--batch-ms 300): 2 twice, 1 again (already stored), 3..9 new.
    batch = [(2, 1), (3, 1), (2, 2), (1, 2)] + [(i, 1) for i in range(4, 10)]
    for i, v in batch:
        fb.push("docs", [hdr(DOC), url(i), bson.encode({"_id": str(i), "v": v})])
    fb.wait(lambda: len(written_urls(fb)) >= 1 + len(batch), 20,
            "WRITTEN for a batch holding one _id twice")
    assert sorted(written_urls(fb)) == sorted(u.decode() for u in [url(1)] + [url(i) for i, _ in batch])
    c = pymongo.MongoClient(mongo.uri, serverSelectionTimeoutMS=5000)
    try:
        docs = {d["_id"]: d["v"] for d in c.zc_f_dup.books.find()}
    finally:
        c.close()
    assert sorted(docs, key=int) == [str(i) for i in range(1, 10)], docs
    assert docs["1"] == 2 and docs["2"] == 2, docs  # the later copy wins
    assert fb.of_type(DEAD) == []
    assert p.poll() is None


# ---------------------------------------------------------------- broker and Redis

def test_broker_kill9_and_restart(procs, redis, mongo):
    sim, want, ids = site(procs)
    pl = pipeline(procs, redis, sim)
    first = pl.start_broker()
    st = start_stages(pl, mongo=mongo.uri)
    mid_crawl(pl, want)
    procs.kill9(first)
    for p in st.values():  # every stage has noticed, and runs without a broker
        wait_log(procs, p, "event=broker_silent ", timeout=10)
    second = pl.start_broker()
    check_done(pl, want, ids, lambda: mongo_ids(mongo.uri))
    log = procs.log(second)
    m = re.search(r"event=recovering leases=(\d+)", log)
    assert m and int(m.group(1)) > 0, "the new broker did not take over the old leases:\n%s" % log[:3000]
    for role in ("fetcher", "parser", "writer"):
        assert "event=peer_joined role=%s" % role in log, role


@pytest.mark.parametrize("how", ["stop", "kill9"])
def test_redis_restart(procs, mongo, how):
    from harness import Redis
    redis = Redis(procs, appendonly=True)
    sim, want, ids = site(procs)
    pl = pipeline(procs, redis, sim)
    pl.start_broker()
    start_stages(pl, mongo=mongo.uri)
    mid_crawl(pl, want)
    if how == "kill9":
        # The sleep is the test's: appendfsync everysec promises what is older than a
        # second is on disk, and no Redis reply says when a given write got there.
        time.sleep(1.2)
    redis.stop(kill=(how == "kill9"))
    wait_log(procs, pl.broker, "event=redis_error ", timeout=10)
    assert pl.broker.poll() is None, "the broker died with Redis:\n%s" % procs.log(pl.broker)[-2000:]
    redis.start()
    check_done(pl, want, ids, lambda: mongo_ids(mongo.uri))
    log = procs.log(pl.broker)
    assert "event=redis_reconnected" in log, log[-3000:]


def cached_scripts(redis):
    """How many Lua scripts the Redis server holds (INFO memory)."""
    m = re.search(r"number_of_cached_scripts:(\d+)", redis.cli("INFO", "memory"))
    assert m, "no number_of_cached_scripts in INFO"
    return int(m.group(1))


def test_script_flush_mid_crawl(procs, redis, tmp_path):
    """Redis forgets the broker's Lua scripts mid-crawl (SCRIPT FLUSH; the same
    as a Redis restarted empty of them, or another cluster node after a MOVED):
    the broker calls them by SHA1, so every call answers NOSCRIPT until the
    script is loaded again. It loads each where that happens and the crawl ends
    with every book exactly once, no Redis error logged."""
    sim, want, ids = site(procs)
    out = str(tmp_path / "books.jsonl")
    pl = pipeline(procs, redis, sim)
    pl.start_broker()
    start_stages(pl, out=out)
    mid_crawl(pl, want)
    assert cached_scripts(redis) > 0
    assert redis.cli("SCRIPT", "FLUSH").strip() == "OK"
    check_done(pl, want, ids, lambda: jsonl_ids(out))
    assert cached_scripts(redis) > 0  # loaded again, by the broker
    log = procs.log(pl.broker)
    assert "NOSCRIPT" not in log and "event=redis_error" not in log, log[-3000:]
    assert sim.stats()["duplicates"] == 0


# ---------------------------------------------------------------- MongoDB

@pytest.mark.long
def test_mongo_outage_mid_crawl(procs, redis, mongo):
    if not mongo.restartable():
        pytest.skip("MongoDB from MONGODB_URI cannot be stopped by the test")
    sim, want, ids = site(procs)
    pl = pipeline(procs, redis, sim)
    pl.start_broker()
    st = start_stages(pl, mongo=mongo.uri)
    mid_crawl(pl, want, "written", 200)
    mongo.stop()
    # A retry failed too: the writer lives through the outage, not only its first failure.
    wait_log(procs, st["writer"], r"event=write_failed .*attempt=([2-9]|\d\d)", timeout=30)
    assert st["writer"].poll() is None, "the writer died with MongoDB"
    mongo.start()
    check_done(pl, want, ids, lambda: mongo_ids(mongo.uri))
    log = procs.log(st["writer"])
    assert "event=write_failed" in log and "event=write_recovered" in log, log[-3000:]


# ---------------------------------------------------------------- signals

def test_sigterm_everything_then_resume(procs, redis, mongo):
    sim, want, ids = site(procs)
    pl = pipeline(procs, redis, sim)
    pl.start_broker()
    st = start_stages(pl, mongo=mongo.uri)
    mid_crawl(pl, want)
    allp = [pl.broker] + list(st.values())
    t0 = time.time()
    for p in allp:
        p.send_signal(signal.SIGTERM)
    for p in allp:
        rc = wait_exit(p, max(0.1, 15 - (time.time() - t0)))
        want_rc = 3 if p is pl.broker else 0  # the broker: stopped, resumable
        assert rc == want_rc, "pid %d exited %d:\n%s" % (p.pid, rc, procs.log(p)[-2000:])
    stats = pl.stats()
    assert stats["state"] == "stopped", stats
    meta = pl.redis.hgetall(pl.key("meta"))
    assert meta["state"] == "stopped" and meta["reason"], meta
    assert int(stats["written"]) < len(want), stats
    # Second run: same crawl name, same Redis, the same start URL (seeding is idempotent).
    pl.start_broker()
    start_stages(pl, mongo=mongo.uri)
    check_done(pl, want, ids, lambda: mongo_ids(mongo.uri))


# ---------------------------------------------------------------- the site

def test_emulator_faults_all_at_once(procs, redis, tmp_path):
    sim, want, ids = site(procs, 2000, 5, "--jitter-ms", "5", "--fail-500", "0.05",
                          "--fail-429", "0.03", "--fail-drop", "0.02", "--fail-truncate", "0.01",
                          "--retry-after", "0")
    out = str(tmp_path / "books.jsonl")
    pl = pipeline(procs, redis, sim, ["--max-per-host", "16", "--retry-base-ms", "50",
                                      "--max-retries", "30"])
    pl.start_all(fetchers=2, out=out)
    pl.wait_done(timeout=60)
    assert_once(jsonl_ids(out), want)
    st = pl.stats()
    assert pl.dead() == [], pl.dead()[:5]
    assert int(st["written"]) == len(want)
    assert int(st["gone"]) == len(ids["missing"])
    s = sim.stats()
    f = s["faults"]
    assert all(f[k] > 0 for k in ("500", "429", "drop", "truncate")), f
    # Every 500 and 429 is a retry; a drop or a truncated answer is one too unless
    # libcurl retried a dropped request on a fresh connection by itself.
    assert f["500"] + f["429"] <= int(st["retried"]) <= f["500"] + f["429"] + f["drop"] + f["truncate"], (st, f)
    assert s["duplicates"] == 0, s
