"""test_writer_faults.py -- whole crawls with the writer in trouble: killed three
times, stalled past the lease, Redis restarted under it, its disk full, its
MongoDB slow. Each ends with every book exactly once; a JSON Lines file also has
no cut line (issue 11: JSON Lines exactly once, a slow sink is not a dead one).

Timing as in test_faults.py: 1000 books behind 50 ms of emulator latency and a
per-host cap of 8 make a crawl of several seconds; heartbeats of 200 ms and
leases of 4 s make expiry and recovery quick, so a stall or a slow write that
the writer does not survive shows at once."""
import json
import os
import re
import signal
import time

import pytest

from harness import Pipeline, Redis, Sitesim, assert_once, fill_fs, mongo_ids, mounted_tmpfs

HB = "200"
STAGE = ("--heartbeat-ms", HB)
WRITER = STAGE
FAST_BROKER = ["--max-per-host", "8", "--heartbeat-ms", HB, "--lease-ms", "4000", "--recover-ms", "1000"]


@pytest.fixture(autouse=True)
def hold_ms(monkeypatch):
    """HOLD every second (the lease is 4 s), by environment: the stages take it from
    there, and a writer that does not know it (main's, to show these tests fail
    there) still starts."""
    monkeypatch.setenv("ZCRAWL_HOLD_MS", "1000")


def site(procs, books=1000, latency=50):
    sim = Sitesim(procs, "--books", str(books), "--latency-ms", str(latency))
    ids = sim.ids()
    return sim, set(ids["reachable"])


def start(procs, redis, sim, mongo=None, out=None, writer_args=()):
    pl = Pipeline(procs, redis, sim.start_url, crawl="t", broker_args=FAST_BROKER)
    pl.start_broker()
    w = pl.start_writer(mongo, out, *(WRITER + tuple(writer_args)))
    pl.start_parser(*STAGE)
    for name in ("f1", "f2"):
        pl.start_fetcher("--name", name, *STAGE)
    return pl, w


def lines_once(path, want):
    """Every line of the file whole, every book in it exactly once."""
    with open(path, "rb") as f:
        data = f.read()
    assert data.endswith(b"\n"), "the file ends in a cut line: %r" % data[-80:]
    ids = []
    for i, line in enumerate(data.split(b"\n")[:-1]):
        try:
            ids.append(json.loads(line)["_id"])
        except ValueError:
            raise AssertionError("line %d is cut or not JSON: %r" % (i, line[:100]))
    assert_once(ids, want)


def written(pl):
    return int(pl.stats().get("written", "0"))


def kill_after_append(procs, w, out, timeout=10):
    """kill -9 of the writer the moment its file grows: inside the window between
    an append and its WRITTEN reaching the broker (the sync, the report), where a
    crash leaves a batch in the file that the broker will hand out again."""
    size = os.path.getsize(out)
    end = time.time() + timeout
    while os.path.getsize(out) == size and time.time() < end:
        time.sleep(0.0002)
    procs.kill9(w)


def test_jsonl_writer_kill9_three_times(procs, redis, tmp_path):
    """kill -9 of the writer three times mid-crawl: a batch appended and synced
    but not yet confirmed comes back after the restart and must not be appended
    again; a line torn by the kill must not stay."""
    sim, want = site(procs)
    out = str(tmp_path / "books.jsonl")
    pl, w = start(procs, redis, sim, out=out)
    for at in (150, 350, 550):
        pl.wait_stat("written", at, timeout=60)
        assert pl.broker.poll() is None and written(pl) < len(want) - 100, "too late for a kill: %s" % pl.stats()
        kill_after_append(procs, w, out)
        time.sleep(1)
        w = pl.start_writer(None, out, *WRITER)
    pl.wait_done(timeout=120)
    lines_once(out, want)


def test_jsonl_writer_stalled_past_the_lease(procs, redis, tmp_path):
    """SIGSTOP of the writer for longer than the lease: its documents are fetched
    again and delivered a second time; after SIGCONT the file still holds each
    book once."""
    sim, want = site(procs)
    out = str(tmp_path / "books.jsonl")
    pl, w = start(procs, redis, sim, out=out)
    pl.wait_stat("written", 200, timeout=60)
    os.kill(w.pid, signal.SIGSTOP)
    try:
        time.sleep(6)
    finally:
        os.kill(w.pid, signal.SIGCONT)
    pl.wait_done(timeout=120)
    lines_once(out, want)


def test_jsonl_redis_restart_with_aof(procs, tmp_path):
    """Redis killed and restarted from its AOF mid-crawl (up to a second of state
    lost): what was written again must not be appended again."""
    redis = Redis(procs, appendonly=True)
    sim, want = site(procs)
    out = str(tmp_path / "books.jsonl")
    pl, w = start(procs, redis, sim, out=out)
    pl.wait_stat("written", 200, timeout=60)
    redis.stop(kill=True)
    time.sleep(2)
    redis.start()
    pl.wait_done(timeout=120)
    lines_once(out, want)


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MiB tmpfs, mounted for the test (needs root)."""
    yield from mounted_tmpfs(tmp_path / "fs", "4m")


def test_jsonl_full_disk_mid_crawl(procs, redis, small_fs):
    """The disk fills up mid-crawl and is freed again: no cut line at any time,
    the writer says sink_full (its STATUS, which the broker publishes as the
    crawl's problem), and in the end every book is in the file exactly once."""
    sim, want = site(procs)
    out = small_fs / "books.jsonl"
    filler = small_fs / "filler"
    fill_fs(filler, 300 * 1024)
    pl, w = start(procs, redis, sim, out=str(out))
    deadline = time.time() + 60
    while "condition=sink_full" not in procs.log(w):
        assert time.time() < deadline, "no STATUS sink_full:\n%s" % procs.log(w)[-3000:]
        assert pl.broker.poll() is None, "the crawl ended before the disk was full"
        time.sleep(0.1)
    problems = []
    for _ in range(30):  # 3 s full
        problems.append(pl.stats().get("problem", ""))
        data = out.read_bytes()
        assert data.endswith(b"\n"), "a cut line while the disk is full: %r" % data[-80:]
        time.sleep(0.1)
    assert w.poll() is None, "the writer died of a full disk:\n%s" % procs.log(w)[-2000:]
    filler.unlink()
    pl.wait_done(timeout=120)
    lines_once(str(out), want)
    assert "condition=ok" in procs.log(w)
    # The broker's half (branch broker): the stats hash names the problem.
    assert any("sink_full" in p for p in problems), "stats never named the full disk: %s" % problems[-3:]


def test_slow_mongo_no_expiry_no_refetch(procs, redis, mongo):
    """MongoDB behind a proxy that holds every write 1.5 s (7 heartbeat intervals):
    the writer is never declared expired, the crawl ends with every book once, and
    the emulator serves no page twice (the writer's HOLD keeps its documents'
    leases; the broker's half of HOLD is on branch broker)."""
    from slow_mongo import SlowMongoProxy
    if mongo.port is None:
        pytest.skip("MongoDB from MONGODB_URI: the delaying proxy needs a server the test started")
    proxy = SlowMongoProxy(mongo.port, delay=1.5)
    try:
        sim, want = site(procs)
        pl, w = start(procs, redis, sim, mongo=proxy.uri, writer_args=("--name", "w1", "--batch", "100"))
        pl.wait_done(timeout=180)
        assert_once(mongo_ids(mongo.uri), want)
        assert proxy.writes >= 5, proxy.writes
        log = procs.log(pl.broker)
        expired = re.findall(r"event=peer_expired name=w1\b.*", log)
        assert not expired, "the slow writer was declared expired: %s" % expired
        dup = sim.stats()["duplicates"]
        assert dup == 0, "the emulator served %d pages twice" % dup
    finally:
        proxy.close()
