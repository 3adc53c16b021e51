"""test_writer.py -- bin/zcrawl-writer alone, with Python playing the broker (a ROUTER
for control, a PUSH for docs-out) over real ZeroMQ, and a real MongoDB-wire server."""
import json
import os
import signal
import subprocess
import time

import bson
import pymongo
import pytest
import zmq

from harness import bin_path

HELLO, HEARTBEAT, JOB, DOC, WRITTEN, DEAD, SHUTDOWN = 1, 2, 4, 8, 9, 10, 11


def hdr(t):
    return b"ZC\x01" + bytes([t])


class FakeBroker:
    """The broker's side of the writer's two connections."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.cport = self.router.bind_to_random_port("tcp://127.0.0.1")
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.setsockopt(zmq.SNDTIMEO, 10000)
        self.dport = self.push.bind_to_random_port("tcp://127.0.0.1")
        self.idents = set()
        self.hellos = []
        self.written = []   # every URL of every WRITTEN, in order
        self.batches = []   # one list of URLs per WRITTEN
        self.dead = []      # (url, stage, reason)
        self.last_hb = 0.0

    @property
    def control(self):
        return "tcp://127.0.0.1:%d" % self.cport

    @property
    def docs(self):
        return "tcp://127.0.0.1:%d" % self.dport

    def close(self):
        self.router.close(0)
        self.push.close(0)
        self.ctx.term()

    def pump(self, seconds):
        """Receives and answers control messages for `seconds`."""
        end = time.time() + seconds
        while True:
            now = time.time()
            if now - self.last_hb > 0.3:
                for ident in self.idents:
                    self.router.send_multipart([ident, hdr(HEARTBEAT)])
                self.last_hb = now
            left = end - now
            if left <= 0:
                return
            if not self.router.poll(min(100, int(left * 1000) + 1)):
                continue
            while True:
                try:
                    frames = self.router.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                ident, head, rest = frames[0], frames[1], frames[2:]
                self.idents.add(ident)
                assert head[:3] == b"ZC\x01", frames
                t = head[3]
                if t == HELLO:
                    self.hellos.append([f.decode() for f in rest])
                elif t == WRITTEN:
                    assert len(rest) == 1, frames
                    urls = rest[0].decode().split("\n")
                    self.batches.append(urls)
                    self.written.extend(urls)
                elif t == DEAD:
                    assert len(rest) == 3, frames
                    self.dead.append(tuple(f.decode() for f in rest))

    def wait(self, cond, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            self.pump(0.05)
            if cond():
                return
        raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))

    def wait_hello(self, timeout=10):
        self.wait(lambda: self.hellos, timeout, "HELLO")
        assert self.hellos[0][0] == "writer"

    def send_doc(self, url, doc):
        self.push.send_multipart([hdr(DOC), url.encode(), bson.encode(doc)])

    def send_raw(self, frames):
        self.push.send_multipart(frames)

    def to_writer(self, frames):
        for ident in self.idents:
            self.router.send_multipart([ident] + frames)


@pytest.fixture
def broker():
    b = FakeBroker()
    yield b
    b.close()


def book(i, **extra):
    d = {"_id": str(7952000 + i), "name": "书 %d" % i, "authors": ["R. J. Palacio"],
         "tags": ["小说", "tag%d" % (i % 5)], "isbn": "978-%07d" % i, "score": 8.0 + (i % 10) / 10,
         "page_number": None, "introduction": "line one\nline \"two\""}
    d.update(extra)
    return d


def url(i):
    return "http://127.0.0.1:1/api/book/%d" % (7952000 + i)


def start_writer(procs, broker, *args, env=None):
    argv = [bin_path("writer"), "--broker", broker.control, "--docs", broker.docs,
            "--log-level", "debug"] + list(args)
    p = procs.start("writer", argv, env=env)
    broker.wait_hello()
    return p


def count(coll, query=None):
    return coll.database.command("count", coll.name, query=query or {})["n"]


def mongo_coll(mongo, db, name):
    client = pymongo.MongoClient(mongo.uri, serverSelectionTimeoutMS=10000)
    return client, client[db][name]


def test_writes_confirms_and_is_idempotent(procs, mongo, broker):
    p = start_writer(procs, broker, "--mongo", mongo.uri, "--db", "zc_w1", "--batch", "50")
    n = 120
    for i in range(n):
        broker.send_doc(url(i), book(i))
    broker.wait(lambda: len(broker.written) >= n, 20, "WRITTEN for %d docs" % n)
    assert sorted(broker.written) == sorted(url(i) for i in range(n))
    assert all(len(b) <= 50 for b in broker.batches)
    client, coll = mongo_coll(mongo, "zc_w1", "books")
    assert count(coll) == n
    names = {ix["name"] for ix in coll.list_indexes()}
    assert {"isbn_1", "score_-1", "tags_1"} <= names
    doc = coll.find_one({"_id": "7952007"})
    assert doc["name"] == "书 7" and doc["authors"] == ["R. J. Palacio"] and doc["page_number"] is None

    # The same documents again, changed: still n documents, now replaced.
    for i in range(n):
        broker.send_doc(url(i), book(i, round=2))
    broker.wait(lambda: len(broker.written) >= 2 * n, 20, "WRITTEN for the re-sent docs")
    assert count(coll) == n
    assert count(coll, {"round": 2}) == n
    assert broker.dead == []
    assert p.poll() is None
    client.close()


def test_single_doc_confirmed_by_timer(procs, mongo, broker):
    start_writer(procs, broker, "--mongo", mongo.uri, "--db", "zc_w2", "--batch", "500",
                 "--batch-ms", "100")
    broker.pump(0.3)
    t0 = time.time()
    broker.send_doc(url(1), book(1))
    broker.wait(lambda: broker.written, 5, "WRITTEN for one doc")
    took = time.time() - t0
    assert broker.written == [url(1)]
    assert took < 1.0, "one doc took %.2fs to be confirmed" % took


def test_garbage_is_dropped_and_bad_docs_go_dead(procs, mongo, broker):
    p = start_writer(procs, broker, "--mongo", mongo.uri, "--db", "zc_w3", "--batch-ms", "50")
    good = bson.encode(book(1))
    broker.send_raw([b"garbage"])
    broker.send_raw([b"ZC\x02\x08", b"u", good])           # other version
    broker.send_raw([hdr(99), b"x"])                       # unknown type
    broker.send_raw([hdr(DOC)])                            # too few frames
    broker.send_raw([hdr(DOC), b"u"])
    broker.send_raw([hdr(DOC), b"u", good, b"extra"])       # too many
    broker.send_raw([hdr(WRITTEN), b"u"])                  # wrong type on this socket
    broker.send_raw([hdr(DOC), b"", good])                 # empty url
    broker.send_raw([hdr(DOC), b"a\nb", good])             # url with a newline
    broker.send_raw([hdr(DOC), b"http://x/notbson", b"not bson at all"])
    broker.send_raw([hdr(DOC), b"http://x/noid", bson.encode({"name": "no id"})])
    broker.send_raw([hdr(DOC), b"http://x/intid", bson.encode({"_id": 5})])
    broker.send_raw([hdr(DOC), b"http://x/dollar", bson.encode({"_id": "d", "$set": {"a": 1}})])
    broker.send_raw([hdr(DOC), b"http://x/truncated", good[:-3]])
    bad_utf8 = bytearray(bson.encode({"_id": "u", "v": "text"}))
    bad_utf8[bad_utf8.index(b"text") + 1] = 0xFF
    broker.send_raw([hdr(DOC), b"http://x/badutf8", bytes(bad_utf8)])
    # Garbage on the control socket too.
    broker.pump(0.2)
    broker.to_writer([b"junk"])
    broker.to_writer([hdr(JOB), b"http://x/", b"0"])
    broker.to_writer([hdr(HEARTBEAT), b"extra"])
    broker.send_doc(url(2), book(2))
    broker.wait(lambda: broker.written, 10, "WRITTEN after the garbage")
    broker.wait(lambda: len(broker.dead) >= 6, 5, "DEAD for the bad documents")
    assert broker.written == [url(2)]
    dead = {d[0]: d for d in broker.dead}
    assert set(dead) == {"http://x/notbson", "http://x/noid", "http://x/intid", "http://x/dollar",
                         "http://x/truncated", "http://x/badutf8"}
    assert all(d[1] == "write" and d[2] for d in broker.dead)
    assert p.poll() is None
    client, coll = mongo_coll(mongo, "zc_w3", "books")
    assert count(coll) == 1
    client.close()
    log = procs.log(p)
    assert log.count("event=bad_message") >= 10, log


def test_jsonl_sink(procs, broker, tmp_path):
    out = tmp_path / "books.jsonl"
    p = start_writer(procs, broker, "--out", str(out), "--batch", "7")
    n = 30
    for i in range(n):
        broker.send_doc(url(i), book(i))
    broker.wait(lambda: len(broker.written) >= n, 15, "WRITTEN for %d docs" % n)
    assert sorted(broker.written) == sorted(url(i) for i in range(n))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == n
    docs = [json.loads(line) for line in lines]
    assert sorted(d["_id"] for d in docs) == sorted(str(7952000 + i) for i in range(n))
    one = next(d for d in docs if d["_id"] == "7952003")
    assert one["introduction"] == "line one\nline \"two\"" and one["tags"][0] == "小说"
    assert isinstance(one["score"], float)
    # SHUTDOWN: exits 0.
    broker.to_writer([hdr(SHUTDOWN)])
    assert p.wait(timeout=10) == 0


def test_mongo_outage_holds_confirmations(procs, mongo, broker):
    if not mongo.restartable():
        pytest.skip("MongoDB from MONGODB_URI cannot be stopped by the test")
    p = start_writer(procs, broker, "--mongo", mongo.uri, "--db", "zc_w4", "--batch", "20",
                     "--batch-ms", "50")
    for i in range(20):
        broker.send_doc(url(i), book(i))
    broker.wait(lambda: len(broker.written) >= 20, 15, "WRITTEN before the outage")
    mongo.stop()
    for i in range(20, 60):
        broker.send_doc(url(i), book(i))
    broker.pump(3.0)
    assert len(broker.written) == 20, "confirmed while MongoDB was down: %s" % broker.written[20:]
    assert p.poll() is None
    mongo.start()
    broker.wait(lambda: len(broker.written) >= 60, 40, "WRITTEN after MongoDB came back")
    assert sorted(broker.written) == sorted(url(i) for i in range(60))
    client, coll = mongo_coll(mongo, "zc_w4", "books")
    assert count(coll) == 60
    client.close()
    log = procs.log(p)
    assert "event=write_failed" in log and "event=write_recovered" in log, log
    assert broker.dead == []


def test_signal_flushes_pending_batch(procs, mongo, broker):
    p = start_writer(procs, broker, "--mongo", mongo.uri, "--db", "zc_w5", "--batch", "1000",
                     "--batch-ms", "600000")
    for i in range(5):
        broker.send_doc(url(i), book(i))
    broker.pump(0.5)
    assert broker.written == []
    p.send_signal(signal.SIGTERM)
    broker.wait(lambda: len(broker.written) >= 5, 10, "WRITTEN after SIGTERM")
    assert p.wait(timeout=10) == 0
    client, coll = mongo_coll(mongo, "zc_w5", "books")
    assert count(coll) == 5
    client.close()


def test_shutdown_drains_queued_docs(procs, mongo, broker):
    p = start_writer(procs, broker, "--mongo", mongo.uri, "--db", "zc_w6", "--batch", "1000",
                     "--batch-ms", "600000")
    for i in range(8):
        broker.send_doc(url(i), book(i))
    broker.pump(0.5)
    broker.to_writer([hdr(SHUTDOWN)])
    broker.wait(lambda: len(broker.written) >= 8, 10, "WRITTEN after SHUTDOWN")
    assert p.wait(timeout=10) == 0


def test_signal_with_sink_down_exits_1_unconfirmed(procs, mongo, broker):
    if not mongo.restartable():
        pytest.skip("MongoDB from MONGODB_URI cannot be stopped by the test")
    p = start_writer(procs, broker, "--mongo", mongo.uri, "--db", "zc_w7", "--batch-ms", "50",
                     "--drain-ms", "1500")
    mongo.stop()
    for i in range(3):
        broker.send_doc(url(i), book(i))
    broker.pump(1.0)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=15)
    broker.pump(0.3)
    assert rc == 1
    assert broker.written == []


def run_writer(*args, env=None, timeout=30):
    e = dict(os.environ)
    e.pop("MONGODB_URI", None)
    if env:
        e.update(env)
    return subprocess.run([bin_path("writer")] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=e)


def one_error_line(r):
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("zcrawl-writer: error: "), r.stderr
    return lines[0]


def test_bad_uri_and_flags_exit_with_one_line(tmp_path):
    t0 = time.time()
    # Port 1: nothing listens there (a free_port() could be taken by a concurrent
    # test's server in the meantime).
    r = run_writer("--mongo", "mongodb://127.0.0.1:1/")
    assert r.returncode == 1
    assert "cannot reach MongoDB" in one_error_line(r)
    assert time.time() - t0 < 15
    r = run_writer("--mongo", "mongo://nope")
    assert r.returncode == 1
    assert "bad MongoDB URI" in one_error_line(r)
    r = run_writer(env={"ZCRAWL_MONGO": "mongodb://"})
    assert r.returncode == 1
    one_error_line(r)
    r = run_writer("--mongo", "mongodb://127.0.0.1/", "--write-concern", "0")
    assert r.returncode == 2
    one_error_line(r)
    r = run_writer("--batch", "0")
    assert r.returncode == 2
    one_error_line(r)
    r = run_writer("--no-such-flag")
    assert r.returncode == 2
    one_error_line(r)
    r = run_writer("--mongo", "mongodb://127.0.0.1/", "--out", str(tmp_path / "x.jsonl"))
    assert r.returncode == 2
    one_error_line(r)
    r = run_writer("--out", str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert r.returncode == 1
    assert "cannot open" in one_error_line(r)
    r = run_writer("--help")
    assert r.returncode == 0 and "--batch-ms" in r.stdout and "--write-concern" in r.stdout


def test_document_refused_by_server_goes_dead(procs, mongo, broker):
    # A unique isbn index the writer did not ask for: a second book with the same
    # isbn can never be written. It must end as DEAD, and the rest be confirmed.
    client, coll = mongo_coll(mongo, "zc_w8", "books")
    coll.create_index("isbn", unique=True, name="isbn_unique")
    coll.insert_one({"_id": "other", "isbn": "dup"})
    p = start_writer(procs, broker, "--mongo", mongo.uri, "--db", "zc_w8", "--batch-ms", "50")
    for i in range(10):
        broker.send_doc(url(i), book(i, isbn="dup") if i == 4 else book(i))
    broker.wait(lambda: len(broker.written) >= 9 and broker.dead, 20, "WRITTEN for 9 and DEAD for 1")
    assert sorted(broker.written) == sorted(url(i) for i in range(10) if i != 4)
    assert [d[:2] for d in broker.dead] == [(url(4), "write")]
    assert "11000" in broker.dead[0][2]
    assert count(coll) == 10  # 9 + "other"
    assert p.poll() is None
    client.close()
