"""test_hosts.py -- many hosts: the emulator's virtual hosts (--hosts), and the
broker's per-host frontier over them (no head-of-line blocking, the per-host cap
at every host, per-host state that survives a broker kill -9)."""
import http.client
import json
import threading
import time

from harness import Sitesim, bin_path  # noqa: F401

import subprocess


def vget(sim, host, path, timeout=10):
    """GET path with Host: host on the emulator's port. Returns (status, body)."""
    c = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# ---- the emulator -------------------------------------------------------------

def test_virtual_hosts_each_serve_their_own_catalogue(procs):
    sim = Sitesim(procs, "--hosts", "4", "--books", "40")
    port = sim.port
    ids = []
    for i in range(4):
        st, body = vget(sim, "h%d.localhost:%d" % (i, port), "/__ids")
        assert st == 200
        j = json.loads(body)
        assert j["count"] == 40
        ids.append(set(j["reachable"]) | set(j["missing"]) | set(j["malformed"]))
        st, body = vget(sim, "h%d.localhost:%d" % (i, port), "/api/book/?limit=18&offset=0")
        page = json.loads(body)
        assert st == 200 and page["count"] == 40, body
        # next points back at the same virtual host
        assert page["next"] == "http://h%d.localhost:%d/api/book/?limit=18&offset=18" % (i, port), page["next"]
        assert {b["id"] for b in page["results"]} <= ids[i]
        one = page["results"][0]["id"]
        st, body = vget(sim, "h%d.localhost:%d" % (i, port), "/api/book/%s" % one)
        assert st == 200 and json.loads(body)["id"] == one
    # four different catalogues
    assert len(set.union(*ids)) > 3 * 40
    # a host outside the N, a bare address, a malformed name: 404 on /api/
    for host in ("h4.localhost:%d" % port, "127.0.0.1:%d" % port, "h01.localhost", "hx.localhost", "h1.localhostx"):
        st, _ = vget(sim, host, "/api/book/?limit=18&offset=0")
        assert st == 404, host
    s = sim.stats()
    assert s["hosts"] == 4 and len(s["by_host"]) == 4
    assert [h["requests"] for h in s["by_host"]] == [2, 2, 2, 2]
    assert s["requests"] == 8 + 5
    assert s["duplicates"] == 0


def test_same_path_on_two_hosts_is_not_a_duplicate_but_twice_on_one_is(procs):
    sim = Sitesim(procs, "--hosts", "2", "--books", "20")
    for h in ("h0.localhost", "h1.localhost", "h1.localhost"):
        assert vget(sim, h, "/api/book/?limit=18&offset=0")[0] == 200
    s = sim.stats()
    assert s["duplicates"] == 1
    assert [h["duplicates"] for h in s["by_host"]] == [0, 1]


def test_slow_hosts_and_per_host_concurrency_maximum(procs):
    sim = Sitesim(procs, "--hosts", "3", "--books", "20", "--slow-hosts", "1-2", "--slow-latency-ms", "400")
    t = time.time()
    assert vget(sim, "h0.localhost", "/api/book/")[0] == 200
    fast = time.time() - t
    t = time.time()
    assert vget(sim, "h2.localhost", "/api/book/")[0] == 200
    slow = time.time() - t
    assert fast < 0.3 and slow >= 0.39, (fast, slow)
    # 5 requests at once to slow h1, 2 to slow h2: the emulator records the
    # largest number in progress at once per host
    threads = [threading.Thread(target=vget, args=(sim, "h1.localhost", "/api/book/")) for _ in range(5)]
    threads += [threading.Thread(target=vget, args=(sim, "h2.localhost", "/api/book/")) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    s = sim.stats()
    assert [h["max_in_progress"] for h in s["by_host"]] == [1, 5, 2], s["by_host"]
    assert s["max_host_in_progress"] == 5
    assert all(h["in_progress"] == 0 for h in s["by_host"])
    # reset keeps the gauge, zeroes the counts
    vget(sim, "h0.localhost", "/__reset")
    s = sim.stats()
    assert [h["requests"] for h in s["by_host"]] == [0, 0, 0]
    assert [h["max_in_progress"] for h in s["by_host"]] == [0, 0, 0]


def test_bad_host_flags_exit_2():
    for argv in (["--slow-hosts", "1"], ["--hosts", "2", "--slow-hosts", "2"],
                 ["--hosts", "2", "--slow-hosts", "x"], ["--hosts", "-1"]):
        r = subprocess.run([bin_path("sitesim"), "--port", "0"] + argv, capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (argv, r.returncode, r.stderr)
        assert r.stderr.startswith("zcrawl-sitesim: error:") and r.stderr.count("\n") == 1, r.stderr
