"""test_launcher.py -- `zcrawl run`, the local launcher, end to end: its default
wiring (pages from fetchers straight to parsers, documents from parsers straight
to writers, each downstream stage binding its own port), the same crawl through
the broker's streamers (--via-broker), a crawl from many START_URLs, and a parser
killed -9 in the direct wiring. Each ends with every reachable book exactly once in the JSON Lines file."""
import glob
import os
import re
import signal
import subprocess
import time
from collections import Counter

import pytest

from harness import SANITIZER_MARKERS, Sitesim, bin_path, jsonl_ids

BOOKS = 1500


def launcher_argv(site, out, logdir, *extra):
    return [bin_path("zcrawl"), "run", "--no-progress", "--fetchers", "2", "--parsers", "2", "--writers", "2",
            "--max-per-host", "40", "--concurrency", "20", "--out", str(out), "--log-dir", str(logdir),
            "--timeout", "90"] + list(extra) + [site.start_url]


def stage_lines(logdir, stage, event):
    """The logfmt lines of event in the logs of every instance of stage."""
    lines = []
    for path in sorted(glob.glob(os.path.join(str(logdir), stage + "-*.log"))):
        with open(path, errors="replace") as f:
            lines += [l for l in f if "event=%s " % event in l]
    return lines


def no_sanitizer_reports(logdir):
    for path in glob.glob(os.path.join(str(logdir), "*.log")):
        with open(path, errors="replace") as f:
            text = f.read()
        assert not any(m in text for m in SANITIZER_MARKERS), "sanitizer report in %s:\n%s" % (path, text[-3000:])


def assert_every_book_once(site, out):
    ids = jsonl_ids(str(out))
    reachable = set(site.ids()["reachable"])
    twice = [i for i, n in Counter(ids).items() if n > 1]
    assert set(ids) == reachable, "missing %d, extra %d" % (len(reachable - set(ids)), len(set(ids) - reachable))
    assert not twice, "%d books written twice, e.g. %s" % (len(twice), twice[:5])


@pytest.mark.parametrize("wiring", ["direct", "via-broker"])
def test_run_wiring(procs, tmp_path, wiring):
    site = Sitesim(procs, "--books", str(BOOKS))
    out, logdir = tmp_path / "books.jsonl", tmp_path / "logs"
    extra = ["--via-broker"] if wiring == "via-broker" else []
    r = subprocess.run(launcher_argv(site, out, logdir, *extra), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "crawl complete" in r.stdout
    assert_every_book_once(site, out)
    # How the stages were wired, from their own start lines.
    parsers = stage_lines(logdir, "parser", "started")
    writers = stage_lines(logdir, "writer", "started")
    fetchers = stage_lines(logdir, "fetcher", "started")
    assert len(parsers) == 2 and len(writers) == 2 and len(fetchers) == 2
    binds = [re.search(r" pages=(\S+)", l).group(1) for l in parsers]
    if wiring == "direct":
        assert all(b.startswith("@tcp://127.0.0.1:") for b in binds), binds
        for f in fetchers:  # every fetcher connects to every parser
            target = re.search(r" pages=(\S+)", f).group(1)
            # "#parser": with keys, the parser serves with the parser's keypair.
            assert all(t.endswith("#parser") for t in target.split(",")), target
            assert sorted(t[:-len("#parser")] for t in target.split(",")) == sorted(b[1:] for b in binds), \
                (target, binds)
        assert all(" docs=@tcp://" in w for w in writers), writers
    else:
        assert not any(b.startswith("@") for b in binds), binds
        assert not any(" docs=@" in w for w in writers), writers
    no_sanitizer_reports(logdir)


def test_run_from_every_list_page(procs, tmp_path):
    """Several START_URLs (here every list page, as the write-up's PAGE_NUMBER
    gives them): each page is fetched once and every book written once."""
    site = Sitesim(procs, "--books", str(BOOKS))
    lists = [site.base + "/api/book/?limit=18&offset=%d" % off for off in range(0, BOOKS, 18)]
    out, logdir = tmp_path / "books.jsonl", tmp_path / "logs"
    argv = launcher_argv(site, out, logdir)[:-1] + lists
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "crawling %d start URLs" % len(lists) in r.stderr, r.stderr
    assert_every_book_once(site, out)
    st = site.stats()
    assert st["duplicates"] == 0, st
    assert st["by_kind"]["list"] == len(lists), st
    assert st["by_kind"]["detail"] == BOOKS, st
    no_sanitizer_reports(logdir)


def test_run_with_redis_password_and_db(procs, tmp_path):
    """--redis with a password and a database number: the stages and the launcher's
    own progress reading (its summary line) both use them."""
    from harness import Redis
    redis = Redis(procs)
    assert redis.cli("CONFIG", "SET", "requirepass", "s3cret").strip() == "OK"
    site = Sitesim(procs, "--books", "300")
    out, logdir = tmp_path / "books.jsonl", tmp_path / "logs"
    uri = "redis://:s3cret@127.0.0.1:%d/3" % redis.port
    r = subprocess.run(launcher_argv(site, out, logdir, "--redis", uri, "--crawl", "pw"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_every_book_once(site, out)
    m = re.search(r"crawl complete: (\d+) pages fetched, (\d+) documents written", r.stdout)
    assert m, r.stdout
    assert int(m.group(2)) == len(site.ids()["reachable"]), r.stdout

    def exists(db):
        q = subprocess.run(["redis-cli", "-p", str(redis.port), "-a", "s3cret", "--no-auth-warning", "-n", str(db),
                            "EXISTS", "zcrawl:{pw}:stats"], capture_output=True, text=True, timeout=10)
        return q.stdout.strip()
    assert exists(3) == "1" and exists(0) == "0"


def children_named(ppid, exe):
    """pids of the live children of ppid whose command is exe."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == ppid and fields[0] != "Z" and os.path.basename(argv0) == exe:
            found.append(int(d))
    return found


def test_direct_parser_killed(procs, tmp_path):
    """Pages a killed parser held are lost with it; their leases bring them back, and
    the launcher restarts the parser on the same port, where the fetchers find it."""
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "5")
    out, logdir = tmp_path / "books.jsonl", tmp_path / "logs"
    launcher = procs.start("zcrawl", launcher_argv(site, out, logdir, "--lease-ms", "2000"))
    deadline = time.time() + 30
    while time.time() < deadline and site.stats().get("requests", 0) < BOOKS // 4:
        time.sleep(0.02)
    victims = children_named(launcher.pid, "zcrawl-parser")
    assert len(victims) == 2, victims
    os.kill(victims[0], signal.SIGKILL)
    assert launcher.wait(timeout=120) == 0, procs.log(launcher)
    assert "crawl complete" in procs.log(launcher)
    assert_every_book_once(site, out)
    # the restarted parser bound the same port again
    starts = stage_lines(logdir, "parser", "started")
    assert len(starts) == 3, starts
    assert len({re.search(r" pages=(\S+)", l).group(1) for l in starts}) == 2
