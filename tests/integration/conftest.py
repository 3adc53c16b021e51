"""Fixtures of the integration suite; the machinery lives in harness.py."""
import os
import shutil
import signal
import tempfile

import pytest

from harness import FakeBroker, Mongo, Procs, Redis, mounted_tmpfs, sanitizer_reports

_mongo_reason = []


def _sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def pytest_configure(config):
    """SIGTERM (a CI runner giving up, kill) ends the run the way Ctrl-C does, so the
    running test's fixtures still stop every process it started."""
    signal.signal(signal.SIGTERM, _sigterm)
    config.addinivalue_line("markers", "serial: runs alone, never beside another test (it measures CPU "
                            "time, memory or latency, or loads the whole machine); scripts/run-tests.sh "
                            "runs these after the parallel pass")
    config.addinivalue_line("markers", "small_fs(size): the size of the test's small_fs tmpfs (\"4m\")")
    config.addinivalue_line("markers", "long: runs for tens of seconds; under xdist each worker starts with one")


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (load scheduling: each worker first gets a run of
    len(items) // workers // 4 consecutive tests, then more as it finishes), puts
    one test marked long at the head of each worker's first run, so that the
    longest tests start at once rather than run on alone at the end. Every worker
    collects, and so orders, the same."""
    n = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    long_ = [it for it in items if it.get_closest_marker("long")]
    if n < 2 or not long_:
        return
    chunk = max(len(items) // n // 4, 2)
    rest = [it for it in items if not it.get_closest_marker("long")]
    out = []
    while long_ or rest:
        if long_:
            out.append(long_.pop(0))
        out.extend(rest[:chunk - 1])
        rest = rest[chunk - 1:]
    items[:] = out


def pytest_sessionstart(session):
    """libmongoc leaves /dev/shm/mongoc-<pid> behind when a writer is killed; a
    later process that gets the same pid then prints a warning at load. Remove
    the segments of processes that no longer exist."""
    try:
        names = os.listdir("/dev/shm")
    except OSError:
        return
    for n in names:
        if n.startswith("mongoc-") and n[7:].isdigit() and not os.path.exists("/proc/" + n[7:]):
            try:
                os.unlink(os.path.join("/dev/shm", n))
            except OSError:
                pass


@pytest.fixture(autouse=True)
def _own_folder(tmp_path, monkeypatch):
    """Every test runs in a folder of its own: `zcrawl run` without --redis keeps a
    crawl's state in ./.zcrawl/<crawl>, which a later test in a shared folder would
    find complete and not run again."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def procs(request):
    d = tempfile.mkdtemp(prefix="zc-test-")
    p = Procs(d)
    yield p
    p.stop_all()
    # A stage may print a sanitizer report while the test itself passes: that is a
    # failure too (the ASan build, make test-asan).
    reports = sanitizer_reports(p)
    failed = getattr(request.node, "rep_call", None)
    if reports or (failed is not None and failed.failed):
        print(p.dump_logs())
    else:
        shutil.rmtree(d, ignore_errors=True)
    if reports:
        pytest.fail("%d sanitizer report(s); logs kept in %s\n\n%s"
                    % (len(reports), d, "\n\n".join(reports)), pytrace=False)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def redis(procs):
    return Redis(procs)


@pytest.fixture
def mongo(procs):
    m = Mongo(procs)
    if m.uri is None:
        print("\n*** MONGODB TESTS SKIPPED: %s ***" % m.why_missing)
        _mongo_reason.append(m.why_missing)
        pytest.skip(m.why_missing)
    return m


@pytest.fixture
def fb():
    """harness.FakeBroker in the broker's seat, heartbeats every 200 ms."""
    b = FakeBroker(hb_ms=200)
    yield b
    b.close()


@pytest.fixture
def small_fs(request, tmp_path):
    """A tmpfs mounted for the test at tmp_path/fs (needs root), of the size its
    marker names: @pytest.mark.small_fs("4m")."""
    m = request.node.get_closest_marker("small_fs")
    assert m is not None and m.args, 'a test that uses small_fs names its size: @pytest.mark.small_fs("4m")'
    yield from mounted_tmpfs(tmp_path / "fs", m.args[0])


@pytest.fixture
def proxy(mongo):
    """A proxy in front of this run's MongoDB-wire server (slow_mongo.py): writes
    delayed by proxy.delay seconds, cut() plays MongoDB down."""
    from slow_mongo import SlowMongoProxy
    if mongo.port is None:
        pytest.skip("MongoDB from MONGODB_URI: the delaying proxy needs a server the test started")
    p = SlowMongoProxy(mongo.port, delay=0)
    yield p
    p.close()


def pytest_terminal_summary(terminalreporter):
    if _mongo_reason:
        terminalreporter.write_line("*** MongoDB tests skipped: %s ***" % _mongo_reason[0], red=True, bold=True)
