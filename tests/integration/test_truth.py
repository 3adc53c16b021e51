"""test_truth.py -- the broker tells the truth and never hammers the site (issue 11):
leases that end only on a real outcome (HOLD from downstream stages, stalls that
are not deaths), problems published in the stats hash (STATUS, Redis refusing
writes), the crawl's meta hash, and exit codes that say what happened.

Every test runs the real broker against a private redis-server; the pipeline ones
run every real stage against the emulator, whose /__stats counts requests per URL
(duplicates)."""
import collections
import re
import signal
import subprocess
import time

import pytest
import zmq

from harness import Pipeline, Sitesim, bin_path, jsonl_ids

HELLO, HEARTBEAT, CREDIT, JOB, DONE, DISCOVERED, WRITTEN, SHUTDOWN, HOLD, STATUS = 1, 2, 3, 4, 5, 7, 9, 11, 12, 13


def hdr(t):
    return b"ZC\x01" + bytes([t])


class Stage:
    """A stage played by the test: one DEALER on the broker's control socket."""

    def __init__(self, endpoint, role, name, credit=0):
        self.ctx = zmq.Context()
        self.s = self.ctx.socket(zmq.DEALER)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.connect(endpoint)
        self.got = []
        self.send(HELLO, role.encode(), name.encode(), str(credit).encode())

    def send(self, t, *frames):
        self.s.send_multipart([hdr(t)] + [f if isinstance(f, bytes) else f.encode() for f in frames])

    def pump(self, seconds):
        """Receives for seconds, answering nothing but a HEARTBEAT every 200 ms."""
        end = time.time() + seconds
        while time.time() < end:
            if self.s.poll(100):
                fr = self.s.recv_multipart()
                self.got.append((fr[0][3], fr[1:]))
            self.send(HEARTBEAT)

    def of_type(self, t):
        return [f for tt, f in self.got if tt == t]

    def close(self):
        self.s.close(0)
        self.ctx.term()


def wait_for(cond, timeout, what, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


def wait_exit(p, timeout):
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("pid %d still running after %.0fs" % (p.pid, timeout))


# ---------------------------------------------------------------- HOLD and STATUS

def test_hold_extends_open_leases_only(procs, redis):
    """A fetched page held downstream keeps its lease through HOLD: the deadline
    moves to now + lease_ms; a URL that is not leased stays unleased."""
    url = "http://127.0.0.1:9/api/book/?limit=18&offset=0"
    pl = Pipeline(procs, redis, url, broker_args=["--lease-ms", "3000", "--heartbeat-ms", "200"])
    pl.start_broker()
    f = Stage(pl.ep["control"], "fetcher", "f", credit=1)
    try:
        wait_for(lambda: (f.pump(0.1), f.of_type(JOB))[1], 10, "a JOB")
        f.send(DONE, url, "ok", "200", "0", "")
        f.pump(0.5)
        first = float(redis.cli("ZSCORE", pl.key("leases"), url))
        w = Stage(pl.ep["control"], "writer", "w")
        time.sleep(1.0)
        w.send(HOLD, url + "\nhttp://127.0.0.1:9/api/book/1")
        w.pump(0.5)
        second = float(redis.cli("ZSCORE", pl.key("leases"), url))
        assert second >= first + 900, (first, second)
        assert redis.cli("ZSCORE", pl.key("leases"), "http://127.0.0.1:9/api/book/1").strip() == ""
        # Held every second, the lease outlives --lease-ms many times over.
        for _ in range(8):
            w.send(HOLD, url)
            w.pump(1.0)
            f.send(HEARTBEAT)
        assert redis.cli("ZSCORE", pl.key("leases"), url).strip() != "", "the held lease expired"
        assert int(pl.stats().get("expired", "0")) == 0, pl.stats()
        w.close()
    finally:
        f.close()


def test_status_problem_published_and_cleared(procs, redis):
    url = "http://127.0.0.1:9/api/book/?limit=18&offset=0"
    pl = Pipeline(procs, redis, url, broker_args=["--heartbeat-ms", "200", "--stats-ms", "200"])
    pl.start_broker()
    w = Stage(pl.ep["control"], "writer", "w1")
    try:
        w.send(STATUS, "sink_full", "ENOSPC appending out.jsonl\nsecond line")
        w.pump(0.8)
        p = wait_for(lambda: pl.stats().get("problem"), 5, "problem in the stats hash")
        assert re.match(r"writer w1 sink_full: ENOSPC appending out.jsonl second line \(\d+ s\)$", p), p
        w.send(STATUS, "ok", "")
        w.pump(0.8)
        wait_for(lambda: pl.stats().get("problem") == "", 5, "problem cleared")
        # A dead peer's problem goes with it.
        w.send(STATUS, "sink_down", "mongodb://db: connection refused")
        w.pump(0.8)
        wait_for(lambda: "sink_down" in pl.stats().get("problem", ""), 5, "problem again")
    finally:
        w.close()
    wait_for(lambda: pl.stats().get("problem") == "", 5, "problem gone with its peer")
