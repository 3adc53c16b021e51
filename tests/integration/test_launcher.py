"""test_launcher.py -- `zcrawl run`, the local launcher, end to end: its default
wiring (pages from fetchers straight to parsers, documents from parsers straight
to writers, each downstream stage binding its own ipc:// socket), the same crawl through
the broker's streamers (--via-broker), a crawl from many START_URLs, and a parser
killed -9 in the direct wiring. Each ends with every reachable book exactly once in
the JSON Lines file. Then the launcher's promises: exit codes (README, "Exit
codes"), a summary of this run, SIGTERM/SIGINT/SIGHUP then the same command resumes (the
state folder without --redis), a complete crawl is not crawled again, --fresh,
--seeds, a 1900-byte start URL arrives whole, restarts back off within a budget
per window, and Redis refusing writes shows on the progress output.

Every launcher runs in the test's own folder (cwd), where its default state folder
./.zcrawl/<crawl> lives."""
import glob
import json
import os
import re
import signal
import subprocess
import time
from collections import Counter

import pytest

from harness import SANITIZER_MARKERS, Sitesim, bin_path, jsonl_ids, wait_for

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
    r = subprocess.run(launcher_argv(site, out, logdir, *extra), capture_output=True, text=True, timeout=120,
                       cwd=str(tmp_path))
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
        assert all(b.startswith("@ipc:///") for b in binds), binds
        for f in fetchers:  # every fetcher connects to every parser
            target = re.search(r" pages=(\S+)", f).group(1)
            # "#parser": with keys, the parser serves with the parser's keypair.
            assert all(t.endswith("#parser") for t in target.split(",")), target
            assert sorted(t[:-len("#parser")] for t in target.split(",")) == sorted(b[1:] for b in binds), \
                (target, binds)
        assert all(" docs=@ipc:///" in w for w in writers), writers
    else:
        assert not any(b.startswith("@") for b in binds), binds
        assert not any(" docs=@" in w for w in writers), writers
    no_sanitizer_reports(logdir)


def listening_tcp_inodes():
    """The socket inodes of every TCP socket listening on this host (IPv4 and IPv6)."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        inodes |= {r.split()[9] for r in rows if r.split()[3] == "0A"}  # 0A: LISTEN
    return inodes


def tcp_listeners_of(pids):
    """{pid: number of listening TCP sockets it holds}."""
    listening, held = listening_tcp_inodes(), {}
    for pid in pids:
        n = 0
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:  # it ended meanwhile
            continue
        for fd in fds:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in listening:
                n += 1
        held[pid] = n
    return held


def test_launchers_started_at_once(procs, tmp_path):
    """Three launchers started at the same moment, each in a folder of its own: every
    one completes. Their stages bind no TCP port (they did: the launcher picked
    "free" ports before the stages bound them, so two launchers could pick the same
    one and a stage failed to bind it, EADDRINUSE); they meet on ipc:// sockets in a
    folder of each launcher's own, removed at the end."""
    site = Sitesim(procs, "--books", "600", "--latency-ms", "50")
    launchers = []
    for k in range(3):
        d = tmp_path / ("crawl%d" % k)
        d.mkdir()
        argv = launcher_argv(site, d / "books.jsonl", d / "logs")
        launchers.append((d, procs.start("zcrawl-%d" % k, argv, cwd=str(d))))
    stages = ("zcrawl-broker", "zcrawl-fetcher", "zcrawl-parser", "zcrawl-writer")
    for _, l in launchers:
        wait_for(lambda: len([p for e in stages for p in children_named(l.pid, e)]) == 7, 60,
                 "the launcher's 7 stages running", step=0.05)
        held = tcp_listeners_of([p for e in stages for p in children_named(l.pid, e)])
        assert len(held) == 7 and not any(held.values()), "stages listening on TCP: %s" % held
    for d, l in launchers:
        assert l.wait(timeout=120) == 0, procs.log(l)
        assert_every_book_once(site, d / "books.jsonl")
        assert not glob.glob(str(d / "logs" / "ipc-*")), "the sockets' folder is removed"
    starts = [l for d, _ in launchers for l in stage_lines(d / "logs", "writer", "started")]
    assert all(" docs=@ipc:///" in l for l in starts), starts


def test_run_from_every_list_page(procs, tmp_path):
    """Several START_URLs (here every list page, as the write-up's PAGE_NUMBER
    gives them): each page is fetched once and every book written once."""
    site = Sitesim(procs, "--books", str(BOOKS))
    lists = [site.base + "/api/book/?limit=18&offset=%d" % off for off in range(0, BOOKS, 18)]
    out, logdir = tmp_path / "books.jsonl", tmp_path / "logs"
    argv = launcher_argv(site, out, logdir)[:-1] + lists
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
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
                       capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
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
    the launcher restarts the parser on the same socket, where the fetchers find it."""
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "5")
    out, logdir = tmp_path / "books.jsonl", tmp_path / "logs"
    launcher = procs.start("zcrawl", launcher_argv(site, out, logdir, "--lease-ms", "2000"), cwd=str(tmp_path))
    wait_for(lambda: site.stats().get("requests", 0) >= BOOKS // 4, 30, "a quarter of the requests", step=0.02)
    victims = children_named(launcher.pid, "zcrawl-parser")
    assert len(victims) == 2, victims
    os.kill(victims[0], signal.SIGKILL)
    assert launcher.wait(timeout=120) == 0, procs.log(launcher)
    assert "crawl complete" in procs.log(launcher)
    assert_every_book_once(site, out)
    # the restarted parser bound the same socket again
    starts = stage_lines(logdir, "parser", "started")
    assert len(starts) == 3, starts
    assert len({re.search(r" pages=(\S+)", l).group(1) for l in starts}) == 2


# ---- the launcher's promises: exit codes, summary, resume, --fresh, --seeds ----

SUMMARY_RE = re.compile(r"crawl (complete|stopped|failed)[^:]*: (\d+) pages fetched, (\d+) documents written, "
                        r"(\d+) gone, (\d+) dead letters")


def summary(text):
    """(outcome, fetched, written, gone, dead) of the launcher's summary line."""
    m = SUMMARY_RE.search(text)
    assert m, "no summary line in:\n" + text
    return (m.group(1),) + tuple(int(m.group(i)) for i in range(2, 6))


def plain_argv(site_url, out, *extra):
    """A launcher command line without --log-dir (logs in a temp folder, removed when
    the crawl completes) and without --redis (the state folder ./.zcrawl/default)."""
    return [bin_path("zcrawl"), "run", "--no-progress", "--max-per-host", "8", "--concurrency", "8",
            "--out", str(out), "--timeout", "120"] + list(extra) + [site_url]


def run_launcher(argv, tmp_path, timeout=150):
    """Runs the launcher in tmp_path, its temporary log folders there too."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(tmp_path),
                       env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert not any(m in r.stderr for m in SANITIZER_MARKERS), r.stderr
    return r


def start_launcher(procs, argv, tmp_path):
    return procs.start("zcrawl", argv, cwd=str(tmp_path), env={"TMPDIR": str(tmp_path)})


def logs_folder(stderr):
    m = re.search(r"\(logs in ([^,)]+)", stderr)
    assert m, stderr
    return m.group(1)


def resume_line(stdout):
    m = re.search(r"^resume with: (.+)$", stdout, re.M)
    assert m, "no 'resume with' line in:\n" + stdout
    return m.group(1)


def test_closed_port_exits_1_with_dead_letters(procs, tmp_path):
    """A start URL nobody answers: complete, but with one dead letter: exit 1 (the
    old launcher said 'crawl complete' and exited 0), and the summary says where the
    dead letter is (a file in the state folder: the private Redis is gone then)."""
    from harness import free_port
    url = "http://127.0.0.1:%d/api/book/?limit=18&offset=0" % free_port()
    r = run_launcher(plain_argv(url, tmp_path / "o.jsonl", "--max-retries", "1"), tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert summary(r.stdout)[0] == "complete"
    assert summary(r.stdout)[4] == 1, r.stdout
    m = re.search(r"^dead letters: 1 in (\S+)", r.stdout, re.M)
    assert m, r.stdout
    path = tmp_path / m.group(1) if not os.path.isabs(m.group(1)) else m.group(1)
    with open(str(path)) as f:
        dead = [json.loads(l) for l in f]
    assert [d["url"] for d in dead] == [url], dead
    assert os.path.isdir(logs_folder(r.stderr)), "logs of a run that did not end clean are kept"


def wait_written(out, at_least, proc, timeout=60):
    def written():
        assert proc.poll() is None, "launcher ended early (rc %s)" % proc.returncode
        try:
            with open(str(out), "rb") as f:
                return f.read().count(b"\n") >= at_least
        except OSError:
            return False
    wait_for(written, timeout, "%d documents written" % at_least)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_stops_then_same_command_resumes(procs, tmp_path, sig):
    """SIGTERM, SIGINT (Ctrl-C) or SIGHUP (a closed terminal or ssh session; it
    ended the launcher with 129, no summary and no resume line): exit 3 ('stopped', the old launcher: 130, and its
    private Redis kept nothing), a summary of what this run did and the command that
    resumes; that command (no --redis: the state folder keeps the crawl) finishes it
    without starting over, every book once, and its summary counts only its own work."""
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "20")
    out = tmp_path / "books.jsonl"
    argv = plain_argv(site.start_url, out)
    launcher = start_launcher(procs, argv, tmp_path)
    wait_written(out, BOOKS // 4, launcher)
    os.kill(launcher.pid, sig)
    assert launcher.wait(timeout=60) == 3, procs.log(launcher)
    first = procs.log(launcher)
    outcome, fetched1, written1, _, _ = summary(first)
    assert outcome == "stopped" and written1 >= BOOKS // 4, first
    assert ("by %s" % sig.name) in first, first
    assert os.path.isdir(str(tmp_path / ".zcrawl" / "default" / "appendonlydir")), os.listdir(str(tmp_path))
    cmd = resume_line(first)
    requests_before = site.stats()["requests"]
    r = run_launcher(["bash", "-c", cmd], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    outcome, fetched2, written2, _, _ = summary(r.stdout)
    assert outcome == "complete"
    assert_every_book_once(site, out)
    reachable = len(site.ids()["reachable"])
    assert written1 + written2 == reachable, (written1, written2, reachable)
    # Resumed, not started over: the second run fetched what was left.
    total_pages = BOOKS + BOOKS // 18 + 1
    assert site.stats()["requests"] - requests_before < total_pages - BOOKS // 4, site.stats()
    assert not os.path.exists(logs_folder(r.stderr)), "the logs of a complete crawl are removed"


def test_rerun_of_complete_crawl_says_so(procs, tmp_path):
    """The same command after the crawl completed: one line, exit 0, nothing fetched
    (the old launcher printed the old totals as this run's work)."""
    site = Sitesim(procs, "--books", "300")
    out = tmp_path / "books.jsonl"
    argv = plain_argv(site.start_url, out)
    r = run_launcher(argv, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    reachable = len(site.ids()["reachable"])
    requests = site.stats()["requests"]
    r = run_launcher(argv, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    assert re.match(r"crawl default already complete at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, %d documents; "
                    r"--fresh starts it over$" % reachable, lines[0]), lines
    assert site.stats()["requests"] == requests
    assert_every_book_once(site, out)


def one_refusal_line(r):
    """The launcher's one error line refusing another crawl in the same folder."""
    lines = [l for l in r.stderr.splitlines() if l.startswith("zcrawl: error:")]
    assert len(lines) == 1, r.stderr
    assert "is another crawl" in lines[0] and all(f in lines[0] for f in ("--crawl", "--state", "--fresh")), lines
    return lines[0]


def test_another_crawl_after_a_complete_one_is_refused(procs, tmp_path):
    """Site A crawled to the end, then `zcrawl run --out b.jsonl SITE_B` in the same
    folder: refused, exit 2, one line naming --crawl, --state and --fresh, and site B
    gets no request (it said 'crawl default already complete ..., N documents', exit
    0: site B was never crawled). With --crawl b it gets a state folder of its own."""
    a, b = Sitesim(procs, "--books", "300"), Sitesim(procs, "--books", "200", "--seed", "7")
    r = run_launcher(plain_argv(a.start_url, tmp_path / "a.jsonl"), tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_launcher(plain_argv(b.start_url, tmp_path / "b.jsonl"), tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert a.start_url in one_refusal_line(r) and r.stdout == "", r.stdout
    assert b.stats()["requests"] == 0, b.stats()
    r = run_launcher(plain_argv(b.start_url, tmp_path / "b.jsonl", "--crawl", "b"), tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_every_book_once(b, tmp_path / "b.jsonl")
    assert_every_book_once(a, tmp_path / "a.jsonl")


def test_another_crawl_after_a_stopped_one_is_refused(procs, tmp_path):
    """Site A stopped half-way, then site B in the same folder: refused, exit 2, none
    of A's books in b.jsonl (it 'resumed' A into b.jsonl, exit 0, and A's own resume
    then said 'already complete'); A's resume line then finishes A."""
    a, b = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "20"), Sitesim(procs, "--books", "200", "--seed", "7")
    out_a, out_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    launcher = start_launcher(procs, plain_argv(a.start_url, out_a), tmp_path)
    wait_written(out_a, BOOKS // 4, launcher)
    os.kill(launcher.pid, signal.SIGTERM)
    assert launcher.wait(timeout=60) == 3, procs.log(launcher)
    r = run_launcher(plain_argv(b.start_url, out_b), tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    one_refusal_line(r)
    assert not out_b.exists() or out_b.stat().st_size == 0, jsonl_ids(str(out_b))[:5]
    assert b.stats()["requests"] == 0, b.stats()
    r = run_launcher(["bash", "-c", resume_line(procs.log(launcher))], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert summary(r.stdout)[0] == "complete"
    assert_every_book_once(a, out_a)


def test_rerun_of_crawl_with_dead_letters_exits_1(procs, tmp_path):
    """A crawl that completed with dead letters: its rerun says so and exits 1, the
    crawl's own outcome (it exited 0, the first run 1)."""
    from harness import free_port
    url = "http://127.0.0.1:%d/api/book/?limit=18&offset=0" % free_port()
    argv = plain_argv(url, tmp_path / "o.jsonl", "--max-retries", "1")
    r = run_launcher(argv, tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    r = run_launcher(argv, tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.match(r"crawl default already complete at \S+, 0 documents, 1 dead letters; --fresh starts it over$",
                    r.stdout.splitlines()[0]), r.stdout
    assert re.search(r"^dead letters: 1 in ", r.stdout, re.M), r.stdout


def test_host_told_to_wait_says_until_when_and_why(procs, tmp_path):
    """429 with Retry-After: 3600 freezes the host (capped at 10 minutes): the
    launcher says which host waits, until when and why (a line when it begins, and
    in the progress line), and so do `zcrawl status` and /metrics (they said
    nothing: the crawl looked stalled for 10 minutes)."""
    import urllib.request
    from harness import free_port
    site = Sitesim(procs, "--books", "300", "--fail-429", "0.3", "--retry-after", "3600")
    mport = free_port()
    argv = [bin_path("zcrawl"), "run", "--max-per-host", "4", "--out", str(tmp_path / "o.jsonl"), "--timeout", "120",
            "--metrics", "127.0.0.1:%d" % mport, site.start_url]
    launcher = start_launcher(procs, argv, tmp_path)
    host = site.start_url.split("/")[2]
    line = wait_for(lambda: re.search(r"^zcrawl: waiting: %s until (\S+) \(429, Retry-After \d+ s\)$" % re.escape(host),
                                      procs.log(launcher), re.M), 60, "the launcher's waiting line",
                    details=lambda: procs.log(launcher)[-2000:])
    until = time.mktime(time.strptime(line.group(1), "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 500 < until - time.time() <= 601, line.group(0)
    wait_for(lambda: re.search(r"\] .*  waiting: %s until " % re.escape(host), procs.log(launcher)), 30,
             "a progress line with the wait")
    uri = re.search(r"redis (redis://\S+?)[,)]", procs.log(launcher)).group(1)
    st = subprocess.run([bin_path("zcrawl"), "status", "--redis", uri], capture_output=True, text=True, timeout=30)
    assert re.search(r"waiting\s+%s until \S+ \(429, Retry-After \d+ s\)" % re.escape(host), st.stdout), st.stdout
    metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10).read().decode()
    assert re.search(r"^zcrawl_hosts_waiting 1$", metrics, re.M), metrics
    os.kill(launcher.pid, signal.SIGTERM)
    assert launcher.wait(timeout=60) == 3, procs.log(launcher)


def test_redis_emptied_summary_counts_stay_and_rerun_says_it_starts_over(procs, tmp_path):
    """Redis emptied mid-crawl: the crawl fails (exit 4); the summary still counts
    what this run fetched and wrote (it said '0 pages fetched'), and the printed
    command says it starts the crawl over (it read as a resume)."""
    from harness import Redis
    redis = Redis(procs)
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "20")
    out = tmp_path / "books.jsonl"
    launcher = start_launcher(procs, plain_argv(site.start_url, out, "--redis", redis.uri), tmp_path)
    wait_written(out, BOOKS // 5, launcher)
    redis.cli("FLUSHALL")
    assert launcher.wait(timeout=60) == 4, procs.log(launcher)
    text = procs.log(launcher)
    outcome, fetched, written, _, _ = summary(text)
    # The last counts the launcher read before Redis was emptied: true, if a second old.
    assert outcome == "failed" and 0 < fetched <= site.stats()["requests"], text
    assert 0 < written <= len(jsonl_ids(str(out))), text
    assert "crawl failed (Redis lost its state; counts as last read, at least):" in text, text
    assert re.search(r"^resume with: .*# Redis lost this crawl's state: this starts it over", text, re.M), text


def test_complete_meta_read_before_anything_starts(procs, tmp_path):
    """The launcher reads zcrawl:{crawl}:meta itself: a crawl recorded complete is
    not started (no stage runs: the emulator sees no request)."""
    from harness import Redis
    redis = Redis(procs)
    redis.cli("HSET", "zcrawl:{done}:meta", "state", "complete", "ended_at", "1764682800000", "written", "42")
    site = Sitesim(procs, "--books", "300")
    r = run_launcher(plain_argv(site.start_url, tmp_path / "o.jsonl", "--redis", redis.uri, "--crawl", "done"),
                     tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ("crawl done already complete at 2025-12-02T13:40:00Z, 42 documents; "
                        "--fresh starts it over\n"), r.stdout
    assert site.stats()["requests"] == 0


def test_fresh_crawls_again(procs, tmp_path):
    """--fresh: the crawl's keys are deleted and the --out file emptied, so the crawl
    runs again from the start (the old launcher did not know --fresh: exit 2)."""
    from harness import Redis
    redis = Redis(procs)
    site = Sitesim(procs, "--books", "300")
    out = tmp_path / "books.jsonl"
    argv = plain_argv(site.start_url, out, "--redis", redis.uri)
    r = run_launcher(argv, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    reachable = len(site.ids()["reachable"])
    first = site.stats()["requests"]
    r = run_launcher(argv[:-1] + ["--fresh", argv[-1]], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert summary(r.stdout)[2] == reachable, r.stdout
    assert site.stats()["requests"] == 2 * first, site.stats()
    assert_every_book_once(site, out)


def test_seeds_file(procs, tmp_path):
    """--seeds FILE: one URL a line, '#' comments and blank lines skipped; every list
    page is fetched once and every book written once."""
    site = Sitesim(procs, "--books", str(BOOKS))
    lists = [site.base + "/api/book/?limit=18&offset=%d" % off for off in range(0, BOOKS, 18)]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# every list page\n\n" + "\n".join("  " + u if i % 7 == 0 else u for i, u in enumerate(lists))
                     + "\n\n# end\n")
    out = tmp_path / "books.jsonl"
    argv = plain_argv(site.start_url, out, "--seeds", str(seeds))[:-1]
    r = run_launcher(argv, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "crawling %d start URLs" % len(lists) in r.stderr, r.stderr
    assert_every_book_once(site, out)
    st = site.stats()
    assert st["by_kind"]["list"] == len(lists), st
    assert st["duplicates"] == 0, st


def test_seeds_file_bad_line(tmp_path):
    """A bad line: one error line naming file:line, exit 2, nothing started (no
    state folder)."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:1/a\n# fine\nmailto:someone@example.com\nhttp://127.0.0.1:1/b\n")
    r = run_launcher(plain_argv("http://127.0.0.1:1/x", tmp_path / "o.jsonl", "--seeds", str(seeds)), tmp_path,
                     timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zcrawl: error: %s:3: bad URL 'mailto:" % seeds), r.stderr
    assert not os.path.exists(str(tmp_path / ".zcrawl"))


class RecordingSite:
    """A one-page site on a real socket that records every request target: an empty
    list page for any /api/book/ request."""

    def __init__(self):
        import http.server
        import threading
        self.paths = []
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                rec.paths.append(self.path)
                body = b'{"count": 0, "next": null, "previous": null, "results": []}'
                self.send_response(200 if self.path.startswith("/api/book/") else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_long_start_url_arrives_whole(tmp_path):
    """A 1900-byte start URL (under the 2048-byte limit) reaches the site whole: the
    old launcher copied each argument into 1023 bytes and passed it on cut."""
    site = RecordingSite()
    try:
        base = "http://127.0.0.1:%d/api/book/?limit=18&offset=0&pad=" % site.port
        url = base + "x" * (1900 - len(base))
        assert len(url) == 1900
        r = run_launcher(plain_argv(url, tmp_path / "o.jsonl"), tmp_path, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        want = url[url.index("/api/"):]
        assert site.paths, "no request arrived"
        assert want in site.paths, ["%d bytes" % len(p) for p in site.paths]
    finally:
        site.close()


# ---- supervision: restarts back off, the budget is per window ----

def restart_events(text):
    """(name, in_ms) of each event=stage_restart line of the launcher."""
    return [(m.group(1), int(m.group(2))) for m in
            re.finditer(r"event=stage_restart name=(\S+) status=\d+ in_ms=(\d+)", text)]


def kill_and_time_restart(launcher, exe, timeout=30):
    """Kills one running exe child of the launcher; returns seconds until a new one runs."""
    deadline = time.time() + timeout
    victims = wait_for(lambda: children_named(launcher.pid, exe), timeout, "a %s running" % exe, step=0.01)
    t0 = time.time()
    os.kill(victims[0], signal.SIGKILL)

    def restarted():
        if [p for p in children_named(launcher.pid, exe) if p != victims[0]]:
            return "restarted"
        return "ended" if launcher.poll() is not None else None
    how = wait_for(restarted, max(0.1, deadline - time.time()), "%s restarted" % exe, step=0.01)
    return time.time() - t0 if how == "restarted" else None


def test_restarts_back_off(procs, tmp_path):
    """A parser killed four times in a row comes back after 250, 500, 1000 and
    2000 ms (the old launcher restarted it at once), and the crawl still completes
    with every book once."""
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "30")
    out = tmp_path / "books.jsonl"
    launcher = start_launcher(procs, plain_argv(site.start_url, out, "--lease-ms", "2000"), tmp_path)
    wait_written(out, 50, launcher)
    waits = [kill_and_time_restart(launcher, "zcrawl-parser") for _ in range(4)]
    assert launcher.wait(timeout=150) == 0, procs.log(launcher)
    log = procs.log(launcher)
    assert [ms for _, ms in restart_events(log)] == [250, 500, 1000, 2000], log
    for w, want in zip(waits, [0.25, 0.5, 1.0, 2.0]):
        assert w is not None and w >= want - 0.01, waits
    assert_every_book_once(site, out)


def test_restart_budget_spent_fails_resumably(procs, tmp_path):
    """More failures within the window than --max-restarts: exit 4, a message naming
    the stage and the budget, and the command that resumes."""
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "30")
    out = tmp_path / "books.jsonl"
    launcher = start_launcher(procs, plain_argv(site.start_url, out, "--max-restarts", "2", "--restart-window", "600"),
                              tmp_path)
    wait_written(out, 50, launcher)
    for _ in range(3):
        if kill_and_time_restart(launcher, "zcrawl-writer") is None:
            break
    assert launcher.wait(timeout=60) == 4, procs.log(launcher)
    log = procs.log(launcher)
    assert "zcrawl: error: writer-1 failed 3 times within 600 s" in log, log
    assert "restart budget spent" in log and "resume with: " in log, log


def test_restart_budget_is_per_window(procs, tmp_path):
    """Failures spread wider than the window never spend the budget: with at most 2
    restarts per 3 s, a writer killed 4 times 2.5 s apart is restarted each time
    (the old launcher counted 5 restarts per crawl, in total)."""
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "60")
    out = tmp_path / "books.jsonl"
    launcher = start_launcher(procs, plain_argv(site.start_url, out, "--max-restarts", "2", "--restart-window", "3",
                                                "--lease-ms", "2000"), tmp_path)
    wait_written(out, 20, launcher)
    for _ in range(4):
        assert kill_and_time_restart(launcher, "zcrawl-writer") is not None, procs.log(launcher)
        time.sleep(2.5)  # the sleep is the test's: failures spread wider than the window
    assert launcher.wait(timeout=150) == 0, procs.log(launcher)
    assert len(restart_events(procs.log(launcher))) == 4
    ids = jsonl_ids(str(out))
    assert set(ids) == set(site.ids()["reachable"])


# ---- problems on the progress output ----

def test_redis_full_shows_on_progress(procs, tmp_path):
    """Redis at maxmemory refuses the broker's writes: the launcher says so within
    5 s (the old one showed nothing, the OOM errors were only in the broker's log);
    when memory is freed it says the problem cleared and the crawl completes."""
    from harness import Redis
    redis = Redis(procs)
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "20")
    out = tmp_path / "books.jsonl"
    launcher = start_launcher(procs, plain_argv(site.start_url, out, "--redis", redis.uri), tmp_path)
    wait_written(out, 50, launcher)
    assert redis.cli("CONFIG", "SET", "maxmemory", "1").strip() == "OK"
    t0 = time.time()
    try:
        wait_for(lambda: "problem: Redis is full" in procs.log(launcher), max(0.1, 5 - (time.time() - t0)),
                 "the launcher to say Redis is full", step=0.1, details=lambda: procs.log(launcher))
        assert "writes refused (OOM)" in procs.log(launcher)
    finally:
        assert redis.cli("CONFIG", "SET", "maxmemory", "0").strip() == "OK"
    assert launcher.wait(timeout=150) == 0, procs.log(launcher)
    assert "zcrawl: problem cleared" in procs.log(launcher)
    assert_every_book_once(site, out)


# ---- the state folder ----

def zcrawl_processes_of(tmp_path):
    """pids of live processes whose command line or working folder is in tmp_path
    (the stages carry its paths: --out, logs; redis-server rewrites its command
    line, but works in the state folder)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % d) as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
            cwd = os.readlink("/proc/%s/cwd" % d)
        except OSError:
            continue
        if (str(tmp_path) in cmd or cwd.startswith(str(tmp_path) + "/.zcrawl")) and not zombie:
            found.append((int(d), cmd[:120]))
    return found


def test_launcher_killed_9_leaves_nothing_and_resumes(procs, tmp_path):
    """kill -9 of the launcher: its stages and private redis-server go with it (none
    outlives it holding the state folder), and the same command resumes the crawl."""
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "20")
    out = tmp_path / "books.jsonl"
    argv = plain_argv(site.start_url, out)
    launcher = start_launcher(procs, argv, tmp_path)
    wait_written(out, BOOKS // 4, launcher)
    procs.kill9(launcher)
    wait_for(lambda: not zcrawl_processes_of(tmp_path), 20, "the stages and redis-server to go with the launcher",
             step=0.1, details=lambda: zcrawl_processes_of(tmp_path))
    r = run_launcher(argv, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming crawl default" in r.stderr or summary(r.stdout)[2] < len(site.ids()["reachable"]), r.stderr
    assert_every_book_once(site, out)


def test_state_folder_in_use(procs, tmp_path):
    """A second launcher on the same state folder while the first runs: exit 2, one
    line naming the folder and the first launcher's pid; the first is untouched."""
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "20")
    out = tmp_path / "books.jsonl"
    argv = plain_argv(site.start_url, out)
    launcher = start_launcher(procs, argv, tmp_path)
    wait_written(out, 10, launcher)
    r = run_launcher(plain_argv(site.start_url, tmp_path / "other.jsonl"), tmp_path, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr == "zcrawl: error: state folder .zcrawl/default is in use by another zcrawl (pid %d)\n" \
        % launcher.pid, r.stderr
    assert launcher.wait(timeout=150) == 0, procs.log(launcher)
    assert_every_book_once(site, out)


def test_timeout_stops_resumably(procs, tmp_path):
    """--timeout: the crawl stops (exit 4, 'did not finish within'), says how to
    resume, keeps its logs; the resume command completes it. 600 books at 80
    pages/s: about 8 s of crawl, well past the 3 s."""
    site = Sitesim(procs, "--books", "600", "--latency-ms", "100")
    out = tmp_path / "books.jsonl"
    argv = plain_argv(site.start_url, out)
    argv[argv.index("--timeout") + 1] = "3"
    r = run_launcher(argv, tmp_path)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "zcrawl: error: the crawl did not finish within --timeout 3 s" in r.stderr, r.stderr
    assert os.path.isdir(logs_folder(r.stderr))
    cmd = resume_line(r.stdout)
    r = run_launcher(["bash", "-c", cmd.replace("--timeout 3", "--timeout 120")], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_every_book_once(site, out)


def log_time(line):
    """Seconds since the epoch of a logfmt line's ts=."""
    import calendar
    ts = re.search(r"ts=(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z", line).groups()
    return calendar.timegm(tuple(int(x) for x in ts[:6])) + int(ts[6]) / 1000.0


@pytest.mark.small_fs("8m")
def test_full_disk_shows_on_progress_then_completes(procs, tmp_path, small_fs):
    """--out on a full disk: the writer reports sink_full, and the launcher prints
    the problem within 5 s of the broker hearing of it (the old launcher showed
    nothing while the writer retried ENOSPC forever); space freed, the crawl
    completes with every book once and no cut line."""
    site = Sitesim(procs, "--books", str(BOOKS))
    out, logdir, filler = small_fs / "books.jsonl", tmp_path / "logs", small_fs / "filler"
    with open(str(filler), "wb") as f:
        f.write(b"\0" * (8 * 1024 * 1024 - 200 * 1024))
    launcher = start_launcher(procs, plain_argv(site.start_url, out, "--log-dir", str(logdir)), tmp_path)
    wait_for(lambda: launcher.poll() is not None or "zcrawl: problem: " in procs.log(launcher), 60,
             "the launcher to print a problem", details=lambda: procs.log(launcher))
    seen = time.time()
    assert launcher.poll() is None, procs.log(launcher)
    problem = [l for l in procs.log(launcher).splitlines() if l.startswith("zcrawl: problem: ")][0]
    assert "sink_full" in problem and "ENOSPC" in problem, problem
    with open(str(logdir / "broker-1.log")) as f:
        heard = [log_time(l) for l in f if "event=peer_problem" in l and "condition=sink_full" in l]
    assert heard, "the broker logged no sink_full"
    assert seen - heard[0] < 5, (seen, heard[0])
    filler.unlink()
    assert launcher.wait(timeout=150) == 0, procs.log(launcher)
    log = procs.log(launcher)
    assert "zcrawl: problem cleared" in log
    assert log.count("zcrawl: problem: ") <= 3, "a problem that only grows older is printed once:\n" + log
    data = out.read_bytes()
    assert data.endswith(b"\n")
    assert_every_book_once(site, out)


def test_crawl_running_elsewhere_is_not_started_twice(procs, tmp_path):
    """In a shared Redis, a crawl whose meta says running and whose broker wrote its
    stats within 5 s is being run by another broker: exit 2, one line, nothing
    started. Stats older than that (a broker that died) are resumed."""
    from harness import Redis
    redis = Redis(procs)
    site = Sitesim(procs, "--books", "300")
    now_ms = int(time.time() * 1000)
    # url_form 2: fingerprints of libcurl's URL parser (lib/zc_url.h ZC_URL_FORM), as a
    # broker of this zcrawl would have written them.
    redis.cli("HSET", "zcrawl:{busy}:meta", "state", "running", "url_form", "2")
    redis.cli("HSET", "zcrawl:{busy}:stats", "updated_at", str(now_ms), "state", "running")
    argv = plain_argv(site.start_url, tmp_path / "o.jsonl", "--redis", redis.uri, "--crawl", "busy")
    r = run_launcher(argv, tmp_path, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert re.fullmatch(r"zcrawl: error: crawl busy is running \(its broker wrote stats \d\.\d s ago\): stop it "
                        r"first, or give another --crawl\n", r.stderr), r.stderr
    assert site.stats()["requests"] == 0
    redis.cli("HSET", "zcrawl:{busy}:stats", "updated_at", str(now_ms - 60000))
    r = run_launcher(argv, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming crawl busy (running)" in r.stderr
    assert_every_book_once(site, tmp_path / "o.jsonl")


def child_by_comm(ppid, comm):
    """pid of a live child of ppid whose /proc comm is comm (redis-server rewrites
    its command line), or None."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                c = f.read().strip()
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if c == comm and int(fields[1]) == ppid and fields[0] != "Z":
            return int(d)
    return None


def test_private_redis_killed_fails_then_resumes(procs, tmp_path):
    """kill -9 of the private redis-server: the crawl cannot go on (exit 4, saying
    so, with the command that resumes); that command restarts Redis from its
    append-only file and finishes the crawl, every book once."""
    site = Sitesim(procs, "--books", str(BOOKS), "--latency-ms", "20")
    out = tmp_path / "books.jsonl"
    argv = plain_argv(site.start_url, out)
    launcher = start_launcher(procs, argv, tmp_path)
    wait_written(out, BOOKS // 4, launcher)
    pid = child_by_comm(launcher.pid, "redis-server")
    assert pid, "no private redis-server under the launcher"
    os.kill(pid, signal.SIGKILL)
    assert launcher.wait(timeout=60) == 4, procs.log(launcher)
    log = procs.log(launcher)
    assert "zcrawl: error: redis ended (signal 9)" in log, log
    r = run_launcher(["bash", "-c", resume_line(log)], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming crawl default" in r.stderr, r.stderr
    assert_every_book_once(site, out)
