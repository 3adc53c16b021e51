"""test_truth.py -- the broker tells the truth and never hammers the site (issue 11):
leases that end only on a real outcome (HOLD from downstream stages, stalls that
are not deaths), problems published in the stats hash (STATUS, Redis refusing
writes), the crawl's meta hash, and exit codes that say what happened.

Every test runs the real broker against a private redis-server; the pipeline ones
run every real stage against the emulator, whose /__stats counts requests per URL
(duplicates)."""
import re
import signal
import time

import pytest
import zmq

from harness import Pipeline, Sitesim, assert_once, bin_path, hdr, jsonl_ids, unpack, wait_exit, wait_for

HELLO, HEARTBEAT, CREDIT, JOB, DONE, DISCOVERED, WRITTEN, SHUTDOWN, HOLD, STATUS = 1, 2, 3, 4, 5, 7, 9, 11, 12, 13


class Stage:
    """A stage played by the test: one DEALER on the broker's control socket."""

    def __init__(self, endpoint, role, name, credit=0):
        # One process-wide context, never terminated here: a test that fails with
        # a socket open must not hang in a context's term().
        self.s = zmq.Context.instance().socket(zmq.DEALER)
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
                fr = unpack(self.s.recv_multipart())
                self.got.append((fr[0][3], fr[1:]))
            self.send(HEARTBEAT)

    def of_type(self, t):
        return [f for tt, f in self.got if tt == t]

    def close(self):
        self.s.close(0)


# ---------------------------------------------------------------- HOLD and STATUS

def test_hold_extends_open_leases_only(procs, redis):
    """A fetched page held downstream keeps its lease through HOLD: the deadline
    moves to now + lease_ms; a URL that is not leased stays unleased."""
    url = "http://127.0.0.1:9/api/book/?limit=18&offset=0"
    pl = Pipeline(procs, redis, url, broker_args=["--lease-ms", "3000", "--heartbeat-ms", "200", "--ignore-robots"])
    pl.start_broker()
    f = Stage(pl.ep["control"], "fetcher", "f", credit=1)
    w = Stage(pl.ep["control"], "writer", "w")
    try:
        wait_for(lambda: (f.pump(0.1), f.of_type(JOB))[1], 10, "a JOB")
        f.send(DONE, url, "ok", "200", "0", "")
        f.pump(0.5)
        first = float(redis.cli("ZSCORE", pl.key("leases"), url))
        time.sleep(1.0)  # the sleep is the test's: the HOLD a second later moves the deadline a second on
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
    finally:
        f.close()
        w.close()


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


# ---------------------------------------------------------------- poison pages

def test_page_lost_with_its_fetcher_each_time_becomes_a_dead_letter(procs, redis):
    """A page whose fetcher dies every time (here killed -9 while it waits for the
    answer; OOM or a crash alike): each JOB lost with its fetcher's connection counts
    an attempt, and the URL lost --max-retries + 1 times is a dead letter ('lease
    lost 3 times'), the crawl complete with exit 1. It was requeued as good as new
    each time: the crawl never ended."""
    sim = Sitesim(procs, "--books", "18", "--latency-ms", "120000")
    url = sim.start_url
    pl = Pipeline(procs, redis, url, broker_args=["--max-retries", "2", "--ignore-robots", "--heartbeat-ms", "200"])
    pl.start_broker()
    for k in range(3):
        f = pl.start_fetcher("--heartbeat-ms", "200")
        wait_for(lambda: sim.stats().get("requests", 0) >= k + 1, 30, "request %d" % (k + 1))
        # A few heartbeats first: a fetcher killed right after its HELLO is taken
        # for silent, not closed (the broker does not learn its connection from the
        # HELLO), and its JOB comes back only when the lease runs out.
        time.sleep(0.6)
        procs.kill9(f)
        wait_for(lambda: len(re.findall(r"event=peer_expired .*held=1 requeued=[01] ", procs.log(pl.broker))) > k,
                 20, "the broker to take the JOB back", details=lambda: procs.log(pl.broker)[-2000:])
    rc = wait_exit(pl.broker, 20)
    assert rc == 1, "exit %d, want 1:\n%s" % (rc, procs.log(pl.broker)[-2000:])
    dead = pl.dead()
    assert [(d["url"], d["stage"], d["reason"]) for d in dead] == [(url, "broker", "lease lost 3 times")], dead


def test_page_whose_lease_expires_each_time_becomes_a_dead_letter(procs, redis):
    """A page fetched every time and never parsed (it kills its parser: nobody HOLDs
    it, its lease runs out): each expiry counts an attempt, and after --max-retries + 1
    the URL is a dead letter ('lease expired 3 times'), exit 1. It came back forever."""
    url = "http://127.0.0.1:9/api/book/?limit=18&offset=0"
    pl = Pipeline(procs, redis, url, broker_args=["--max-retries", "2", "--heartbeat-ms", "200", "--ignore-robots",
                                                  "--lease-ms", "1000"])
    pl.start_broker()
    f = Stage(pl.ep["control"], "fetcher", "f", credit=1)
    try:
        answered = 0
        end = time.time() + 30
        while pl.broker.poll() is None and time.time() < end:
            f.pump(0.1)
            for _ in range(len(f.of_type(JOB)) - answered):
                f.send(DONE, url, "ok", "200", "0", "")  # fetched; its page then dies with the parser
                f.send(CREDIT, "1")
                answered += 1
        assert answered == 3, "JOBs for the page: %d" % answered
    finally:
        f.close()
    rc = wait_exit(pl.broker, 20)
    assert rc == 1, "exit %d, want 1:\n%s" % (rc, procs.log(pl.broker)[-2000:])
    dead = pl.dead()
    assert [(d["url"], d["stage"], d["reason"]) for d in dead] == [(url, "broker", "lease expired 3 times")], dead


# ---------------------------------------------------------------- stalls are not deaths

def books_site(procs, books, latency=20):
    sim = Sitesim(procs, "--books", str(books), "--latency-ms", str(latency))
    ids = sim.ids()
    return sim, set(ids["reachable"]), ids


@pytest.mark.parametrize("stage", ["fetcher", "parser", "writer", "broker"])
def test_sigstop_10s_is_not_a_death(procs, redis, tmp_path, stage):
    """SIGSTOP of any stage for 10 s, then SIGCONT, with the default 30 s lease and
    1 s heartbeats: no page is fetched twice and every book is written once. The
    stall is three times the heartbeat expiry, a third of the lease."""
    sim, want, ids = books_site(procs, 1500)
    out = str(tmp_path / "books.jsonl")
    pl = Pipeline(procs, redis, sim.start_url, broker_args=["--max-per-host", "8"])
    pl.start_broker()
    st = {"writer": pl.start_writer(None, out), "parser": pl.start_parser(),
          "fetcher": pl.start_fetcher("--name", "f1"), "f2": pl.start_fetcher("--name", "f2"),
          "broker": pl.broker}
    pl.wait_stat("fetched", 300, timeout=60)
    assert int(pl.stats().get("written", "0")) < len(want) - 300, "too late for a mid-crawl stall"
    victim = st[stage]
    victim.send_signal(signal.SIGSTOP)
    try:
        time.sleep(10)  # the sleep is the test's: the stall
    finally:
        victim.send_signal(signal.SIGCONT)
    pl.wait_done(timeout=180)
    assert_once(jsonl_ids(out), want)
    s = sim.stats()
    assert s["duplicates"] == 0, "%d pages fetched twice after a 10 s SIGSTOP of the %s: %s" % (
        s["duplicates"], stage, {k: s[k] for k in ("requests", "duplicates")})
    st_ = pl.stats()
    assert int(st_["written"]) == len(want), st_
    if stage != "broker":
        # A broker stopped that long makes every stage reconnect: JOBs it had sent
        # into the closed connections never arrived, and only those come back by
        # lease expiry (fetched once, late).
        assert int(st_.get("expired", "0")) == 0, st_


# ---------------------------------------------------------------- end-to-end backpressure

def test_window_bounds_open_leases_when_the_writer_stalls(procs, redis, tmp_path):
    """With the writer stopped nothing closes a detail page's lease: fetching must
    stop once --window leases are open, not run on into the streamers' queues."""
    sim, want, ids = books_site(procs, 1500, latency=5)
    out = str(tmp_path / "books.jsonl")
    pl = Pipeline(procs, redis, sim.start_url, broker_args=["--max-per-host", "16", "--window", "100",
                                                            "--stats-ms", "100"])
    pl.start_broker()
    w = pl.start_writer(None, out)
    pl.start_parser()
    pl.start_fetcher()
    pl.wait_stat("fetched", 50, timeout=60)
    w.send_signal(signal.SIGSTOP)
    try:
        peak, seen = 0, []
        end = time.time() + 4
        while time.time() < end:
            st = pl.stats()
            peak = max(peak, int(st.get("leased", "0")))
            seen.append(int(st.get("fetched", "0")))
            time.sleep(0.05)  # the test's: 4 s of the stall, sampled every 50 ms
        assert pl.stats().get("window") == "100", pl.stats()
        assert peak <= 100, "%d leases open with --window 100" % peak
        # Full: the last two seconds fetched nothing more.
        assert seen[-1] - seen[len(seen) // 2] == 0, seen
        assert seen[-1] < len(want), "the whole catalogue was fetched past the window"
    finally:
        w.send_signal(signal.SIGCONT)
    pl.wait_done(timeout=120)
    assert_once(jsonl_ids(out), want)
    assert sim.stats()["duplicates"] == 0


# ---------------------------------------------------------------- honest ends

def meta(pl):
    return pl.redis.hgetall(pl.key("meta"))


def test_start_url_on_a_closed_port_is_a_dead_letter_exit_1(procs, redis):
    from harness import free_port
    url = "http://127.0.0.1:%d/api/book/?limit=18&offset=0" % free_port()
    pl = Pipeline(procs, redis, url, broker_args=["--max-retries", "1", "--retry-base-ms", "50"])
    pl.start_broker()
    pl.start_fetcher("--connect-timeout-ms", "1000")
    rc = wait_exit(pl.broker, 60)
    log = procs.log(pl.broker)
    assert rc == 1, "exit %d, want 1 (complete, with dead letters):\n%s" % (rc, log[-2000:])
    assert len(pl.dead()) == 1, pl.dead()
    m = meta(pl)
    assert m["state"] == "complete" and "1 dead letters" in m["reason"], m
    assert re.search(r"crawl t complete .*0 documents written this run.*1 dead letters .*LRANGE zcrawl:\{t\}:dead", log), log[-2000:]


def test_sigterm_to_the_broker_exits_3_and_meta_says_stopped(procs, redis, tmp_path):
    sim, want, ids = books_site(procs, 1500)
    pl = Pipeline(procs, redis, sim.start_url)
    pl.start_all(out=str(tmp_path / "books.jsonl"))
    pl.wait_stat("fetched", 200, timeout=60)
    run_id = meta(pl)["run_id"]
    assert re.fullmatch(r"[0-9a-f]{16}", run_id), run_id
    pl.broker.send_signal(signal.SIGTERM)
    rc = wait_exit(pl.broker, 20)
    log = procs.log(pl.broker)
    assert rc == 3, "exit %d, want 3 (stopped, resumable):\n%s" % (rc, log[-2000:])
    m = meta(pl)
    assert m["state"] == "stopped" and m["run_id"] == run_id and "signal 15" in m["reason"], m
    assert int(m["ended_at"]) >= int(m["started_at"]) >= int(m["created_at"]) > 0, m
    assert int(m["written"]) < len(want), m
    assert "the same command resumes it" in log, log[-1000:]
    # The same command resumes it: a new run of the same crawl, which completes.
    pl.start_broker()
    pl.wait_done(timeout=120)
    m2 = meta(pl)
    assert m2["state"] == "complete" and m2["run_id"] != run_id and m2["created_at"] == m["created_at"], m2
    assert int(m2["written"]) == len(want), m2


def test_broker_refuses_a_crawl_recorded_with_another_identity(procs, redis):
    """--identity (what `zcrawl run` passes: start URLs, spec, sink) is recorded in
    the meta; a broker naming another one for the same crawl exits 2 and writes
    nothing (it took the crawl over as its own); the same one resumes, and a rerun
    of a crawl complete with dead letters exits 1 (it exited 0)."""
    from harness import free_port
    url = "http://127.0.0.1:%d/api/book/?limit=18&offset=0" % free_port()
    pl = Pipeline(procs, redis, url, broker_args=["--max-retries", "1", "--retry-base-ms", "50", "--linger-ms", "0"])
    pl.start_broker("--identity", "start A, out /a.jsonl")
    pl.start_fetcher("--connect-timeout-ms", "1000")
    assert wait_exit(pl.broker, 60) == 1, procs.log(pl.broker)
    assert meta(pl)["identity"] == "start A, out /a.jsonl", meta(pl)
    before = meta(pl)
    pl.start_broker("--identity", "start B, out /b.jsonl", seed=False)
    assert wait_exit(pl.broker, 20) == 2, procs.log(pl.broker)
    log = procs.log(pl.broker)
    assert "is another crawl (start A, out /a.jsonl)" in log and "--crawl" in log and "--fresh" in log, log
    assert meta(pl) == before
    pl.start_broker("--identity", "start A, out /a.jsonl", seed=False)
    assert wait_exit(pl.broker, 20) == 1, procs.log(pl.broker)
    assert "already complete" in procs.log(pl.broker) and "1 dead letters" in procs.log(pl.broker)


def test_sighup_stops_every_stage_as_sigterm_does(procs, redis, tmp_path):
    """SIGHUP (a closed terminal or ssh session) stops every stage as SIGTERM does:
    fetchers, parser and writer drain and exit 0, the broker records `stopped` and
    exits 3 (SIGHUP killed each at once: 129, nothing drained)."""
    sim, want, ids = books_site(procs, 1500)
    pl = Pipeline(procs, redis, sim.start_url)
    out = tmp_path / "books.jsonl"
    pl.start_all(out=str(out))
    pl.wait_stat("fetched", 200, timeout=60)
    stages = [p for name, p, _ in procs.items if name in ("fetcher", "parser", "writer") and p.poll() is None]
    assert len(stages) == 4, procs.items
    for p in stages:
        p.send_signal(signal.SIGHUP)
    for p in stages:
        assert wait_exit(p, 20) == 0, procs.log(p)[-2000:]
        assert "event=stopped" in procs.log(p) or "event=stopping" in procs.log(p), procs.log(p)[-1000:]
    pl.broker.send_signal(signal.SIGHUP)
    rc = wait_exit(pl.broker, 20)
    assert rc == 3, "exit %d, want 3 (stopped):\n%s" % (rc, procs.log(pl.broker)[-2000:])
    m = meta(pl)
    assert m["state"] == "stopped" and "signal 1" in m["reason"], m


def test_redis_restarted_empty_mid_crawl_exits_4(procs, redis, tmp_path):
    sim, want, ids = books_site(procs, 1500)
    pl = Pipeline(procs, redis, sim.start_url)
    pl.start_all(out=str(tmp_path / "books.jsonl"))
    pl.wait_stat("fetched", 200, timeout=60)
    redis.cli("FLUSHALL")
    rc = wait_exit(pl.broker, 20)
    log = procs.log(pl.broker)
    assert rc == 4, "exit %d, want 4 (failed):\n%s" % (rc, log[-2000:])
    assert "lost its state in Redis" in log and "--fresh starts it over" in log, log[-2000:]
    assert "event=crawl_complete" not in log
    # Nothing of the crawl pretends to be there: no meta or stats written back.
    assert meta(pl) == {}, meta(pl)
    assert pl.stats().get("state") in (None, "running"), pl.stats()


def run_to_completion(procs, pl, out):
    pl.start_all(out=out)
    pl.wait_done(timeout=120)


def test_rerun_of_a_complete_crawl_says_so_and_fresh_starts_over(procs, redis, tmp_path):
    sim, want, ids = books_site(procs, 300, latency=1)
    out = str(tmp_path / "books.jsonl")
    pl = Pipeline(procs, redis, sim.start_url)
    run_to_completion(procs, pl, out)
    first = sim.stats()["requests"]
    assert meta(pl)["state"] == "complete"
    # Again: one line, exit 0, and every stage that says HELLO is told SHUTDOWN.
    pl.start_broker("--linger-ms", "3000")
    f = pl.start_fetcher()
    w = pl.start_writer(None, str(tmp_path / "again.jsonl"))
    t0 = time.time()
    assert wait_exit(f, 10) == 0 and wait_exit(w, 10) == 0, "stages not sent away"
    assert time.time() - t0 < 8
    assert wait_exit(pl.broker, 10) == 0
    log = procs.log(pl.broker)
    assert re.search(r"^crawl t already complete at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, %d documents; "
                     r"--fresh starts it over$" % len(want), log, re.M), log[-2000:]
    assert sim.stats()["requests"] == first, "a complete crawl fetched again"
    # --fresh: the crawl's keys go, the whole crawl runs again.
    old_run = meta(pl)["run_id"]
    pl.start_broker("--fresh")
    out2 = str(tmp_path / "fresh.jsonl")
    pl.start_writer(None, out2)
    pl.start_parser()
    pl.start_fetcher()
    pl.wait_done(timeout=120)
    assert_once(jsonl_ids(out2), want)
    assert sim.stats()["requests"] >= 2 * first - 5
    m = meta(pl)
    assert m["state"] == "complete" and m["run_id"] != old_run and int(m["written"]) == len(want), m
    log = procs.log(pl.broker)
    assert re.search(r"crawl t complete in [\d.]+ s: %d documents written this run \(%d in total\)"
                     % (len(want), len(want)), log), log[-2000:]


def test_crawl_of_another_url_form_is_refused_and_fresh_starts_over(procs, redis, tmp_path):
    """A stopped crawl begun by a zcrawl of canonical URL form 1 (the hand-written
    splitter: its meta has no url_form) holds fingerprints this broker would not
    match (dot segments): the broker refuses it with one line and exit 4, touches
    nothing, and --fresh starts it over under form 2."""
    sim, want, ids = books_site(procs, 40, latency=1)
    pl = Pipeline(procs, redis, sim.start_url)
    redis.cli("HSET", pl.key("meta"), "state", "stopped", "run_id", "0123456789abcdef",
              "created_at", "1", "started_at", "1", "ended_at", "2", "reason", "signal 15", "written", "0")
    redis.cli("HSET", pl.key("seen:0000"), "abcdef", "")
    before = meta(pl)
    pl.start_broker()
    rc = wait_exit(pl.broker, 20)
    log = procs.log(pl.broker)
    assert rc == 4, "exit %d, want 4 (failed):\n%s" % (rc, log[-2000:])
    lines = [ln for ln in log.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "URL fingerprints differ (canonical form 1, this one 2)" in lines[0] \
        and lines[0].endswith("--fresh starts it over"), log[-2000:]
    assert meta(pl) == before, meta(pl)
    assert redis.cli("EXISTS", pl.key("seen:0000")).strip() == "1"
    out = str(tmp_path / "fresh.jsonl")
    pl.start_broker("--fresh")
    pl.start_writer(None, out)
    pl.start_parser()
    pl.start_fetcher()
    pl.wait_done(timeout=120)
    assert_once(jsonl_ids(out), want)
    m = meta(pl)
    assert m["state"] == "complete" and m["url_form"] == "2", m


# ---------------------------------------------------------------- failing Redis

def test_redis_at_maxmemory_pauses_and_fails_bounded_then_resumes(procs, redis, tmp_path):
    """Redis refusing every write (maxmemory, noeviction): the broker hands out no
    new work, logs the trouble at most once per 5 s, and after
    --redis-fail-limit-ms exits 4 saying why; once Redis has room again the same
    command finishes the crawl."""
    sim, want, ids = books_site(procs, 1500)
    out = str(tmp_path / "books.jsonl")
    pl = Pipeline(procs, redis, sim.start_url, broker_args=["--redis-fail-limit-ms", "6000"])
    pl.start_all(out=out)
    pl.wait_stat("fetched", 200, timeout=60)
    redis.cli("CONFIG", "SET", "maxmemory", "1")
    t0 = time.time()
    at_oom = sim.stats()["requests"]
    rc = wait_exit(pl.broker, 40)
    took = time.time() - t0
    log = procs.log(pl.broker)
    assert rc == 4, "exit %d, want 4:\n%s" % (rc, log[-2000:])
    assert 5 <= took <= 25, took
    assert re.search(r"Redis refusing writes for \d+ s \(--redis-fail-limit-ms 6000\): redis error: OOM", log), log[-2000:]
    errors = log.count("event=redis_error")
    assert 1 <= errors <= took / 5 + 2, "%d redis_error lines in %.0f s" % (errors, took)
    # Only what was in flight at the moment went on: no new work was handed out.
    assert sim.stats()["requests"] - at_oom <= 40, (at_oom, sim.stats()["requests"])
    redis.cli("CONFIG", "SET", "maxmemory", "0")
    pl.start_broker()
    pl.wait_done(timeout=180)
    # Every book; a page whose outcome Redis refused may be written twice by a
    # JSON Lines writer (its exactly-once is the writer's).
    missing = want - set(jsonl_ids(out))
    assert not missing, sorted(missing)[:5]


def test_retry_after_is_capped(procs, redis):
    """A DONE retry with Retry-After of a day delays the URL by --max-retry-delay-ms at most."""
    url = "http://127.0.0.1:9/api/book/?limit=18&offset=0"
    pl = Pipeline(procs, redis, url, broker_args=["--max-retry-delay-ms", "2000", "--heartbeat-ms", "200", "--ignore-robots"])
    pl.start_broker()
    f = Stage(pl.ep["control"], "fetcher", "f", credit=1)
    try:
        wait_for(lambda: (f.pump(0.1), f.of_type(JOB))[1], 10, "a JOB")
        f.send(DONE, url, "retry", "503", str(86400 * 1000), "503 Service Unavailable")
        f.pump(0.5)
        due = float(redis.cli("ZSCORE", pl.key("delayed"), url))
        assert due <= time.time() * 1000 + 2500, "delayed until %.0f s from now" % (due / 1000 - time.time())
    finally:
        f.close()


def test_redis_refusing_writes_briefly_costs_no_fetch(procs, redis, tmp_path):
    """A few seconds at maxmemory, then room again: reports that came meanwhile are
    replayed and open leases get the outage back, so no page is fetched twice."""
    sim, want, ids = books_site(procs, 1500)
    out = str(tmp_path / "books.jsonl")
    pl = Pipeline(procs, redis, sim.start_url, broker_args=["--stats-ms", "200"])
    pl.start_all(out=out)
    pl.wait_stat("fetched", 200, timeout=60)
    redis.cli("CONFIG", "SET", "maxmemory", "1")
    time.sleep(4)  # the sleep is the test's: a few seconds at maxmemory
    redis.cli("CONFIG", "SET", "maxmemory", "0")
    pl.wait_done(timeout=120)
    log = procs.log(pl.broker)
    assert "event=redis_recovered" in log, log[-2000:]
    assert re.search(r"event=reports_replayed count=[1-9]", log), log[-3000:]
    assert_once(jsonl_ids(out), want)
    s = sim.stats()
    assert s["duplicates"] == 0, {k: s[k] for k in ("requests", "duplicates")}
