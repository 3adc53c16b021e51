"""test_cluster.py -- zcrawl on a real local 3-node Redis Cluster: every key of a
crawl shares its hash tag, so all of them (and every Lua script) live on the node
that serves its slot; the broker, the launcher and `zcrawl status` find that node
from any node they are given by following MOVED."""
import os
import shutil
import subprocess
import tempfile

import pytest

from harness import Sitesim, bin_path, free_port, jsonl_ids, start_server, wait_for


def rcli(port, *args, timeout=30):
    r = subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return r.stdout.strip()


@pytest.fixture
def cluster(procs):
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.fail("redis-server and redis-cli are needed for the cluster test")
    ports, dirs = [], []
    for _ in range(3):
        d = tempfile.mkdtemp(prefix="zc-cluster-")
        dirs.append(d)
        # The cluster bus port would be port + 10000 by default: a free one of its own.
        port, _ = start_server(procs, "redis-node", lambda port: [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--cluster-enabled", "yes", "--cluster-port", str(free_port()),
            "--cluster-config-file", os.path.join(d, "nodes.conf"),
            "--dir", d, "--save", "", "--appendonly", "no"])
        ports.append(port)
    r = subprocess.run(["redis-cli", "--cluster", "create"] + ["127.0.0.1:%d" % p for p in ports] +
                       ["--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: all("cluster_state:ok" in rcli(p, "CLUSTER", "INFO") for p in ports), 30, "cluster_state:ok",
             step=0.1, details=lambda: rcli(ports[0], "CLUSTER", "INFO"))
    yield ports
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def cached_scripts(port):
    """How many Lua scripts a node holds (INFO memory)."""
    for line in rcli(port, "INFO", "memory").splitlines():
        if line.startswith("number_of_cached_scripts:"):
            return int(line.split(":", 1)[1])
    raise AssertionError("no number_of_cached_scripts in INFO of %d" % port)


def owner(ports, key):
    """The port of the node that serves key's slot."""
    slot = int(rcli(ports[0], "CLUSTER", "KEYSLOT", key))
    for line in rcli(ports[0], "CLUSTER", "NODES").splitlines():
        f = line.split()
        port = int(f[1].split("@")[0].rsplit(":", 1)[1])
        for rng in f[8:]:
            lo, _, hi = rng.partition("-")
            if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                return port
    raise AssertionError("no node serves slot %d" % slot)


def test_two_crawls_on_a_three_node_cluster_both_finish(procs, cluster, tmp_path):
    ports = cluster
    # Two crawls whose slots are on the two nodes the launcher is not pointed at:
    # every program must follow MOVED to get to its crawl's keys.
    names = {}
    for i in range(200):
        name = "c%d" % i
        node = owner(ports, "zcrawl:{%s}:meta" % name)
        if node != ports[0] and node not in names.values():
            names[name] = node
        if len(names) == 2:
            break
    assert len(names) == 2, names
    site = Sitesim(procs, "--books", "400", "--latency-ms", "5")
    want = set(site.ids()["reachable"])
    runs = {}
    for name in names:
        out = tmp_path / ("%s.jsonl" % name)
        runs[name] = (procs.start("zcrawl-" + name, [
            bin_path("zcrawl"), "run", "--no-progress", "--redis", "redis://127.0.0.1:%d" % ports[0], "--crawl", name,
            "--out", str(out), "--log-dir", str(tmp_path / ("logs-" + name)), "--timeout", "180", site.start_url]), out)
    for name, (p, out) in runs.items():
        rc = p.wait(timeout=240)
        assert rc == 0, (name, rc, procs.log(p), procs.dump_logs())
        got = jsonl_ids(out)
        assert len(got) == len(set(got)) and set(got) == want, (name, len(got), len(want))
        node = names[name]
        # the crawl's keys are all on its node, none elsewhere
        assert rcli(node, "HGET", "zcrawl:{%s}:meta" % name, "state") == "complete"
        assert int(rcli(node, "EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "zcrawl:{%s}:*" % name)) > 400
        for other in ports:
            if other != node:
                assert rcli(other, "DBSIZE") == "0" or rcli(other, "KEYS", "zcrawl:{%s}:*" % name) == ""
        # the broker's Lua scripts were loaded (SCRIPT LOAD on NOSCRIPT) where they run
        assert cached_scripts(node) > 0
        # zcrawl status from the node that does not serve it
        r = subprocess.run([bin_path("zcrawl"), "status", "--redis", "redis://127.0.0.1:%d" % ports[0], "--crawl", name],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "complete" in r.stdout, r.stdout + r.stderr
    # and on no node that serves neither crawl: everyone only read from it
    assert cached_scripts(ports[0]) == 0


def test_the_broker_follows_moved_to_its_crawls_node(procs, cluster):
    """Pointed at a node that does not serve its slot, the broker connects to the
    one that does (seeding works there) instead of stopping at MOVED."""
    ports = cluster
    name = next("m%d" % i for i in range(200) if owner(ports, "zcrawl:{m%d}:meta" % i) != ports[0])
    node = owner(ports, "zcrawl:{%s}:meta" % name)
    ctl = free_port()
    p = procs.start("broker", [bin_path("broker"), "--redis", "redis://127.0.0.1:%d" % ports[0], "--crawl", name,
                               "--mode", "service", "--control", "tcp://127.0.0.1:%d" % ctl,
                               "--pages-in", "tcp://127.0.0.1:%d" % free_port(), "--pages-out", "tcp://127.0.0.1:%d" % free_port(),
                               "--docs-in", "tcp://127.0.0.1:%d" % free_port(), "--docs-out", "tcp://127.0.0.1:%d" % free_port(),
                               "http://127.0.0.1:9/a", "http://127.0.0.1:9/b"])
    wait_for(lambda: p.poll() is not None or rcli(node, "GET", "zcrawl:{%s}:waiting" % name) == "2", 20,
             "2 URLs waiting on the crawl's node", step=0.1)
    assert p.poll() is None, procs.log(p)
    assert rcli(node, "GET", "zcrawl:{%s}:waiting" % name) == "2", procs.log(p)
    assert rcli(node, "LLEN", "zcrawl:{%s}:q:127.0.0.1:9" % name) == "2"
    assert rcli(node, "HGET", "zcrawl:{%s}:meta" % name, "state") == "running"
