"""test_bench.py -- `make bench` must not rot: the best-possible schedule it prints
under every bound, and a small real run of it (zcrawl and the libcurl floor on a
300-book emulator) that verifies, measures and reports. No figure is asserted here:
performance lives in the bench itself."""
import csv
import json
import os
import subprocess
import sys

import pytest

from harness import BIN, ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))
import run_bench  # noqa: E402


@pytest.mark.parametrize("pages,conc,all_lists,rounds", [
    (19, 100, False, 2),      # 18 books: the list page, then its 18 details
    (19, 100, True, 2),
    (38, 100, False, 3),      # 36 books: page 1; page 2 + 18 details; 18 details
    (38, 100, True, 2),       # both list pages at once, then 36 details
    (38, 10, True, 5),        # 2 lists + 8 details, then 10, 10, 8... in rounds of 10
    (9543, 500, False, 21),   # scenario 3: 1.100 x the bound
    (9543, 500, True, 20),    # scenario 6: 1.048 x the bound
    (9543, 100, False, 97),   # scenario 2
])
def test_best_rounds(pages, conc, all_lists, rounds):
    assert run_bench.best_rounds(pages, conc, all_lists) == rounds


@pytest.mark.long
def test_small_bench_run(tmp_path):
    floor = os.path.join(ROOT, "build", "bench", "curl_floor")
    assert os.access(floor, os.X_OK), "make builds %s" % floor
    out = tmp_path / "results"
    env = dict(os.environ, ZCRAWL_BIN=BIN)
    r = subprocess.run(["/usr/bin/python3",
                        os.path.join(ROOT, "bench", "run_bench.py"), "--books", "300", "--scenarios", "1",
                        "--contenders", "zcrawl-jsonl,curl-floor", "--repeat", "1", "--out-dir", str(out)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(x["contender"] for x in rows) == ["curl-floor", "zcrawl-jsonl"], rows
    for x in rows:
        assert x["status"] == "ok", x
        assert int(x["missed"]) == 0 and int(x["stored"]) == int(x["reachable"]) > 0, x
        assert float(x["cpu_s"]) > 0 and float(x["pages_per_s"]) > 0, x
    parts = json.loads((out / "part_costs.json").read_text())
    assert len(parts) == 1 and parts[0]["pages"] == int(rows[0]["pages"]), parts
    assert parts[0]["hop_us_per_page"] > 0 and parts[0]["parse_us_per_page"] > 0, parts
    assert parts[0]["curve_hop_us_per_page"] > 0 and parts[0]["proof_us_per_page"] > 0, parts
    md = (out / "results.md").read_text()
    assert "libcurl alone (floor)" in md and "sum: the least such a pipeline spends" in md, md
    assert "the proof of lease" in md, md


def test_small_hosts_run(tmp_path):
    """Scenario 11 (bench/hosts_bench.py) on a small scale: one host of 300 books
    and 200 hosts of one book, verified and measured by process (200, not 50: at 50
    hosts a process could spend less than the one clock tick /proc counts in)."""
    out = tmp_path / "results"
    env = dict(os.environ, ZCRAWL_BIN=BIN, BENCH_ONE_HOST_BOOKS="300")
    r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "run_bench.py"), "--scenarios", "hosts",
                        "--hosts", "1,200", "--repeat", "1", "--out-dir", str(out)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = json.loads((out / "hosts.json").read_text())
    assert [x["hosts"] for x in rows] == [1, 200], rows
    for x in rows:
        assert x["status"] == "ok", x
        assert x["fetchers_us"] > 0 and x["broker_us"] > 0 and x["redis_us"] > 0, x
    assert rows[0]["requests"] == 1 + 17 + 300 and rows[1]["requests"] == 600, rows
    assert "| 200 | 1 | 600 |" in r.stdout and (out / "hosts.md").read_text() in r.stdout, r.stdout
