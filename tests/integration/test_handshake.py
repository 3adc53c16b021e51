"""test_handshake.py -- a stage and its broker that cannot agree on security say so
on the stage's own side within seconds (the DEALER's socket monitor, lib/zc_peer.c),
with what to change; a reconnect is logged only when one happened; the broker's
first log line says what protects each endpoint."""
import re
import subprocess
import time

from harness import Pipeline, Sitesim, bin_path, wait_for

HANDSHAKE = re.compile(r"event=broker_handshake_failed .*reason=\"([^\"]*)\".*hint=\"([^\"]*)\"")


def keygen(path):
    r = subprocess.run([bin_path("zcrawl"), "keygen", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return str(path)


def events(procs, p, name):
    return [l for l in procs.log(p).splitlines() if "event=%s " % name in l]


def mismatch(procs, redis, tmp_path, broker_keys, fetcher_args, want_reason, want_hint):
    """A broker and a fetcher that disagree: the fetcher says why (a close without
    detail may come first, then the line that says why; within 5 s on a quiet machine,
    waited for up to 30 s as a loaded one starts processes slowly), not once per
    libzmq retry, and never that it reconnected."""
    p = Pipeline(procs, redis, None, crawl="hs", broker_args=broker_keys + ["--mode", "service"])
    p.start_broker(seed=False)
    t0 = time.time()
    f = p.start_fetcher(*fetcher_args)
    def said():
        return [m for m in map(HANDSHAKE.search, events(procs, f, "broker_handshake_failed"))
                if m and want_reason in m.group(1) and want_hint in m.group(2)]
    wait_for(said, 30, "the fetcher to say why the handshake failed: %s" % events(procs, f, "broker_handshake_failed"))
    took = time.time() - t0
    time.sleep(6)  # libzmq retries every 100 ms: at most two lines, and no reconnect claimed
    assert f.poll() is None, procs.log(f)
    assert 1 <= len(events(procs, f, "broker_handshake_failed")) <= 2 and len(said()) == 1, procs.log(f)
    assert not events(procs, f, "broker_reconnected") and not events(procs, f, "broker_silent"), procs.log(f)
    return took


def test_insecure_stage_against_keyed_broker(procs, redis, tmp_path):
    keys = keygen(tmp_path / "keys")
    took = mismatch(procs, redis, tmp_path, ["--keys", keys], ["--insecure"],
                    "the broker wants CURVE keys, this stage has none", "give this stage --keys DIR")
    print("said within %.1f s" % took)


def test_keyed_stage_against_insecure_broker(procs, redis, tmp_path):
    keys = keygen(tmp_path / "keys")
    mismatch(procs, redis, tmp_path, ["--insecure"], ["--keys", keys],
             "the broker runs without CURVE keys, this stage with them", "give the broker --keys DIR")


def test_stage_key_the_broker_does_not_list(procs, redis, tmp_path):
    keys, other = keygen(tmp_path / "keys"), keygen(tmp_path / "other")
    # The other folder's fetcher key with the real broker.key: CURVE works, ZAP says no.
    subprocess.run(["cp", keys + "/broker.key", other + "/broker.key"], check=True)
    mismatch(procs, redis, tmp_path, ["--keys", keys], ["--keys", other],
             "the broker refused this stage's key", "authorized/")


def test_reconnect_logged_once_it_happened(procs, redis, tmp_path):
    """A broker that goes away and comes back: the fetcher says it went silent,
    then broker_reconnected once, after the broker answers again, and counts one."""
    keys = keygen(tmp_path / "keys")
    site = Sitesim(procs, "--books", "50")
    p = Pipeline(procs, redis, site.start_url, crawl="rc", broker_args=["--keys", keys, "--mode", "service"])
    p.start_broker()
    f = p.start_fetcher("--keys", keys)
    wait_for(lambda: p.stats().get("fetchers") == "1", 20, "the fetcher's HELLO")
    p.broker.terminate()
    assert p.broker.wait(timeout=20) == 3
    wait_for(lambda: events(procs, f, "broker_silent"), 10, "the fetcher to notice the broker's silence")
    time.sleep(3)  # reopened sockets with nothing answering: no reconnect yet
    assert not events(procs, f, "broker_reconnected"), procs.log(f)
    assert not events(procs, f, "broker_handshake_failed"), procs.log(f)
    p.start_broker()
    wait_for(lambda: events(procs, f, "broker_reconnected"), 60, "the reconnect once the broker is back")
    time.sleep(2)
    assert len(events(procs, f, "broker_reconnected")) == 1, procs.log(f)
    f.terminate()
    assert f.wait(timeout=20) == 0
    assert re.search(r"event=stats .* reconnects=1\b", procs.log(f)), procs.log(f)


def test_broker_first_line_says_what_protects_each_endpoint(procs, redis, tmp_path):
    keys = keygen(tmp_path / "keys")
    for args, mech in ((["--keys", keys], "curve"), (["--insecure"], "plain")):
        p = Pipeline(procs, redis, None, crawl="sec" + mech, broker_args=args + ["--mode", "service"])
        p.start_broker(seed=False)
        wait_for(lambda: "event=started " in procs.log(p.broker), 10, "the broker to start")
        first = procs.log(p.broker).splitlines()[0]
        assert "event=security " in first, procs.log(p.broker)
        for name, key in (("control", "control"), ("pages_in", "pages_in"), ("pages_out", "pages_out"),
                          ("docs_in", "docs_in"), ("docs_out", "docs_out")):
            assert '%s="%s %s"' % (name, p.ep[key], mech) in first, first
        assert 'metrics="off"' in first and 'redis="127.0.0.1:%d no-password unencrypted"' % redis.port in first, first
        # Where a peer's role comes from (issue 22): its key, or, without keys, its HELLO.
        roles, per = ("from_key", "key") if mech == "curve" else ("from_hello", "connection")
        assert " roles=%s " % roles in first and 'max_credit="10000 per %s"' % per in first, first
        p.broker.terminate()
        p.broker.wait(timeout=20)
