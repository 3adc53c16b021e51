"""test_prometheus.py -- deploy/prometheus: the alert rules' unit tests pass under
promtool (Debian's prometheus package), each of them fails once its rule is broken,
every series the rules read is one the broker serves, and a real Prometheus with
the shipped scrape config (basic auth from a password file) scrapes a real broker
and loads the rules."""
import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

from harness import ROOT, Pipeline, Redis, bin_path, free_port, wait_for, wait_port

PROM = os.path.join(ROOT, "deploy", "prometheus")
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")


def promtool(*args, cwd=PROM):
    assert PROMTOOL, "promtool is missing: scripts/deps.sh installs Debian's prometheus package"
    return subprocess.run([PROMTOOL] + list(args), capture_output=True, text=True, timeout=120, cwd=cwd)


def rules():
    with open(os.path.join(PROM, "alerts.yml")) as f:
        return [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]


def test_rules_and_their_unit_tests_pass():
    r = promtool("check", "rules", "alerts.yml")
    assert r.returncode == 0 and "SUCCESS: 8 rules found" in r.stdout, r.stdout + r.stderr
    r = promtool("test", "rules", "alerts_test.yml")
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def test_each_alert_is_tested_both_ways_and_its_test_can_fail(tmp_path):
    """Every alert has a case where it fires and one where it stays quiet; with its
    expression made never true, promtool's run fails and names it."""
    names = [r["alert"] for r in rules()]
    assert names == ["ZcrawlBrokerDown", "ZcrawlCrawlStalled", "ZcrawlNoFetcher", "ZcrawlSinkDown",
                     "ZcrawlDeadLettersRising", "ZcrawlRedisFailing", "ZcrawlStatsStale",
                     "ZcrawlRobotsTxtUnreachable"], names
    with open(os.path.join(PROM, "alerts_test.yml")) as f:
        tests = yaml.safe_load(f)
    cases = [c for t in tests["tests"] for c in t["alert_rule_test"]]
    for n in names:
        assert any(c["alertname"] == n and c["exp_alerts"] for c in cases), "%s never expected to fire" % n
        assert any(c["alertname"] == n and not c["exp_alerts"] for c in cases), "%s never expected quiet" % n
    with open(os.path.join(PROM, "alerts.yml")) as f:
        original = yaml.safe_load(f)
    shutil.copy(os.path.join(PROM, "alerts_test.yml"), tmp_path / "alerts_test.yml")
    for n in names:
        broken = json.loads(json.dumps(original))
        for r in broken["groups"][0]["rules"]:
            if r["alert"] == n:
                r["expr"] = "vector(1) == 2"
        with open(tmp_path / "alerts.yml", "w") as f:
            yaml.safe_dump(broken, f)
        r = promtool("test", "rules", "alerts_test.yml", cwd=str(tmp_path))
        assert r.returncode != 0 and n in r.stdout + r.stderr, (n, r.stdout[-2000:])


def metric_families(port, password):
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port)
    req.add_header("Authorization", "Basic " + base64.b64encode(("zcrawl:" + password).encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M)), text


def test_prometheus_scrapes_the_broker_with_the_shipped_config(procs, tmp_path):
    """The shipped prometheus.yml, pointed at a broker on loopback (targets, rule
    file and password file rewritten to this test's), passes promtool's check;
    Prometheus scrapes the broker through basic auth, and every zcrawl_ series the
    rules read is a family the broker serves."""
    assert PROMETHEUS, "prometheus is missing: scripts/deps.sh installs it"
    redis = Redis(procs)
    pw = tmp_path / "metrics_password"
    pw.write_text("prom-Secret-1\n")
    mport, pport = free_port(), free_port()
    p = Pipeline(procs, redis, None, crawl="prom1", broker_args=[
        "--mode", "service", "--metrics", "127.0.0.1:%d" % mport, "--metrics-password-file", str(pw)])
    p.start_broker(seed=False)
    wait_port(mport)
    with open(os.path.join(PROM, "prometheus.yml")) as f:
        conf = f.read()
    conf = conf.replace("/etc/prometheus/alerts.yml", os.path.join(PROM, "alerts.yml"))
    conf = conf.replace("/run/secrets/metrics_password", str(pw))
    conf = conf.replace('"broker:9108"', '"127.0.0.1:%d"' % mport).replace('"localhost:9090"', '"127.0.0.1:%d"' % pport)
    conf = conf.replace("scrape_interval: 15s", "scrape_interval: 1s").replace("evaluation_interval: 15s",
                                                                                "evaluation_interval: 1s")
    assert conf.count(str(pw)) == 2 and "127.0.0.1:%d" % mport in conf
    (tmp_path / "prometheus.yml").write_text(conf)
    r = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert r.returncode == 0, r.stdout + r.stderr
    prom = procs.start("prometheus", [PROMETHEUS, "--config.file=%s" % (tmp_path / "prometheus.yml"),
                                      "--storage.tsdb.path=%s" % (tmp_path / "data"),
                                      "--web.listen-address=127.0.0.1:%d" % pport])
    wait_port(pport, timeout=30)

    def query(q):
        """The query's result, or [] while Prometheus starts (it answers 503 until ready)."""
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (pport, urllib.parse.quote(q))
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return json.loads(resp.read())["data"]["result"]
        except urllib.error.HTTPError as e:
            assert e.code == 503, e
            return []
    wait_for(lambda: [x["value"][1] for x in query('up{job="zcrawl"}')] == ["1"], 30,
             "Prometheus to scrape the broker (basic auth)")
    assert [x["value"][1] for x in query("zcrawl_up")] == ["1"]
    assert [x["metric"]["crawl"] for x in query("zcrawl_info")] == ["prom1"]
    def loaded():
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/rules" % pport, timeout=10) as resp:
            return json.loads(resp.read())["data"]["groups"][0]["rules"]
    wait_for(lambda: len(loaded()) == 8 and all(x["health"] == "ok" for x in loaded()), 20,
             "the 8 rules loaded and evaluated: %s" % [(x["name"], x["health"]) for x in loaded()])
    # Nothing is wrong with this crawl: no alert fires.
    assert all(x["state"] == "inactive" for x in loaded()), loaded()
    assert prom.poll() is None

    # Every zcrawl_ series an alert reads is a family the broker serves.
    families, text = metric_families(mport, "prom-Secret-1")
    used = set()
    for r in rules():
        used |= set(re.findall(r"\bzcrawl_[a-z_]+", r["expr"]))
    assert used and used <= families, (used - families, text)

    # A wrong password: the scrape fails, and up says so.
    pw.write_text("not-it\n")
    wait_for(lambda: [x["value"][1] for x in query('up{job="zcrawl"}')] == ["0"], 30,
             "Prometheus to fail the scrape with a wrong password")
