"""test_mongo_wire.py -- runs the C proof build/tests/test_mongo_wire (mongo-c-driver
handshake, insert, idempotent bulk upserts, unique index, count, and the writer's
sink) against this run's MongoDB-wire server."""
import os
import subprocess

from harness import BIN, ROOT


def unit_dir():
    # bin/ -> build/tests; build/asan/bin -> build/asan/tests
    if os.path.abspath(BIN) == os.path.join(ROOT, "bin"):
        return os.path.join(ROOT, "build", "tests")
    return os.path.join(os.path.dirname(os.path.abspath(BIN)), "tests")


def test_mongo_wire(mongo):
    exe = os.path.join(unit_dir(), "test_mongo_wire")
    assert os.access(exe, os.X_OK), "%s is not built (make)" % exe
    env = dict(os.environ, MONGODB_URI=mongo.uri)
    r = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "SKIPPED" not in out, out
    assert "[  PASSED  ]" in out, out
