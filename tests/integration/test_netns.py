"""Stages on separate hosts (issue: deploy the stages on separate hosts): every
stage, Redis+broker, the emulator and FerretDB each run in a network namespace of
their own, joined by veth pairs on a Linux bridge that lives in one more namespace
of its own. Nothing of this touches the root namespace's links or addresses; all
traffic goes to the private addresses made here (10.213.<k>.0/24, inside the test's
namespaces only). Needs root (CAP_NET_ADMIN); skips loudly otherwise."""
import json
import os
import subprocess
import tempfile
import time

import pytest

from harness import bin_path, ferretdb_path, wait_exit, wait_for
from test_pipeline import assert_once

PY = "/usr/bin/python3"
PREFIX = "zc%d-" % os.getpid()
SUBNET = "10.213.%d" % (os.getpid() % 200 + 20)
# node name -> host number on SUBNET
NODES = {"broker": 1, "fetcher1": 2, "fetcher2": 3, "parser": 4, "writer": 5,
         "sim": 6, "ferret": 7}
BRIDGE_NS = PREFIX + "br"


def ip(*args, check=True, timeout=20):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def ns_of(node):
    return PREFIX + node


def addr(node):
    return "%s.%d" % (SUBNET, NODES[node])


def ns_python(node, code, timeout=60):
    """Runs python code inside a node's namespace and returns its stdout parsed as JSON."""
    r = subprocess.run(["ip", "netns", "exec", ns_of(node), PY, "-c", code],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("python in %s failed (%d): %s" % (node, r.returncode, r.stderr[-2000:]))
    return json.loads(r.stdout)


def ns_wait_port(node, host, port, timeout=30.0):
    """Waits, from inside node's namespace, until host:port accepts connections."""
    code = ("import socket,time,json\n"
            "end=time.time()+%f\n"
            "while True:\n"
            "    try:\n"
            "        socket.create_connection((%r,%d),timeout=0.3).close(); print(json.dumps(True)); break\n"
            "    except OSError:\n"
            "        if time.time()>end: print(json.dumps(False)); break\n"
            "        time.sleep(0.05)\n" % (timeout, host, port))
    if not ns_python(node, code, timeout=timeout + 15):
        raise TimeoutError("nothing listens on %s:%d (seen from %s) after %.0fs" % (host, port, node, timeout))


def leftovers():
    """Namespaces and links still named with this test's prefix (root namespace view)."""
    left = [l for l in ip("netns", "list").stdout.splitlines() if l.split()[0:1] and l.split()[0].startswith(PREFIX)]
    left += [l for l in ip("-o", "link").stdout.splitlines()
             if "zcbr%d" % os.getpid() in l or PREFIX in l]
    return left


def teardown_netns(procs, made):
    """Processes first, then every namespace this test made (their veths go with
    them; the bridge lives in BRIDGE_NS and goes with it)."""
    procs.stop_all()
    errors = []
    for ns in reversed(made):
        r = ip("netns", "del", ns, check=False)
        if r.returncode != 0:
            errors.append("ip netns del %s: %s" % (ns, r.stderr.strip()))
    # The kernel frees a namespace's links asynchronously: wait for it.
    try:
        wait_for(lambda: not leftovers(), 10, "the test's namespaces and links to go", step=0.1)
    except AssertionError:
        pass  # named below
    return errors + leftovers()


def skip_loudly(reason):
    msg = "NETNS TEST SKIPPED: %s" % reason
    print("\n" + "*" * len(msg) + "\n" + msg + "\n" + "*" * len(msg))
    pytest.skip(msg)


@pytest.fixture
def netns(procs):
    """Makes the namespaces, the bridge and the veths; yields {node: namespace}.
    The finalizer stops the processes, then removes everything and checks that
    nothing named with the test's prefix is left."""
    if os.geteuid() != 0:
        skip_loudly("not root: network namespaces need CAP_NET_ADMIN (runs as root in CI)")
    made = []
    try:
        r = ip("netns", "add", BRIDGE_NS, check=False)
        if r.returncode != 0:
            skip_loudly("cannot create a network namespace (no CAP_NET_ADMIN?): %s" % r.stderr.strip())
        made.append(BRIDGE_NS)
        ip("-n", BRIDGE_NS, "link", "set", "lo", "up")
        ip("-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge")
        ip("-n", BRIDGE_NS, "link", "set", "br0", "up")
        for node, k in NODES.items():
            ns = ns_of(node)
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
            # The veth is made inside the bridge namespace with its peer created
            # directly in the node's namespace: nothing appears in the root one.
            ip("-n", BRIDGE_NS, "link", "add", "v%d" % k, "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            ip("-n", BRIDGE_NS, "link", "set", "v%d" % k, "master", "br0")
            ip("-n", BRIDGE_NS, "link", "set", "v%d" % k, "up")
            ip("-n", ns, "addr", "add", "%s/24" % addr(node), "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
    except BaseException:
        left = teardown_netns(procs, made)
        if left:
            print("netns cleanup after a failed setup left: %s" % left)
        raise
    yield {node: ns_of(node) for node in NODES}
    left = teardown_netns(procs, made)
    assert not left, "network namespace cleanup left: %s" % left


def nsexec(node, argv):
    return ["ip", "netns", "exec", ns_of(node)] + list(argv)


@pytest.mark.long
def test_crawl_across_network_namespaces(procs, netns):
    t0 = time.time()
    ferret = ferretdb_path()
    if not ferret:
        skip_loudly("no FerretDB in .tools/bin (make deps installs it)")
    b, sim, fdb = addr("broker"), addr("sim"), addr("ferret")
    # Stages on several hosts: CURVE keys, as deploy/README.md says (one folder
    # here; on real hosts each gets broker.key, its own secret and authorized/).
    keys = os.path.join(procs.logdir, "keys")
    subprocess.run([bin_path("zcrawl"), "keygen", keys], check=True, capture_output=True)

    # The emulator, alone in its namespace.
    procs.start("sitesim", nsexec("sim", [bin_path("sitesim"), "--bind", sim, "--port", "8080",
                                          "--books", "1500", "--latency-ms", "20"]))
    # FerretDB, alone in its namespace.
    fdir = tempfile.mkdtemp(prefix="zc-ferret-", dir=procs.logdir)
    procs.start("ferretdb", nsexec("ferret", [ferret, "--handler=sqlite",
                                              "--sqlite-url=file:%s/" % fdir, "--state-dir=%s" % fdir,
                                              "--listen-addr=%s:27017" % fdb, "--debug-addr=-",
                                              "--telemetry=disable", "--log-level=warn"]))
    # Redis next to the broker (loopback for the broker, its address for nobody else).
    rdir = tempfile.mkdtemp(prefix="zc-redis-", dir=procs.logdir)
    procs.start("redis", nsexec("broker", ["redis-server", "--port", "6379", "--bind", "127.0.0.1", b,
                                           "--dir", rdir, "--save", "", "--appendonly", "no",
                                           "--daemonize", "no"]))
    # Each service is checked from the namespace of a stage that uses it: across the bridge.
    ns_wait_port("fetcher1", sim, 8080)
    ns_wait_port("writer", fdb, 27017)
    ns_wait_port("broker", "127.0.0.1", 6379)

    ids = ns_python("sim", "import json,urllib.request;print(urllib.request.urlopen("
                           "'http://%s:8080/__ids',timeout=10).read().decode())" % sim)
    want = set(ids["reachable"])
    assert ids["count"] == 1500 and len(want) > 1400, ids.get("count")

    ep = lambda port: "tcp://%s:%d" % (b, port)
    start_url = "http://%s:8080/api/book/?limit=18&offset=0" % sim
    broker = procs.start("broker", nsexec("broker", [
        bin_path("broker"), "--redis", "redis://127.0.0.1:6379", "--crawl", "netns",
        "--control", ep(5555), "--pages-in", ep(5556), "--pages-out", ep(5557),
        "--docs-in", ep(5558), "--docs-out", ep(5559), "--max-per-host", "16", "--keys", keys, start_url]))
    procs.start("writer", nsexec("writer", [bin_path("writer"), "--broker", ep(5555), "--docs", ep(5559),
                                            "--mongo", "mongodb://%s:27017/" % fdb, "--keys", keys]))
    procs.start("parser", nsexec("parser", [bin_path("parser"), "--broker", ep(5555),
                                            "--pages", ep(5557), "--docs", ep(5558), "--keys", keys]))
    for f in ("fetcher1", "fetcher2"):
        procs.start(f, nsexec(f, [bin_path("fetcher"), "--broker", ep(5555), "--pages", ep(5556),
                                  "--name", f, "--keys", keys]))

    try:
        rc = wait_exit(broker, 90)
    except AssertionError:
        raise AssertionError("crawl not done after 90s\n%s" % procs.dump_logs())
    assert rc == 0, "broker exited %d\n%s" % (rc, procs.dump_logs())
    t_crawl = time.time() - t0

    # The store, read from FerretDB's own namespace.
    got = ns_python("ferret", "import json,pymongo\n"
                              "c=pymongo.MongoClient('mongodb://%s:27017/',serverSelectionTimeoutMS=5000)\n"
                              "print(json.dumps([d['_id'] for d in c.zcrawl.books.find({},{'_id':1})]))" % fdb)
    assert_once(got, want)

    # The stages ended cleanly on the broker's SHUTDOWN (or are still draining).
    for name, p, _ in procs.items:
        if name in ("fetcher1", "fetcher2", "parser", "writer"):
            assert p.poll() is None or p.returncode == 0, "%s rc %s\n%s" % (name, p.returncode, procs.log(p))
    print("netns crawl: %d books in %.1fs (setup + crawl), subnet %s.0/24"
          % (len(want), t_crawl, SUBNET))
