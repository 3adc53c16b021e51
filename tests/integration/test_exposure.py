"""test_exposure.py -- the deployment's passwords (issue 22, item 3): `zcrawl keygen`
writes the Redis, MongoDB and status-page passwords beside the keys; the broker and
the writer take them from files (ZCRAWL_REDIS_PASSWORD_FILE, ZCRAWL_MONGO_PASSWORD_FILE,
as Docker secrets and systemd credentials hand them over), never from a command line;
Redis and a MongoDB-wire server (FerretDB) with authentication refuse the stages
without them and serve a whole crawl with them, every book once."""
import os
import re
import stat
import subprocess

import pytest

from harness import (Pipeline, Redis, Sitesim, bin_path, ferretdb_path, free_port, mongo_ids, wait_exit,
                     wait_for, wait_port)


def keygen(path, *extra):
    r = subprocess.run([bin_path("zcrawl"), "keygen"] + list(extra) + [str(path)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return str(path)


def test_keygen_writes_the_passwords(tmp_path):
    d = keygen(tmp_path / "keys")
    pws = {}
    for name in ("redis.password", "mongo.password", "metrics.password"):
        p = os.path.join(d, name)
        st = os.stat(p)
        assert stat.S_IMODE(st.st_mode) == 0o600, (name, oct(st.st_mode))
        pws[name] = open(p).read()
        assert re.fullmatch(r"[0-9a-f]{48}\n", pws[name]), pws[name]
    assert len(set(pws.values())) == 3
    keygen(d, "--force")
    assert all(open(os.path.join(d, n)).read() != v for n, v in pws.items()), "--force keeps the passwords"


def ferretdb_with_auth(procs, tmp_path, password):
    """FerretDB (SQLite) that creates the user zcrawl in admin and asks every client for it."""
    fdb = ferretdb_path()
    if not fdb:
        pytest.skip("no FerretDB in .tools/bin (make deps builds it): the MongoDB authentication test needs it")
    port, d = free_port(), tmp_path / "fdb"
    d.mkdir()
    procs.start("ferretdb", [fdb, "--handler=sqlite", "--sqlite-url=file:%s/" % d, "--listen-addr=127.0.0.1:%d" % port,
                             "--state-dir=%s" % d, "--telemetry=disable", "--debug-addr=-", "--log-level=error",
                             "--test-enable-new-auth", "--setup-username=zcrawl", "--setup-database=admin"],
                env={"FERRETDB_SETUP_PASSWORD": password})
    wait_port(port)
    return port


def cmdlines():
    out = []
    for k in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % k, "rb") as f:
                out.append(f.read().replace(b"\0", b" ").decode("utf-8", "replace"))
        except OSError:
            pass
    return out


def test_passwords_from_files_and_refused_without(procs, tmp_path):
    keys = keygen(tmp_path / "keys")
    rpw = open(os.path.join(keys, "redis.password")).read().strip()
    mpw = open(os.path.join(keys, "mongo.password")).read().strip()
    redis = Redis(procs, password=rpw)
    mport = ferretdb_with_auth(procs, tmp_path, mpw)
    site = Sitesim(procs, "--books", "300")
    files = {"ZCRAWL_REDIS_PASSWORD_FILE": os.path.join(keys, "redis.password"),
             "ZCRAWL_MONGO_PASSWORD_FILE": os.path.join(keys, "mongo.password")}
    mongo_uri = "mongodb://zcrawl@127.0.0.1:%d/zcrawl?authSource=admin" % mport

    # Without the files: each says in one line that it was refused, and stops.
    b = procs.start("broker-nopw", [bin_path("broker"), "--redis", redis.uri_nopw, "--crawl", "x1", "--insecure",
                                    "--control", "tcp://127.0.0.1:%d" % free_port(), site.start_url])
    assert wait_exit(b, 20) == 4, procs.log(b)
    assert "NOAUTH" in procs.log(b) and rpw not in procs.log(b), procs.log(b)
    w = procs.start("writer-nopw", [bin_path("writer"), "--insecure", "--mongo", mongo_uri,
                                    "--broker", "tcp://127.0.0.1:%d" % free_port(),
                                    "--docs", "tcp://127.0.0.1:%d" % free_port()])
    assert wait_exit(w, 30) not in (0, None), procs.log(w)
    assert "names user zcrawl but no password" in procs.log(w) and mpw not in procs.log(w), procs.log(w)

    # With them (and no password on any command line): the whole crawl, every book once.
    p = Pipeline(procs, redis, site.start_url, crawl="exp1")
    p.redis = type("R", (), {"uri": redis.uri_nopw})()  # the broker gets the URI without the password
    os.environ.update(files)
    try:
        p.start_broker()
        p.start_writer(mongo_uri)
        p.start_parser()
        p.start_fetcher()
        wait_for(lambda: not any(rpw in c or mpw in c for c in cmdlines()) and
                 redis.hgetall("zcrawl:{exp1}:stats").get("state") == "running", 30, "the crawl to run")
    finally:
        for k in files:
            del os.environ[k]
    p.redis = redis
    p.wait_done(timeout=120)
    ids = set(site.ids()["reachable"])
    got = mongo_ids("mongodb://zcrawl:%s@127.0.0.1:%d/zcrawl?authSource=admin" % (mpw, mport))
    assert sorted(got) == sorted(ids) and len(got) == len(set(got)) == len(ids) > 250, (len(got), len(ids))
    assert site.stats()["duplicates"] == 0
