#!/usr/bin/python3
"""seen_cost.py -- what the seen set (URL dedup) costs in Redis, per URL.

Starts a private redis-server and a zcrawl-broker in service mode (no fetchers),
pushes N distinct URLs into the crawl's seeds list, waits until the broker has
moved every one through discovery, then sums MEMORY USAGE of every seen bucket
and of the frontier list. Prints one JSON line; --check B exits 1 when the seen
set costs more than B bytes per URL.

usage: seen_cost.py [--urls N] [--bin DIR] [--check BYTES]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402  (free ports and process handling shared with the tests)


def rcli(port, *args, stdin=None):
    r = subprocess.run(["redis-cli", "-p", str(port)] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("redis-cli %s: %s" % (args[:1], r.stderr.strip()))
    return r.stdout


def memory_of(port, pattern):
    """Sum of MEMORY USAGE over the keys matching pattern, and how many keys."""
    keys = [k for k in rcli(port, "--scan", "--pattern", pattern).split("\n") if k]
    script = "".join("MEMORY USAGE %s SAMPLES 0\n" % k for k in keys)
    out = rcli(port, stdin=script) if keys else ""
    total = sum(int(x) for x in out.split() if x.strip().isdigit())
    return total, len(keys)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", type=int, default=1000000)
    ap.add_argument("--bin", default=os.environ.get("ZCRAWL_BIN", "bin"))
    ap.add_argument("--check", type=float, default=0)
    a = ap.parse_args()
    logdir = tempfile.mkdtemp(prefix="zc-seen-")
    procs = harness.Procs(logdir)
    try:
        redis = harness.Redis(procs)
        crawl = "seencost"
        ctl = harness.free_port()
        eps = ["--control", "tcp://127.0.0.1:%d" % ctl]
        for flag in ("--pages-in", "--pages-out", "--docs-in", "--docs-out"):
            eps += [flag, "tcp://127.0.0.1:%d" % harness.free_port()]
        procs.start("broker", [os.path.join(a.bin, "zcrawl-broker"), "--redis", redis.uri, "--crawl", crawl,
                               "--mode", "service"] + eps)
        # Many hosts, paths and queries, the way a broad crawl looks.
        key = "zcrawl:{%s}:seeds" % crawl
        chunk = 20000
        for lo in range(0, a.urls, chunk):
            lines = "".join("RPUSH %s http://h%d.example/p/%d?q=%d\n" % (key, i % 997, i, i * 7)
                            for i in range(lo, min(a.urls, lo + chunk)))
            rcli(redis.port, stdin=lines)
        deadline = time.time() + 600
        while time.time() < deadline:
            left = int(rcli(redis.port, "LLEN", key).strip() or 0)
            flen = int(rcli(redis.port, "LLEN", "zcrawl:{%s}:frontier" % crawl).strip() or 0)
            if left == 0 and flen >= a.urls:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("the broker did not take every seed in time")
        seen, buckets = memory_of(redis.port, "zcrawl:{%s}:seen*" % crawl)
        front, _ = memory_of(redis.port, "zcrawl:{%s}:frontier" % crawl)
        res = {"urls": a.urls, "seen_bytes": seen, "seen_buckets": buckets,
               "seen_bytes_per_url": round(seen / a.urls, 2),
               "frontier_bytes_per_url": round(front / a.urls, 2)}
        print(json.dumps(res))
        if a.check and res["seen_bytes_per_url"] > a.check:
            print("seen_cost: %.2f bytes per URL, over %.2f" % (res["seen_bytes_per_url"], a.check), file=sys.stderr)
            return 1
        return 0
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
