"""test_ops.py -- what an operator watches a crawl with: the README's redis-cli
recipes run as pasted against a launcher's crawl (whose default crawl name they
assume), `zcrawl status` (table and --json) against a live crawl and a finished
one, and the broker's Prometheus /metrics scraped during a real crawl. Numbers
are checked against what redis-cli reads from the same Redis."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest

from harness import ROOT, Pipeline, Redis, Sitesim, bin_path, free_port, wait_for, wait_port

STATES = {"running", "idle", "done", "stopped", "complete", "failed"}


@contextmanager
def frozen(pid):
    """SIGSTOPs a broker: it is the only process that writes the crawl's keys, so
    Redis holds still while the test compares two readings of it."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def broker_child(launcher_pid):
    """pid of the zcrawl-broker the launcher started."""
    def find():
        for k in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/stat" % k) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open("/proc/%s/cmdline" % k, "rb") as f:
                    exe = f.read().split(b"\0")[0]
            except (OSError, ValueError, IndexError):
                continue
            if ppid == launcher_pid and exe.endswith(b"zcrawl-broker"):
                return int(k)
        return None
    return wait_for(find, 20, "the launcher's broker")


def readme_block():
    """The shell block of the README's "Watching a crawl" section: its two setup
    lines (the crawl's name, Redis's password) and the recipes after them."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    m = re.search(r"^## Watching a crawl\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "README.md has no 'Watching a crawl' section"
    blocks = re.findall(r"```sh\n(.*?)```", m.group(1), re.S)
    assert len(blocks) == 1, blocks
    lines = blocks[0].splitlines()
    assert re.match(r"^CRAWL=\S+ ", lines[0]) and lines[1].startswith("export REDISCLI_AUTH=$("), lines[:2]
    return lines[2:]


def readme_recipes():
    return [l for l in readme_block() if "redis-cli" in l]


def run_recipe(port, line, crawl, password):
    """Runs a README line in bash as pasted, after the block's two setup lines with
    this test's crawl name and password, redis-cli and zcrawl pointed at our Redis
    (its address only: the password comes from REDISCLI_AUTH, as the README says)."""
    script = ('CRAWL=%s\nexport REDISCLI_AUTH=%s\n'
              'redis-cli() { command redis-cli -p %d "$@"; }\n'
              'zcrawl() { command %s "$@" --redis redis://127.0.0.1:%d; }\n%s\n'
              % (crawl, password, port, bin_path("zcrawl"), port, line))
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and not r.stderr.strip(), "%s\nrc %d: %s" % (line, r.returncode, r.stderr)
    out = r.stdout.strip()
    assert out, "the recipe printed nothing: %s" % line
    return out


def as_int(out, line):
    assert re.fullmatch(r"\d+", out), "not a number from %s: %r" % (line, out)
    return int(out)


# ---- the README's recipes ----

@pytest.mark.long
def test_readme_recipes_work_as_pasted(procs, tmp_path):
    """The launcher's crawl under a name of its own (books2), on a Redis with a
    password, as on the README's several hosts: every recipe, run after the
    block's two setup lines, prints a number or text that agrees with redis-cli,
    and `zcrawl status` reads the same crawl with the password from REDISCLI_AUTH."""
    recipes = readme_recipes()
    assert len(recipes) >= 8, recipes
    others = [l for l in readme_block() if l not in recipes]
    assert others == ['zcrawl status --crawl "$CRAWL"                      # everything below at once (--json: as JSON)'], others
    crawl, password = "books2", "pw-Recipes-7"
    redis = Redis(procs, password=password)
    site = Sitesim(procs, "--books", "900", "--latency-ms", "40", "--malformed-rate", "0.05")
    out, logdir = tmp_path / "books.jsonl", tmp_path / "logs"
    launcher = procs.start("zcrawl", [bin_path("zcrawl"), "run", "--no-progress", "--crawl", crawl,
                                      "--fetchers", "1", "--max-per-host", "4", "--out", str(out),
                                      "--log-dir", str(logdir), "--timeout", "120", site.start_url],
                           env={"ZCRAWL_REDIS": redis.uri})
    broker = broker_child(launcher.pid)
    key = lambda name: "zcrawl:{%s}:%s" % (crawl, name)

    def busy():
        s = redis.hgetall(key("stats"))
        return (redis.int("GET", key("waiting")) >= 50 and redis.int("ZCARD", key("leases")) > 0
                and redis.int("LLEN", key("dead")) >= 1 and s.get("state") == "running")
    wait_for(busy, 60, "a running crawl under zcrawl:{%s}: with waiting URLs, leases and a dead letter "
             "(keys: %s)" % (crawl, redis.cli("KEYS", "*").split()))
    checked = []
    with frozen(broker):
        frontier = redis.int("GET", key("waiting"))
        delayed = redis.int("ZCARD", key("delayed"))
        leases = redis.int("ZCARD", key("leases"))
        dead = redis.int("LLEN", key("dead"))
        ready = redis.int("ZCARD", key("ready"))
        active = redis.int("ZCARD", key("active"))
        stats = redis.hgetall(key("stats"))
        host = "127.0.0.1:%d" % site.port
        t = run_recipe(redis.port, others[0], crawl, password)
        rows = table(t)
        assert rows["crawl"].startswith(crawl + "  (redis 127.0.0.1:%d)" % redis.port), t
        assert first_int(rows["queue depth"]) == frontier + delayed and first_int(rows["leases"]) == leases, t
        for line in recipes:
            got = run_recipe(redis.port, line, crawl, password)
            cmd = line.split("#")[0]
            if "HGET " in cmd and " state" in cmd:
                assert got == stats["state"] and got in STATES, (line, got)
            elif cmd.startswith("echo $(("):
                assert as_int(got, line) == frontier + delayed > 0, (line, got)
            elif "--scan" in cmd and ":q:*" in cmd:
                rows = [r.split() for r in got.splitlines()]
                assert rows == [[str(frontier), host]] and frontier > 0, (got, frontier)
            elif re.search(r"\bGET +\S+:waiting", cmd):
                assert as_int(got, line) == frontier > 0, (line, got)
            elif re.search(r"\bZCARD +\S+:ready", cmd) and re.search(r"\bZCARD +\S+:active", cmd):
                # the one host is either held by the broker or waiting its turn
                assert got == "hosts: %d waiting their turn, %d held by the broker" % (ready, active), got
                assert ready + active == 1, got
            elif re.search(r"\bZCARD +\S+:delayed", cmd):
                assert as_int(got, line) == delayed, (line, got)
            elif re.search(r"\bZCARD +\S+:leases", cmd):
                assert as_int(got, line) == leases > 0, (line, got)
            elif re.search(r"\bZRANGE +\S+:leases", cmd):
                v = got.splitlines()
                assert len(v) == 2 * min(5, leases), got
                now_ms = time.time() * 1000
                for url, deadline in zip(v[0::2], v[1::2]):
                    assert url.startswith("http://127.0.0.1:%d/" % site.port), url
                    assert now_ms - 3600e3 < float(deadline) < now_ms + 3600e3, deadline
            elif re.search(r"\bLLEN +\S+:dead", cmd):
                assert as_int(got, line) == dead >= 1, (line, got)
            elif re.search(r"\bLRANGE +\S+:dead", cmd):
                letters = [json.loads(x) for x in got.splitlines()]
                assert len(letters) == dead
                assert all({"url", "stage", "reason", "time"} <= set(d) for d in letters), letters[:3]
            elif re.search(r"\bHGETALL +\S+:stats", cmd):
                v = got.splitlines()
                assert dict(zip(v[0::2], v[1::2])) == stats
                assert int(stats["fetched"]) > 0 and stats["state"] == "running", stats
            else:
                raise AssertionError("no check for this README recipe; add one: %s" % line)
            checked.append(line)
    assert checked == recipes
    assert launcher.wait(timeout=150) == 1, procs.log(launcher)  # complete, with dead letters (malformed books)
    # Without the password every recipe says so instead of printing a number.
    r = subprocess.run(["bash", "-c", 'redis-cli -p %d GET "zcrawl:{%s}:waiting"' % (redis.port, crawl)],
                       capture_output=True, text=True, timeout=30)
    assert "NOAUTH" in r.stdout + r.stderr, r


# ---- zcrawl status ----

def status(redis_uri, *args, expect=0):
    r = subprocess.run([bin_path("zcrawl"), "status", "--redis", redis_uri] + list(args),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == expect, "rc %d, wanted %d:\n%s%s" % (r.returncode, expect, r.stdout, r.stderr)
    return r


def table(text):
    """The table's rows: name -> the rest of the line."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^(\S(?:.*?\S)?) {2,}(\S.*)$", line)
        if m and not line.startswith("  "):
            rows[m.group(1)] = m.group(2)
    return rows


def first_int(s):
    return int(re.match(r"(\d+)", s).group(1))


def test_status_live_crawl(procs, redis):
    """A crawl in flight (a pipeline built stage by stage, a crawl name of its own):
    every number of the table and of --json equals what redis-cli reads while the
    broker holds still."""
    site = Sitesim(procs, "--books", "900", "--latency-ms", "40", "--malformed-rate", "0.05")
    p = Pipeline(procs, redis, site.start_url, crawl="live1", broker_args=["--max-per-host", "4"])
    p.start_all(fetchers=2, out=os.path.join(procs.logdir, "out.jsonl"))
    wait_for(lambda: redis.int("GET", p.key("waiting")) >= 50 and int(p.stats().get("dead", "0")) >= 1
             and p.stats().get("fetchers") == "2", 60, "a crawl in flight with a dead letter")
    with frozen(p.broker.pid):
        frontier = redis.int("GET", p.key("waiting"))
        delayed = redis.int("ZCARD", p.key("delayed"))
        leases = redis.int("ZCARD", p.key("leases"))
        dead = redis.int("LLEN", p.key("dead"))
        gone = redis.int("HLEN", p.key("gone"))
        stats = p.stats()
        t = status(redis.uri, "--crawl", "live1").stdout
        j = json.loads(status(redis.uri, "--crawl", "live1", "--json").stdout)
        dead_list = p.dead()
    rows = table(t)
    assert rows["crawl"].startswith("live1"), t
    assert rows["state"].split()[0] == "running", t
    assert rows["queue depth"].startswith("%d  (frontier %d + delayed %d)" % (frontier + delayed, frontier, delayed)), t
    for name, want in [("frontier", frontier), ("delayed", delayed), ("leases", leases),
                       ("dead letters", dead), ("gone", gone)]:
        assert first_int(rows[name]) == want, (name, want, t)
    assert rows["peers"] == "fetchers 2, parsers 1, writers 1", t
    counters = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", rows["counters"]))
    for k in ["fetched", "discovered", "parsed", "written", "retried", "dead", "gone", "expired"]:
        assert counters[k] == int(stats.get(k, "0")), (k, t, stats)
    assert "fetched %s/s" % stats["fetched_per_s"] in rows["rates"], (t, stats)
    assert rows["by host"] == "all %d waiting URLs, 1 host" % frontier, t
    assert re.search(r"^  127\.0\.0\.1:%d +%d  leased %d$" % (site.port, frontier, leases), t, re.M), t

    # The broker keeps a meta hash (its lifecycle state) beside the stats hash.
    assert j["crawl"] == "live1" and j["state"] == "running" and j["state_source"] == "meta", j
    assert (j["queue_depth"], j["frontier"], j["delayed"], j["leases"], j["dead_letters"], j["gone"]) == \
        (frontier + delayed, frontier, delayed, leases, dead, gone), j
    assert j["peers"] == {"fetcher": 2, "parser": 1, "writer": 1}, j
    assert j["counters"] == {k: int(stats.get(k, "0")) for k in j["counters"]} and j["counters"]["fetched"] > 0, j
    assert j["rates"]["fetched_per_s"] == float(stats["fetched_per_s"]), j
    top = j["by_host"].pop("top")
    assert j["by_host"] == {"sampled": frontier, "complete": True, "hosts": 1}, j
    assert [(e["host"], e["urls"], e["leased"], e["backoff_ms"]) for e in top] == \
        [("127.0.0.1:%d" % site.port, frontier, leases, 0)], top
    # Every peer by role, with when the broker last heard it.
    assert sorted(e["role"] for e in j["peer_list"]) == ["fetcher", "fetcher", "parser", "writer"], j["peer_list"]
    assert all(e["state"] == "live" and 0 <= j["read_at"] - e["seen"] < 10000 for e in j["peer_list"]), j
    assert [(d["url"], d["reason"]) for d in j["dead"]["latest"]] == \
        [(d["url"], d["reason"]) for d in dead_list[-10:][::-1]], j["dead"]
    assert j["stats"] == stats and j["problem"] == stats.get("problem", ""), j
    assert 0 <= j["stats_age_ms"] < 60000, j
    p.wait_done(timeout=120, want_rc=1 if dead else 0)  # exit 1: complete with dead letters


def test_status_finished_crawl_of_the_launcher(procs, redis, tmp_path):
    """`zcrawl run` with no --crawl, then `zcrawl status` with no --crawl: both
    default to `default`, so status finds the finished crawl and its numbers."""
    site = Sitesim(procs, "--books", "300")
    out = tmp_path / "books.jsonl"
    r = subprocess.run([bin_path("zcrawl"), "run", "--no-progress", "--redis", redis.uri, "--out", str(out),
                        "--log-dir", str(tmp_path / "logs"), "--timeout", "90", site.start_url],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert redis.cli("EXISTS", "zcrawl:{default}:stats").strip() == "1", redis.cli("KEYS", "*")
    stats = redis.hgetall("zcrawl:{default}:stats")
    rows = table(status(redis.uri).stdout)
    j = json.loads(status(redis.uri, "--json").stdout)
    meta = redis.hgetall("zcrawl:{default}:meta")
    assert meta["state"] == "complete" and rows["state"].split()[0] == "complete", (meta, rows)
    assert stats["state"] in ("done", "complete"), stats
    assert first_int(rows["queue depth"]) == 0 and first_int(rows["leases"]) == 0, rows
    assert rows["by host"] == "none waiting", rows
    assert j["state"] == "complete" and j["queue_depth"] == 0 and j["leases"] == 0, j
    assert j["counters"]["written"] == int(stats["written"]) == len(out.read_text().splitlines()) > 0, j
    assert j["by_host"] == {"sampled": 0, "complete": True, "hosts": 0, "top": []}, j


def test_status_samples_a_long_frontier_by_host(redis):
    """A frontier longer than the sample: by-host counts say they are a sample of
    the first 100000 URLs, and the top 10 are in order."""
    key = "zcrawl:{big}:frontier"
    # h00 only after the first 100000 URLs, h11 twice as often as the others before.
    script = ("for i = 1, 120000 do local h = i % 12; if i <= 100000 and h == 0 then h = 11 end; "
              "redis.call('RPUSH', KEYS[1], 'http://h' .. string.format('%02d', h) .. '.example:80/p/' .. i) end")
    redis.cli("EVAL", script, "1", key)
    assert redis.cli("LLEN", key).strip() == "120000"
    first = [u.split("/")[2] for u in redis.cli("LRANGE", key, "0", "99999").split()]
    want = sorted(((first.count(h), h) for h in set(first)), key=lambda x: (-x[0], x[1]))[:10]
    t = status(redis.uri, "--crawl", "big").stdout
    assert table(t)["by host"] == "sample: the first 100000 of 120000 waiting URLs, 11 hosts", t
    got = re.findall(r"^  (\S+) +(\d+)$", t, re.M)
    assert [(int(n), h) for h, n in got] == want, t
    j = json.loads(status(redis.uri, "--crawl", "big", "--json").stdout)
    assert j["by_host"]["sampled"] == 100000 and j["by_host"]["complete"] is False and j["by_host"]["hosts"] == 11
    assert [(e["urls"], e["host"]) for e in j["by_host"]["top"]] == want
    assert j["state"] == "unknown" and j["queue_depth"] == 120000, j


def test_status_errors(redis):
    """Exit codes: 4 and one line without the password when Redis cannot be
    reached, 2 on a usage error (the password kept out again), 1 for a crawl
    Redis does not hold."""
    port = free_port()
    r = status("redis://:s3cretpw@127.0.0.1:%d" % port, expect=4)
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and "s3cretpw" not in r.stderr, r.stderr
    assert "127.0.0.1:%d" % port in r.stderr, r.stderr
    r = status("redis://:s3cretpw@127.0.0.1:notaport", expect=2)
    assert "s3cretpw" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = status(redis.uri.replace("redis://", "redis://:s3cretpw@"), expect=4)  # AUTH refused
    assert "s3cretpw" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    status(redis.uri, "--bogus", expect=2)
    status(redis.uri, "--crawl", "a:b", expect=2)
    status(redis.uri, "extra", expect=2)
    r = status(redis.uri, "--crawl", "nosuch", expect=1)
    assert "no crawl 'nosuch'" in r.stderr and r.stdout == "", r.stderr


# ---- /metrics ----

# Label values are quoted and may hold braces (a spec's template: {origin}/api/book/{id}).
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)$')


def scrape(port):
    """GET /metrics: (status, content type, {(name, labels): value}, text).
    Every sample must follow a # HELP and # TYPE of its family."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            code, ctype, text = r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), None, e.read().decode()
    helps, types, samples = set(), {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("gauge", "counter"), line
            types[name] = kind
        elif line.startswith("# "):
            continue  # a comment: why Redis could not be read
        else:
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            name = m.group(1)
            assert name in helps and name in types, "no HELP/TYPE before %s" % line
            assert (types[name] == "counter") == name.endswith("_total"), line
            samples[(name, m.group(2) or "")] = float(m.group(3))
    return code, ctype, samples, text


def test_metrics_during_a_crawl(procs):
    """Scrapes /metrics all through a real crawl (broker in service mode, so it
    stays up once the work is done): counters only grow and bracket redis-cli's
    readings, gauges match redis-cli once the crawl is idle, Redis down answers
    503 with one line, and a second broker on the same address exits 2."""
    # With AOF: Redis goes down and comes back with its data. Restarted empty, the
    # crawl's meta would be gone and the broker would rightly fail the crawl
    # (test_truth covers that), taking /metrics with it.
    from harness import Redis
    redis = Redis(procs, appendonly=True)
    mport = free_port()
    site = Sitesim(procs, "--books", "900", "--latency-ms", "40", "--malformed-rate", "0.05")
    p = Pipeline(procs, redis, site.start_url, crawl="m1",
                 broker_args=["--max-per-host", "4", "--mode", "service", "--metrics", "127.0.0.1:%d" % mport])
    p.start_all(fetchers=2, out=os.path.join(procs.logdir, "out.jsonl"))
    assert wait_port(mport, proc=p.broker), procs.log(p.broker)
    seen_fetched, seen_frontier, seen_running, between = [], [], False, 0
    deadline = time.time() + 120
    while time.time() < deadline:
        code, ctype, a, text = scrape(mport)
        assert code == 200 and ctype.startswith("text/plain; version=0.0.4"), (code, text)
        stats = p.stats()
        code, _, b, text = scrape(mport)
        assert code == 200, text
        for field, name in [("fetched", "zcrawl_pages_fetched_total"), ("written", "zcrawl_documents_written_total"),
                            ("parsed", "zcrawl_pages_parsed_total"), ("dead", "zcrawl_dead_letters_total")]:
            assert a[(name, "")] <= int(stats.get(field, "0")) <= b[(name, "")], (name, a[(name, "")], stats, b[(name, "")])
            between += 1
        assert b[("zcrawl_up", "")] == 1
        seen_fetched.append(b[("zcrawl_pages_fetched_total", "")])
        seen_frontier.append(b[("zcrawl_frontier_urls", "")])
        if b[("zcrawl_crawl_state", '{state="running"}')] == 1:
            seen_running = True
        # A service-mode crawl stays `running` in its meta; the broker's stats say idle.
        if p.stats().get("state") == "idle" and b[("zcrawl_frontier_urls", "")] == 0 \
                and b[("zcrawl_leases", "")] == 0 and b[("zcrawl_documents_written_total", "")] > 0:
            break
        time.sleep(0.3)  # sampling: a scrape every 0.3 s while the crawl runs
    else:
        raise AssertionError("the crawl never went idle: %s" % text)
    assert seen_running, "never saw zcrawl_crawl_state{state=\"running\"} 1"
    assert seen_fetched == sorted(seen_fetched) and len(set(seen_fetched)) >= 3, seen_fetched
    assert max(seen_frontier) > 0 and seen_frontier[-1] == 0, seen_frontier
    assert between > 0

    # Idle: every number equals redis-cli's.
    p.wait_stats_written()  # a stats write after the last peer count change
    code, _, m, text = scrape(mport)
    stats = p.stats()
    assert code == 200
    for field, name in [("fetched", "zcrawl_pages_fetched_total"), ("written", "zcrawl_documents_written_total"),
                        ("discovered", "zcrawl_urls_discovered_total"), ("parsed", "zcrawl_pages_parsed_total"),
                        ("retried", "zcrawl_retries_total"), ("dead", "zcrawl_dead_letters_total"),
                        ("gone", "zcrawl_pages_gone_total"), ("expired", "zcrawl_leases_expired_total")]:
        assert m[(name, "")] == int(stats.get(field, "0")), (name, m[(name, "")], stats)
    assert m[("zcrawl_dead_letters_total", "")] >= 1
    assert m[("zcrawl_dead_list_entries", "")] == redis.int("LLEN", p.key("dead"))
    assert m[("zcrawl_gone_urls", "")] == redis.int("HLEN", p.key("gone"))
    assert m[("zcrawl_delayed_urls", "")] == redis.int("ZCARD", p.key("delayed")) == 0
    for role in ("fetcher", "parser", "writer"):
        assert m[("zcrawl_peers", '{role="%s"}' % role)] == int(stats[role + "s"]), (role, stats)
    assert m[("zcrawl_peers", '{role="fetcher"}')] == 2
    assert [v for k, v in m.items() if k[0] == "zcrawl_info" and k[1].startswith('{crawl="m1",')] == [1], text

    # Nothing else at the port; GET only.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen("http://127.0.0.1:%d/nope" % mport, timeout=10)
    assert e.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/metrics" % mport, data=b"x"), timeout=10)
    assert e.value.code == 405

    # The address is taken: a second broker says so in one line and exits 2 before it touches Redis.
    ports = [free_port() for _ in range(5)]
    second = procs.start("broker2", [bin_path("broker"), "--redis", redis.uri, "--crawl", "m2",
                                     "--metrics", "127.0.0.1:%d" % mport] +
                         sum([["--" + f, "tcp://127.0.0.1:%d" % port] for f, port in
                              zip(["control", "pages-in", "pages-out", "docs-in", "docs-out"], ports)], []) +
                         [site.start_url])
    assert second.wait(timeout=20) == 2, procs.log(second)
    err = [l for l in procs.log(second).splitlines() if "error" in l]
    assert len(err) == 1 and "Address already in use" in err[0] and str(mport) in err[0], procs.log(second)
    assert redis.cli("KEYS", "zcrawl:{m2}:*").strip() == ""

    # Redis down: zcrawl_up 0 (the broker answers; an alert can tell Redis from it),
    # with one comment line that says why.
    redis.stop()
    code, ctype, m, body = scrape(mport)
    assert code == 200 and m == {("zcrawl_up", ""): 0}, (code, body)
    why = [l for l in body.splitlines() if l.startswith("# ") and not l.startswith(("# HELP", "# TYPE"))]
    assert len(why) == 1 and "redis" in why[0], body
    assert p.broker.poll() is None, "the broker died with Redis down"
    redis.start()
    wait_for(lambda: scrape(mport)[2].get(("zcrawl_up", "")) == 1, 30, "/metrics back after Redis came back")


def test_status_and_metrics_prefer_meta_and_show_the_problem(procs, redis):
    """The crawl's meta hash (written by the broker that records completion) wins
    over the stats hash's state; a stage's problem in the stats hash is shown by
    status and counted by zcrawl_problem."""
    mport = free_port()
    # One stats write, at the start: a later one would put the broker's own (empty)
    # problem over the one the test writes.
    p = Pipeline(procs, redis, None, crawl="pm", broker_args=["--mode", "service", "--metrics", "127.0.0.1:%d" % mport,
                                                             "--stats-ms", "60000"])
    p.start_broker(seed=False)
    assert wait_port(mport, proc=p.broker), procs.log(p.broker)
    wait_for(lambda: p.stats().get("state") == "idle", 20, "the broker's first stats")
    problem = 'writer w1 sink_full: ENOSPC appending out.jsonl (12 s) "quoted"'
    # The broker's own run id: a meta with another one would be a second broker taking
    # the crawl over, and this one would fail and stop serving /metrics (broker/crawl.c).
    run_id = redis.cli("HGET", p.key("meta"), "run_id").strip()
    assert re.fullmatch(r"[0-9a-f]{16}", run_id), run_id
    redis.cli("HSET", p.key("meta"), "state", "failed", "run_id", run_id, "started_at", "1796200000000",
              "ended_at", "1796200060000", "reason", "sink failing past the limit")
    redis.cli("HSET", p.key("stats"), "problem", problem)
    rows = table(status(redis.uri, "--crawl", "pm").stdout)
    assert rows["state"].startswith("failed  run %s  started 2026-" % run_id), rows
    assert "ended 2026-" in rows["state"], rows
    assert rows["reason"] == "sink failing past the limit" and rows["problem"] == problem, rows
    j = json.loads(status(redis.uri, "--crawl", "pm", "--json").stdout)
    assert (j["state"], j["state_source"], j["problem"]) == ("failed", "meta", problem), j
    assert j["meta"]["run_id"] == run_id, j
    code, _, m, text = scrape(mport)
    assert code == 200, text
    assert m[("zcrawl_crawl_state", '{state="failed"}')] == 1 and m[("zcrawl_crawl_state", '{state="idle"}')] == 0, text
    assert m[("zcrawl_problem", "")] == 1, text
    assert m[("zcrawl_info", '{crawl="pm",run_id="%s"}' % run_id)] == 1, text
    redis.cli("HSET", p.key("meta"), "state", "odd\"state")
    code, _, m, text = scrape(mport)
    assert m[("zcrawl_crawl_state", '{state="odd\\"state"}')] == 1, text
