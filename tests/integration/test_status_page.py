"""test_status_page.py -- the broker's status page (/ and /status.json on --metrics),
looked at in headless Chromium from Debian: with the fetchers stopped (SIGSTOP),
every number the page shows equals what Redis holds; strings from Redis and from
peers stay text (a hostile host name, dead letter or peer name injects nothing);
the page asks for a password when it has one; a screenshot of it is kept."""
import html.parser
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import base64

import pytest

from harness import ROOT, Pipeline, Redis, Sitesim, bin_path, free_port, wait_for, wait_port

CHROMIUM = shutil.which("chromium")
ARTIFACTS = os.path.join(ROOT, "build", "artifacts")
HOSTILE_HOST = '<img src=x onerror="document.title=1">.evil:80'
HOSTILE_REASON = '<b>bold</b><script>document.title=2</script>'
# A stage's name is plain (no spaces, quotes or '=': the broker refuses any other
# HELLO), markup all the same.
HOSTILE_PEER = 'fetcher-<script>alert(3)</script><svg/onload/>'


def chromium(*args, timeout=60):
    """Runs headless Chromium (Debian's) with a profile of its own; returns stdout."""
    assert CHROMIUM, "chromium is missing: scripts/deps.sh installs it"
    prof = os.path.join(os.getcwd(), "chromium-profile")
    # --no-sandbox: tests run as root; --disable-dev-shm-usage: a container's /dev/shm is 64 MB.
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--disable-dev-shm-usage", "--user-data-dir=" + prof, "--no-first-run", "--disable-extensions",
                        "--virtual-time-budget=6000"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


class Dom(html.parser.HTMLParser):
    """The parts of the rendered page the test reads: text by element id, table
    rows by table id (cells' text and classes), and every tag seen."""

    def __init__(self, text):
        super().__init__()
        self.by_id, self.rows, self.tags, self.attrs = {}, {}, [], []
        self._stack, self._table, self._row, self._cell, self._body = [], None, None, None, False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        near = [i for _, i in self._stack if i]
        self.tags.append((tag, near[-1] if near else None))
        self.attrs.append((tag, a))
        if tag in ("br", "meta", "link", "img", "input"):
            return
        self._stack.append((tag, a.get("id")))
        if tag == "table":
            self._table = a.get("id")
            self.rows.setdefault(self._table, [])
        elif tag == "tbody":
            self._body = True
        elif tag == "tr" and self._table and self._body:
            self._row = {"attrs": a, "cells": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"class": a.get("class", ""), "text": ""}

    def handle_endtag(self, tag):
        while self._stack:
            t, _ = self._stack.pop()
            if t == tag:
                break
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if [c["class"] for c in self._row["cells"]] != ["muted"]:  # not the "none" placeholder
                self.rows[self._table].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
        for _, i in self._stack:
            if i:
                self.by_id[i] = self.by_id.get(i, "") + data

    def num(self, i):
        v = self.by_id.get(i, "").strip().replace(",", "")
        assert re.fullmatch(r"\d+(\.\d+)?", v), "#%s shows %r" % (i, v)
        return float(v) if "." in v else int(v)


def cells(row):
    return {c["class"].split()[-1] if c["class"] else "": c["text"] for c in row["cells"]}


def leases_by_host(redis, crawl):
    """Leases counted by host:port (default port written out), as the page's 'in flight'."""
    out = {}
    for u in redis.cli("ZRANGE", "zcrawl:{%s}:leases" % crawl, "0", "-1").split():
        m = re.match(r"^(\w+)://([^/?#]+)", u)
        hp = m.group(2)
        if not re.search(r":\d+$", hp):
            hp += ":443" if m.group(1) == "https" else ":80"
        out[hp] = out.get(hp, 0) + 1
    return out


def reading(redis, crawl):
    """What Redis holds, read with redis-cli."""
    k = lambda n: "zcrawl:{%s}:%s" % (crawl, n)
    stats = redis.hgetall(k("stats"))
    queues = {}
    for key in redis.cli("--scan", "--pattern", k("q:*")).split("\n"):
        if key:
            queues[key.split(":q:", 1)[1]] = redis.int("LLEN", key)
    return {
        "waiting": redis.int("GET", k("waiting")),
        "delayed": redis.int("ZCARD", k("delayed")),
        "leases": redis.int("ZCARD", k("leases")),
        "dead": redis.int("LLEN", k("dead")),
        "gone": redis.int("HLEN", k("gone")),
        "dead_latest": redis.lrange(k("dead"))[-10:][::-1],
        "queues": queues,
        "leased": leases_by_host(redis, crawl),
        "stats": {f: stats.get(f) for f in ("fetched", "parsed", "written", "dead", "fetchers", "parsers",
                                            "writers", "fetched_per_s", "written_per_s", "discovered")},
        "peers": sorted((p["role"], p["name"]) for p in json.loads(stats.get("peers", "[]"))),
    }


def save_artifact(path):
    os.makedirs(ARTIFACTS, exist_ok=True)
    dst = os.path.join(ARTIFACTS, os.path.basename(path))
    shutil.copyfile(path, dst)
    print("screenshot: %s (kept: %s)" % (path, dst))
    return dst


def test_page_shows_what_redis_holds(procs, tmp_path):
    """A crawl named page1 on a Redis with a password; the fetchers are stopped
    mid-crawl: the page's numbers, hosts, dead letters and peers equal Redis's,
    and the hostile strings planted in Redis and in a peer's name stay text."""
    redis = Redis(procs, password="pa55-page")
    site = Sitesim(procs, "--books", "2000", "--latency-ms", "60", "--malformed-rate", "0.05")
    mport = free_port()
    crawl = "page1"
    # A lease longer than the test: no lease of the stopped fetchers runs out while it reads.
    p = Pipeline(procs, redis, site.start_url, crawl=crawl,
                 broker_args=["--max-per-host", "6", "--mode", "service", "--lease-ms", "120000",
                              "--metrics", "127.0.0.1:%d" % mport])
    p.start_broker()
    p.start_writer(out=str(tmp_path / "out.jsonl"))
    p.start_parser()
    fetchers = [p.start_fetcher(), p.start_fetcher("--name", HOSTILE_PEER)]
    wait_port(mport)
    k = lambda n: "zcrawl:{%s}:%s" % (crawl, n)
    # Planted by hand: a host waiting its turn an hour from now, and a dead letter.
    redis.cli("RPUSH", k("q:" + HOSTILE_HOST), "http://evil/1", "http://evil/2")
    redis.cli("ZADD", k("ready"), str(int(time.time() * 1000) + 3600000), HOSTILE_HOST)
    wait_for(lambda: redis.int("LLEN", k("dead")) >= 2 and redis.int("GET", k("waiting")) >= 50 and
             redis.int("ZCARD", k("leases")) > 0 and p.stats().get("fetchers") == "2", 60,
             "a crawl in flight with dead letters and both fetchers")
    def history():
        with urllib.request.urlopen("http://127.0.0.1:%d/status.json" % mport, timeout=10) as resp:
            return json.loads(resp.read())["history"]["points"]
    wait_for(lambda: sum(1 for pt in history() if pt[1] > 0) >= 2, 30, "two points of the rates chart while fetching")
    for f in fetchers:
        os.kill(f.pid, signal.SIGSTOP)
    try:
        # Pages already fetched drain through the parser and the writer; then nothing moves.
        prev = [None]

        def still():
            now = reading(redis, crawl)
            now["stats"].pop("fetched_per_s"), now["stats"].pop("written_per_s")
            same, prev[0] = now == prev[0], now
            return same
        wait_for(still, 30, "Redis to hold still with the fetchers stopped", step=1.5)
        # The hostile dead letter goes in last: a bad page still draining through the
        # parser would otherwise be the newest dead letter (seen once in CI).
        redis.cli("RPUSH", k("dead"), json.dumps({"url": "http://evil/<script>x</script>", "stage": "parse",
                                                  "reason": HOSTILE_REASON, "time": int(time.time() * 1000)}))
        time.sleep(2.5)  # the broker's next stats write: its rates over an interval with nothing fetched
        before = reading(redis, crawl)
        dom_text = chromium("--dump-dom", "http://127.0.0.1:%d/" % mport)
        after = reading(redis, crawl)
        shot = str(tmp_path / "status-page.png")
        chromium("--window-size=1280,2200", "--screenshot=" + shot, "http://127.0.0.1:%d/" % mport)
        phone = str(tmp_path / "status-page-phone.png")
        chromium("--window-size=390,2600", "--screenshot=" + phone, "http://127.0.0.1:%d/" % mport)
    finally:
        for f in fetchers:
            os.kill(f.pid, signal.SIGCONT)
    assert before == after, "Redis changed while the page was read:\n%s\n%s" % (before, after)
    for path in (shot, phone):
        assert os.path.getsize(path) > 20000, path
        save_artifact(path)

    dom = Dom(dom_text)
    r = before
    assert dom.by_id["crawl"].strip() == crawl and dom.by_id["state"].strip() == "running", dom.by_id
    assert "cannot read" not in dom.by_id.get("updated", ""), dom.by_id.get("updated")
    assert dom.num("queue_depth") == r["waiting"] + r["delayed"] > 0
    assert dom.num("frontier") == r["waiting"] and dom.num("delayed") == r["delayed"]
    assert dom.num("leases") == r["leases"] > 0
    assert dom.num("dead_letters") == r["dead"] >= 3 and dom.num("gone") == r["gone"]
    st = r["stats"]
    assert (dom.num("fetchers"), dom.num("parsers"), dom.num("writers")) == \
        (int(st["fetchers"]), int(st["parsers"]), int(st["writers"])) == (2, 1, 1)
    assert dom.by_id["pages_per_s"].strip() == "%.1f" % float(st["fetched_per_s"]) == "0.0", (dom.by_id, st)
    counters = {c.split()[0]: int(c.split()[1].replace(",", "")) for c in
                re.findall(r"[a-z_]+ [\d,]+", dom.by_id["counters"])}
    for f in ("fetched", "parsed", "written", "dead", "discovered"):
        assert counters[f] == int(st[f]), (f, counters, st)

    # Hosts: the most waiting first, each with its waiting URLs and leases.
    hosts = [cells(row) for row in dom.rows["hosts"]]
    want = sorted(r["queues"].items(), key=lambda x: (-x[1], x[0]))[:10]
    assert [(h["host"], int(h["waiting"].replace(",", ""))) for h in hosts] == want, (hosts, want)
    for h in hosts:
        assert int(h["leased"]) == r["leased"].get(h["host"], 0), (h, r["leased"])
    assert any(h["host"] == HOSTILE_HOST for h in hosts), hosts
    site_host = "127.0.0.1:%d" % site.port
    assert [h for h in hosts if h["host"] == site_host][0]["leased"] == str(r["leased"][site_host])

    # Dead letters: the newest ten, newest first, as stored.
    dead = [cells(row) for row in dom.rows["dead"]]
    stored = [json.loads(x) for x in r["dead_latest"]]
    assert [(d["url"], d["stage"], d["reason"]) for d in dead] == \
        [(x["url"], x["stage"], x["reason"]) for x in stored], (dead, stored)
    assert dead[0]["reason"] == HOSTILE_REASON

    # Peers by role, with when each was last heard.
    peers = sorted((cells(row)["role"], cells(row)["name"]) for row in dom.rows["peers"])
    assert peers == r["peers"] and ("fetcher", HOSTILE_PEER) in peers, (peers, r["peers"])
    assert all(re.fullmatch(r"[\d.]+ (s|min) ago", cells(row)["seen"]) for row in dom.rows["peers"]), dom.rows["peers"]

    # Nothing planted became markup: no image, no bold, one script (the page's own).
    # (The page draws its own chart as an svg inside #chart once it has two points.)
    assert [t for t in dom.tags if t[0] == "img" or (t[0] == "svg" and t[1] != "chart")
            or (t[0] == "b" and t[1] != "counters")] == [], dom.tags
    assert [a.get("src") for t, a in dom.attrs if t == "script"] == ["status.js"]

    # The chart's points come from the history the broker keeps.
    points = history()
    assert points[-1][1] == 0 and max(pt[1] for pt in points) > 0, points  # nothing fetched while stopped


def test_page_needs_its_password(procs, tmp_path):
    """With --metrics-password-file every path answers 401 without the password
    (and with a wrong one), 200 with it; a --metrics beyond loopback without a
    password file is refused at start with one line (exit 2)."""
    redis = Redis(procs)
    pw = tmp_path / "metrics.password"
    pw.write_text("s3cret-metrics\n")
    mport = free_port()
    p = Pipeline(procs, redis, None, crawl="pw1", broker_args=[
        "--mode", "service", "--metrics", "127.0.0.1:%d" % mport, "--metrics-password-file", str(pw)])
    p.start_broker(seed=False)
    wait_port(mport)

    def get(path, user=None, password=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (mport, path))
        if user is not None:
            req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()
    for path in ("/", "/status.json", "/metrics", "/status.js", "/nope"):
        code, headers, body = get(path)
        assert code == 401 and headers["WWW-Authenticate"].startswith("Basic realm="), (path, code, body)
        assert "s3cret" not in body
        assert get(path, "zcrawl", "wrong")[0] == 401
        assert get(path, "zcrawl", "s3cret-metrics-")[0] == 401
        assert get(path, "other", "s3cret-metrics")[0] == 401
    wait_for(lambda: get("/status.json", "zcrawl", "s3cret-metrics")[0] == 200, 10, "the first stats")
    assert get("/", "zcrawl", "s3cret-metrics")[0] == 200
    code, _, body = get("/metrics", "zcrawl", "s3cret-metrics")
    assert code == 200 and "zcrawl_up 1" in body, body

    # Beyond loopback without a password: refused before anything starts.
    for addr in ("0.0.0.0:%d" % free_port(), ":%d" % free_port()):
        b = procs.start("broker-open", [bin_path("broker"), "--redis", redis.uri, "--crawl", "pw2",
                                        "--metrics", addr, "http://127.0.0.1:1/"])
        assert b.wait(timeout=20) == 2
        err = [l for l in procs.log(b).splitlines() if l.strip()]
        assert len(err) == 1 and "--metrics-password-file" in err[0] and "not loopback" in err[0], err
    assert redis.cli("KEYS", "zcrawl:{pw2}:*").strip() == ""


def test_zcrawl_run_prints_the_page_url(procs, tmp_path):
    """`zcrawl run --metrics ADDR`: its first line names the status page's URL,
    which answers while the crawl runs."""
    site = Sitesim(procs, "--books", "400", "--latency-ms", "20")
    mport = free_port()
    run = subprocess.Popen([bin_path("zcrawl"), "run", "--no-progress", "--crawl", "runpage", "--metrics",
                            "127.0.0.1:%d" % mport, "--out", str(tmp_path / "o.jsonl"), "--log-dir", str(tmp_path / "logs"),
                            "--timeout", "120", site.start_url], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True)
    try:
        first = run.stderr.readline()
        url = "http://127.0.0.1:%d/" % mport
        assert first.startswith("zcrawl: crawling ") and first.rstrip().endswith("status page %s)" % url), first
        seen = set()

        def states():
            try:
                with urllib.request.urlopen(url + "status.json", timeout=5) as resp:
                    seen.add(json.loads(resp.read())["crawl"])
                with urllib.request.urlopen(url, timeout=5) as resp:
                    return resp.status == 200 and b"status.js" in resp.read()
            except OSError:
                return False
        wait_for(states, 30, "the status page of zcrawl run")
        assert seen == {"runpage"}
        out, err = run.communicate(timeout=150)
        assert run.returncode == 0, err
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
