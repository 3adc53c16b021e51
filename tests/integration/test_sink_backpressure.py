"""test_sink_backpressure.py -- a sink in trouble costs time, never a page fetched
twice (issue 23, items 2-4): MongoDB behind a link too slow for a batch of the
fixed size within the writer's socket timeout, a full disk and a stopped MongoDB
for longer than the lease, and `zcrawl run --lease-ms` against a slow MongoDB.
Each crawl ends with every book stored once, and the emulator's duplicate-fetch
counter at 0.

Timing: 1000 books behind 50 ms of emulator latency and a per-host cap of 8 make a
crawl of several seconds; heartbeats of 200 ms and a lease of 3 s make a sink in
trouble for 10 s outlast three leases, so a page that nobody holds meanwhile is
fetched again. The stages HOLD every second, a third of the lease the harness
passes them."""
import json
import os
import re
import subprocess
import time

import pytest

from harness import Pipeline, Sitesim, assert_once, bin_path, fill_fs, mongo_ids, mounted_tmpfs, wait_for
from slow_mongo import SlowMongoProxy

HB = "200"
STAGE = ("--heartbeat-ms", HB)
LEASE_MS = 3000
BROKER = ["--max-per-host", "8", "--heartbeat-ms", HB, "--lease-ms", str(LEASE_MS), "--recover-ms", "1000"]
TROUBLE_S = 10  # how long a sink is full or down: more than three leases


def site(procs, books=1000, latency=50):
    sim = Sitesim(procs, "--books", str(books), "--latency-ms", str(latency))
    return sim, set(sim.ids()["reachable"])


def start(procs, redis, sim, mongo=None, out=None, writer_args=()):
    pl = Pipeline(procs, redis, sim.start_url, crawl="t", broker_args=BROKER)
    pl.start_broker()
    w = pl.start_writer(mongo, out, *(STAGE + ("--name", "w1") + tuple(writer_args)))
    pl.start_parser(*STAGE)
    for name in ("f1", "f2"):
        pl.start_fetcher("--name", name, *STAGE)
    return pl, w


def no_refetch(sim):
    dup = sim.stats()["duplicates"]
    assert dup == 0, "the emulator served %d pages twice" % dup


def wait_condition(procs, w, pl, cond, timeout=60):
    def seen():
        assert pl.broker.poll() is None, "the crawl ended before the sink was in trouble"
        return "condition=%s" % cond in procs.log(w)
    wait_for(seen, timeout, "the writer's STATUS %s" % cond)


def batch_sizes(log):
    """(from, to, why) of every batch_resized line of a writer log."""
    return [(int(a), int(b), why) for a, b, why in
            re.findall(r"event=batch_resized from=(\d+) to=(\d+) why=(\w+)", log)]


def test_mongo_slower_than_the_socket_timeout_shrinks_batches(procs, redis, mongo):
    """MongoDB behind a link of 40 KiB/s and a socket timeout of 2 s: a batch of the
    fixed size (500, some 1 MiB) can never be written in time, and retried whole
    it never was (the crawl stalled until --sink-fail-limit). Batches now halve on
    each timeout down to what the link carries, grow back while writes are quick,
    and a batch that timed out (which the server may still apply later) is written
    again without loss or duplicate. The first batch gathers for 2 s (--batch-ms),
    so that it is large, as in a crawl in full flow, however slowly this machine
    runs the crawl."""
    if mongo.port is None:
        pytest.skip("MongoDB from MONGODB_URI: the slow link needs a server the test started")
    proxy = SlowMongoProxy(mongo.port, chunk_delay=0.1)
    try:
        sim, want = site(procs, books=300)
        pl, w = start(procs, redis, sim, mongo=proxy.uri + "?socketTimeoutMS=2000", writer_args=("--batch-ms", "2000"))
        pl.wait_done(timeout=150)
        assert_once(mongo_ids(mongo.uri), want)
        no_refetch(sim)
        sizes = batch_sizes(procs.log(w))
        print("batch sizes: %s" % " ".join("%d->%d(%s)" % x for x in sizes))
        assert any(why == "timeout" for _, _, why in sizes), sizes
        smallest = min(b for _, b, _ in sizes)
        assert smallest < 100, sizes
    finally:
        proxy.close()


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MiB tmpfs, mounted for the test (needs root)."""
    yield from mounted_tmpfs(tmp_path / "fs", "4m")


def test_jsonl_disk_full_past_the_lease_fetches_nothing_twice(procs, redis, small_fs):
    """The disk stays full for three leases: every document the writer was sent
    meanwhile is held and HOLDed by it (it keeps reading), none sits unheld in a
    queue until its lease runs out, so no page is fetched twice; once space is
    freed every book is in the file once."""
    sim, want = site(procs)
    out, filler = small_fs / "books.jsonl", small_fs / "filler"
    fill_fs(filler, 300 * 1024)
    pl, w = start(procs, redis, sim, out=str(out))
    wait_condition(procs, w, pl, "sink_full")
    time.sleep(TROUBLE_S)
    assert w.poll() is None, "the writer died of a full disk"
    filler.unlink()
    pl.wait_done(timeout=120)
    data = out.read_bytes()
    assert data.endswith(b"\n"), "the file ends in a cut line"
    assert_once([json.loads(l)["_id"] for l in data.split(b"\n")[:-1]], want)
    no_refetch(sim)
    assert "condition=ok" in procs.log(w)


def test_mongo_stopped_past_the_lease_fetches_nothing_twice(procs, redis, mongo):
    """MongoDB stopped for three leases, then started again: no page fetched
    twice, every book stored once."""
    if not mongo.restartable():
        pytest.skip("MongoDB from MONGODB_URI cannot be stopped by the test")
    sim, want = site(procs)
    pl, w = start(procs, redis, sim, mongo=mongo.uri)
    pl.wait_stat("written", 150, timeout=60)
    assert int(pl.stats().get("written", "0")) < len(want) - 300, "too late for a mid-crawl outage"
    mongo.stop()
    wait_condition(procs, w, pl, "sink_down")
    time.sleep(TROUBLE_S)
    assert w.poll() is None, "the writer died with MongoDB"
    mongo.start()
    pl.wait_done(timeout=120)
    assert_once(mongo_ids(mongo.uri), want)
    no_refetch(sim)


def test_run_lease_reaches_the_stages(procs, tmp_path, mongo):
    """`zcrawl run --lease-ms 5000` with a MongoDB that takes 4 s per write: a
    document waits longer than 5 s in the writer, which must renew its lease within
    it (the stages used to HOLD every 10 s whatever the lease: pages fetched twice).
    The launcher passes its lease to every stage, whose hold interval is a third of
    it."""
    if mongo.port is None:
        pytest.skip("MongoDB from MONGODB_URI: the delaying proxy needs a server the test started")
    proxy = SlowMongoProxy(mongo.port, delay=4.0)
    try:
        sim, want = site(procs, books=600)
        logdir = tmp_path / "logs"
        argv = [bin_path("zcrawl"), "run", "--no-progress", "--lease-ms", "5000", "--mongo", proxy.uri,
                "--log-dir", str(logdir), "--timeout", "150", sim.start_url]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=str(tmp_path),
                           env=dict(os.environ, TMPDIR=str(tmp_path)))
        assert r.returncode == 0, r.stdout + r.stderr
        assert_once(mongo_ids(mongo.uri), want)
        no_refetch(sim)
        for stage in ("writer", "parser"):
            with open(str(logdir / ("%s-1.log" % stage))) as f:
                started = [l for l in f if "event=started " in l]
            assert started and "hold_ms=1666 " in started[0], started[:1]
    finally:
        proxy.close()
