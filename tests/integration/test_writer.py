"""test_writer.py -- bin/zcrawl-writer alone, with Python playing the broker (a ROUTER
for control, a PUSH for docs-out) over real ZeroMQ, and a real MongoDB-wire server."""
import collections
import json
import os
import re
import signal
import subprocess
import time

import bson
import pymongo
import pytest
import zmq

from harness import bin_path, fill_fs, hdr, unpack, whole_lines_ids

HELLO, HEARTBEAT, JOB, DOC, WRITTEN, DEAD, SHUTDOWN, HOLD, STATUS = 1, 2, 4, 8, 9, 10, 11, 12, 13


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
        self.holds = []     # (time, [urls]) per HOLD
        self.status = []    # (time, condition, detail) per STATUS
        self.seen = []      # time of every message from the writer
        self.written_at = {}  # url -> time of its (first) WRITTEN
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
                    frames = frames[:1] + unpack(frames[1:])
                except zmq.Again:
                    break
                ident, head, rest = frames[0], frames[1], frames[2:]
                self.idents.add(ident)
                self.seen.append(time.time())
                assert head[:3] == b"ZC\x01", frames
                t = head[3]
                if t == HELLO:
                    self.hellos.append([f.decode() for f in rest])
                elif t == WRITTEN:
                    assert len(rest) == 1, frames
                    urls = rest[0].decode().split("\n")
                    self.batches.append(urls)
                    self.written.extend(urls)
                    for u in urls:
                        self.written_at.setdefault(u, time.time())
                elif t == DEAD:
                    assert len(rest) == 3, frames
                    self.dead.append(tuple(f.decode() for f in rest))
                elif t == HOLD:
                    assert len(rest) == 1, frames
                    urls = rest[0].decode().split("\n")
                    assert 0 < len(urls) <= 1000 and all(urls), frames
                    self.holds.append((time.time(), urls))
                elif t == STATUS:
                    assert len(rest) == 2, frames
                    cond, detail = rest[0].decode(), rest[1].decode()
                    assert cond and " " not in cond and "\n" not in detail, frames
                    self.status.append((time.time(), cond, detail))

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


@pytest.mark.serial  # a latency: confirmed within a second
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
    broker.send_raw([hdr(DOC), b"u", good, b"", b"", b"extra"])  # too many (url, BSON, proof, urls)
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


# ---------------------------------------------------------------- a slow, failing or full sink

def stat_values(log, key):
    """Every value of key=N in the writer's stats lines."""
    return [int(m.group(1)) for m in re.finditer(r"event=stats .*?\b%s=(\d+)" % key, log)]


def test_slow_sink_keeps_heartbeats_and_holds(procs, broker, proxy):
    """A MongoDB that takes 3 s per write. The writer must stay alive on the control
    socket (a broker drops a peer after 3 silent heartbeat intervals), and renew
    the leases of what it holds: HOLD for each URL held longer than --hold-ms, again
    every --hold-ms, and none after its WRITTEN. (Flags by environment, so the
    same test runs against a writer that knows neither.)"""
    proxy.delay = 3.0
    env = {"ZCRAWL_HEARTBEAT_MS": "500", "ZCRAWL_HOLD_MS": "700"}
    p = start_writer(procs, broker, "--mongo", proxy.uri, "--db", "zc_w9", "--batch", "20", "--batch-ms", "20",
                     "--skip-indexes", env=env)
    n = 60
    t0 = time.time()
    for i in range(n):
        broker.send_doc(url(i), book(i))
    broker.wait(lambda: len(broker.written) >= n, 90, "WRITTEN for %d docs" % n)
    t1 = time.time()
    assert sorted(broker.written) == sorted(url(i) for i in range(n))
    assert proxy.writes >= 3 and t1 - t0 >= 8, (proxy.writes, t1 - t0)
    seen = [t for t in broker.seen if t >= t0]
    gap = max(b - a for a, b in zip(seen, seen[1:]))
    assert gap < 1.5, "the writer was silent for %.1f s (3 heartbeats: 1.5 s)" % gap
    held = collections.Counter(u for _, urls in broker.holds for u in urls)
    assert set(held) == {url(i) for i in range(n)}, "no HOLD for %s" % sorted({url(i) for i in range(n)} - set(held))[:5]
    assert held[url(n - 1)] >= 5, held[url(n - 1)]   # the last batch waited ~9 s: again every 0.7 s
    late = [u for t, urls in broker.holds for u in urls if t > broker.written_at[u]]
    assert not late, "HOLD after WRITTEN for %s" % late[:5]
    assert p.poll() is None
    assert broker.dead == []


def test_sink_down_status_backoff_and_ok(procs, mongo, broker, proxy):
    """MongoDB down: nothing is confirmed, STATUS sink_down with a one-line detail
    is sent and repeated every 5 s, retries back off (doubling), and once MongoDB is
    back every document is confirmed and STATUS ok sent."""
    p = start_writer(procs, broker, "--mongo", proxy.uri, "--db", "zc_w10", "--batch-ms", "50",
                     "--server-timeout-ms", "300", "--skip-indexes")
    for i in range(10):
        broker.send_doc(url(i), book(i))
    broker.wait(lambda: len(broker.written) >= 10, 20, "WRITTEN before the outage")
    assert broker.status == []  # nothing to say while all is well
    proxy.cut()
    for i in range(10, 20):
        broker.send_doc(url(i), book(i))
    broker.wait(lambda: any(c == "sink_down" for _, c, _ in broker.status), 20, "STATUS sink_down")
    broker.pump(11)
    downs = [(t, d) for t, c, d in broker.status if c == "sink_down"]
    assert len(downs) >= 2, broker.status
    assert all(4.0 <= b[0] - a[0] <= 7.5 for a, b in zip(downs, downs[1:])), [t for t, _ in downs]
    assert downs[0][1] and "\n" not in downs[0][1], downs[0]
    assert len(broker.written) == 10, "confirmed while MongoDB was down"
    assert p.poll() is None
    delays = [int(x) for x in re.findall(r"event=write_failed .*?retry_in_ms=(\d+)", procs.log(p))]
    assert len(delays) >= 4 and max(delays) >= 4 * min(delays), delays
    proxy.restore()
    broker.wait(lambda: len(broker.written) >= 20, 40, "WRITTEN after MongoDB came back")
    broker.wait(lambda: broker.status[-1][1] == "ok", 10, "STATUS ok")
    assert sorted(broker.written) == sorted(url(i) for i in range(20))
    client, coll = mongo_coll(mongo, "zc_w10", "books")
    assert count(coll) == 20
    client.close()


def test_sink_failing_past_limit_exits_4(procs, broker, proxy):
    """After --sink-fail-limit seconds without a successful write the writer gives
    up: exit 4, one clear line, nothing unwritten confirmed."""
    p = start_writer(procs, broker, "--mongo", proxy.uri, "--db", "zc_w11", "--batch-ms", "50",
                     "--server-timeout-ms", "300", "--skip-indexes", "--sink-fail-limit", "3")
    proxy.cut()
    for i in range(5):
        broker.send_doc(url(i), book(i))
    t0 = time.time()
    broker.wait(lambda: p.poll() is not None, 30, "the writer to give up")
    assert p.returncode == 4, procs.log(p)[-2000:]
    assert time.time() - t0 >= 2.5
    last = procs.log(p).strip().splitlines()[-1]
    assert last.startswith("zcrawl-writer: error: the mongo sink has failed for"), last
    assert "--sink-fail-limit" in last and "resumes" in last, last
    assert broker.written == []
    assert any(c == "sink_down" for _, c, _ in broker.status), broker.status


def test_intake_bounded_by_held_bytes(procs, broker, proxy):
    """A slow sink pushes back: the writer stops reading documents while it holds
    more than --max-held-bytes, instead of growing."""
    proxy.delay = 2.0
    p = start_writer(procs, broker, "--mongo", proxy.uri, "--db", "zc_w12", "--batch", "5", "--batch-ms", "20",
                     "--stats-ms", "200", "--skip-indexes", env={"ZCRAWL_MAX_HELD_BYTES": "65536"})
    n = 100
    for i in range(n):
        broker.send_doc(url(i), book(i, introduction="x" * 4000))
    broker.pump(5)
    held = stat_values(procs.log(p), "held_bytes")
    received = stat_values(procs.log(p), "received")
    assert held and 0 < max(held) <= 65536 + 5000, held
    assert received and received[-1] < n, received
    proxy.delay = 0
    broker.wait(lambda: len(broker.written) >= n, 60, "WRITTEN for all once the sink is fast")
    assert sorted(broker.written) == sorted(url(i) for i in range(n))


@pytest.mark.small_fs("1m")
def test_jsonl_full_disk_no_cut_line(procs, broker, small_fs):
    """A full disk: an append that fails part-way is cut back to the last whole
    line, STATUS sink_full is sent while it is full, and once space is freed every
    document ends in the file exactly once."""
    out = small_fs / "books.jsonl"
    filler = small_fs / "filler"
    fill_fs(filler, 40 * 1024)
    p = start_writer(procs, broker, "--out", str(out), "--batch", "10", "--batch-ms", "20")
    n = 60
    for i in range(n):
        broker.send_doc(url(i), book(i, introduction="y" * 2500))
    broker.wait(lambda: any(c == "sink_full" for _, c, _ in broker.status), 20, "STATUS sink_full")
    broker.pump(1.5)
    assert 0 < len(broker.written) < n, len(broker.written)
    ids = whole_lines_ids(out.read_bytes())
    assert len(ids) == len(set(ids)) == len(broker.written), (len(ids), len(broker.written))
    assert "event=jsonl_append_cut_back" in procs.log(p), "no append failed part-way: the test missed its point"
    full = [d for _, c, d in broker.status if c == "sink_full"]
    assert "ENOSPC" in full[0] and str(out) in full[0], full[0]
    assert p.poll() is None
    filler.unlink()
    broker.wait(lambda: len(broker.written) >= n, 30, "WRITTEN for all once space is freed")
    broker.wait(lambda: broker.status[-1][1] == "ok", 10, "STATUS ok")
    ids = whole_lines_ids(out.read_bytes())
    assert sorted(ids) == sorted(str(7952000 + i) for i in range(n)), "duplicates or missing"
    assert sorted(broker.written) == sorted(url(i) for i in range(n))


def test_jsonl_skips_ids_in_file_and_confirms_them(procs, broker, tmp_path):
    """Documents already in the file (a redelivery after a crash) are confirmed
    without a second line; a torn last line left by a killed writer is cut."""
    out = tmp_path / "books.jsonl"
    out.write_bytes(b'{"_id":"7952001","name":"old"}\n{"_id":"7952002","na')
    p = start_writer(procs, broker, "--out", str(out), "--batch-ms", "50")
    for i in (1, 2, 3, 3):
        broker.send_doc(url(i), book(i))
    broker.wait(lambda: len(broker.written) >= 4, 10, "WRITTEN for all four")
    ids = whole_lines_ids(out.read_bytes())
    assert ids == ["7952001", "7952002", "7952003"], ids
    assert json.loads(out.read_bytes().split(b"\n")[0])["name"] == "old"
    assert p.poll() is None
