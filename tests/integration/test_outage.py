"""test_outage.py -- the broker through Redis outages (issue 23, item 5): it waits
for Redis without spinning, gives the leases it holds in memory the outage's
length back as Redis's get it (so it forgets no URL that fetchers still hold),
and a failure that comes back after every recovery (a hand-edited key of the
wrong type) ends the crawl after --redis-fail-limit-ms instead of restarting the
outage clock forever.

Every test runs the real stages and the real broker against a private
redis-server and the emulator, whose /__stats counts requests per URL."""
import os

from harness import Pipeline, Redis, Sitesim, assert_once, jsonl_ids, wait_exit, wait_for


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def outage_crawl(procs, tmp_path, books, latency_ms, lease_ms, cap):
    """A crawl of the emulator into books.jsonl, on a Redis with its append-only
    file, so that a test can stop and start Redis and lose nothing."""
    redis = Redis(procs, appendonly=True)
    sim = Sitesim(procs, "--books", str(books), "--latency-ms", str(latency_ms))
    out = tmp_path / "books.jsonl"
    pl = Pipeline(procs, redis, sim.start_url,
                  broker_args=["--lease-ms", str(lease_ms), "--max-per-host", str(cap)])
    pl.start_all(out=str(out))
    return redis, sim, pl, out


def assert_recovered_once(procs, pl, sim, out):
    """The broker saw Redis come back, forgot no lease its fetchers held, and
    every book was fetched and written once."""
    log = procs.log(pl.broker)
    assert "event=redis_recovered" in log, log[-3000:]
    assert "event=leases_lapsed" not in log, [l for l in log.splitlines() if "leases_lapsed" in l]
    assert sim.stats()["duplicates"] == 0, sim.stats()
    assert_once(jsonl_ids(str(out)), set(sim.ids()["reachable"]))


def test_redis_down_10s_no_spin_no_lapse_no_refetch(procs, tmp_path):
    """Redis stopped for 10 s (longer than the 4 s lease) mid-crawl, then started
    again from its append-only file. The broker sleeps until each reconnect (it
    polled with a zero timeout: some 100 000 turns a second, a whole core); once
    Redis is back no lease it holds in memory is taken for lapsed (their deadlines
    were not shifted as Redis's were: 'leases_lapsed', URLs forgotten while fetchers
    held them), no page is fetched twice, every book is written once."""
    redis, sim, pl, out = outage_crawl(procs, tmp_path, books=1500, latency_ms=30, lease_ms=4000, cap=4)
    pl.wait_stat("fetched", 200, timeout=60)
    redis.stop()
    t0, c0 = os.times().elapsed, cpu_seconds(pl.broker.pid)
    wait_for(lambda: "event=redis_error" in procs.log(pl.broker), 10, "the broker to notice Redis is gone")
    wait_for(lambda: os.times().elapsed - t0 >= 10, 15, "10 s of outage", step=0.2)
    cpu, secs = cpu_seconds(pl.broker.pid) - c0, os.times().elapsed - t0
    redis.start()
    pl.wait_done(timeout=180)
    print("broker CPU over a %.1f s Redis outage: %.2f s" % (secs, cpu))
    assert cpu < 1.0, "the broker burnt %.2f CPU s in a 10 s outage" % cpu
    assert_recovered_once(procs, pl, sim, out)


def test_failure_after_every_recovery_ends_the_crawl(procs, redis, tmp_path):
    """The stats hash replaced by a string: every maintenance fails (WRONGTYPE) while
    the outage's end itself works. The outage clock restarted at each of those ends,
    so the broker never reached --redis-fail-limit-ms and looped for good; now it
    fails the crawl (exit 4) with the error once the limit passed."""
    sim = Sitesim(procs, "--books", "1500", "--latency-ms", "30")
    pl = Pipeline(procs, redis, sim.start_url, broker_args=["--redis-fail-limit-ms", "3000"])
    pl.start_all(out=str(tmp_path / "books.jsonl"))
    pl.wait_stat("fetched", 100, timeout=60)
    key = pl.key("stats")
    redis.cli("DEL", key)
    redis.cli("SET", key, "hand-edited")
    rc = wait_exit(pl.broker, 40)
    log = procs.log(pl.broker)
    assert rc == 4, "exit %d, want 4:\n%s" % (rc, log[-3000:])
    assert "WRONGTYPE" in log and "--redis-fail-limit-ms 3000" in log, log[-3000:]


def test_outage_longer_than_the_lease_while_fetches_run(procs, tmp_path):
    """Pages that take 8 s, a 2 s lease, Redis stopped 5 s while the first ones are
    fetched. Redis's leases get the 5 s back; the broker's copies did not, so it
    took the URLs still at the fetchers for lapsed and forgot them ('leases_lapsed'),
    refused their DONEs as not held, and the pages were fetched again once Redis's
    leases ran out. Now: nothing lapses, no page is fetched twice."""
    redis, sim, pl, out = outage_crawl(procs, tmp_path, books=20, latency_ms=8000, lease_ms=2000, cap=40)
    wait_for(lambda: sim.stats().get("requests", 0) >= 1, 30, "the first request")
    redis.stop()
    t0 = os.times().elapsed
    wait_for(lambda: os.times().elapsed - t0 >= 5, 10, "5 s of outage", step=0.2)
    redis.start()
    pl.wait_done(timeout=180)
    assert_recovered_once(procs, pl, sim, out)
