"""test_sitesim.py -- the site emulator: API shape, determinism, faults, latency, HTTP."""
import http.client
import json
import random
import re
import socket
import time

import pytest

from harness import Procs, Sitesim, bin_path, wait_for  # noqa: F401  (Procs: the procs fixture)

BOOKS = 9040
PAGE = 18


# ---- small HTTP clients -------------------------------------------------------

class Client:
    """One keep-alive connection; returns (status, headers, body bytes)."""

    def __init__(self, sim, timeout=10):
        self.c = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=timeout)

    def get(self, path, method="GET"):
        self.c.request(method, path)
        r = self.c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()

    def json(self, path):
        status, _, body = self.get(path)
        return status, json.loads(body)

    def close(self):
        self.c.close()


class Raw:
    """A raw socket, for pipelining, garbage and faults."""

    def __init__(self, sim, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", sim.port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def response(self):
        """Reads one response: (status, headers, body) framed by Content-Length."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs["content-length"])
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body

    def rest(self):
        """Everything until the server closes (a reset counts as a close)."""
        out = self.buf
        self.buf = b""
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return out
                out += d
        except ConnectionResetError:
            return out

    def is_closed(self, timeout=2.0):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def req(path, extra=b"", version=b"HTTP/1.1"):
    return b"GET " + path.encode() + b" " + version + b"\r\nHost: test\r\n" + extra + b"\r\n"


def all_list_ids(cl):
    ids = []
    for page in range(BOOKS // PAGE + 1):
        status, d = cl.json("/api/book/?limit=%d&offset=%d" % (PAGE, page * PAGE))
        assert status == 200
        assert d["count"] == BOOKS
        ids.extend(item["id"] for item in d["results"])
    return ids


def strip_links(body):
    d = json.loads(body)
    d.pop("next", None)
    d.pop("previous", None)
    return d


# ---- catalogue and API shape -------------------------------------------------

def test_list_pages_cover_every_book(procs):
    sim = Sitesim(procs)
    cl = Client(sim)
    ids = all_list_ids(cl)
    assert len(ids) == BOOKS
    assert len(set(ids)) == BOOKS
    assert all(re.fullmatch(r"[1-9][0-9]{6,7}", i) for i in ids)
    assert any(len(i) == 7 for i in ids) and any(len(i) == 8 for i in ids)
    assert ids != sorted(ids, key=int)

    # the last page holds the remainder, and links follow the limit/offset scheme
    status, last = cl.json("/api/book/?limit=18&offset=%d" % (502 * 18))
    assert len(last["results"]) == BOOKS - 502 * 18 and last["next"] is None
    status, first = cl.json("/api/book/?limit=18&offset=0")
    assert first["previous"] is None
    assert first["next"].endswith("/api/book/?limit=18&offset=18")
    assert first["next"].startswith("http://")

    # default limit, no trailing slash, offset past the end
    status, d = cl.json("/api/book")
    assert status == 200 and len(d["results"]) == 18 and d["count"] == BOOKS
    assert [x["id"] for x in d["results"]] == ids[:18]
    status, d = cl.json("/api/book/?limit=18&offset=9040")
    assert status == 200 and d["results"] == [] and d["count"] == BOOKS and d["next"] is None
    status, d = cl.json("/api/book/?offset=100000&limit=5")
    assert status == 200 and d["results"] == []
    status, d = cl.json("/api/book/?limit=7&offset=3")
    assert [x["id"] for x in d["results"]] == ids[3:10]

    # every listed id is reachable, missing or malformed, and nothing else
    info = sim.ids()
    assert info["count"] == BOOKS
    listed = set(info["reachable"]) | set(info["missing"]) | set(info["malformed"])
    assert listed == set(ids)
    assert len(info["missing"]) == BOOKS // 300 and info["malformed"] == []

    st = sim.stats()
    assert st["books"] == BOOKS
    # 503 pages, plus offset=9040, 100000/5 and 7/3; the last page, page 0 and
    # /api/book (the same as page 0) were answered before
    assert st["list_pages_served"] == 503 + 3
    assert st["by_kind"]["list"] == 503 + 6
    assert st["duplicates"] == 3
    cl.close()


def test_list_bad_parameters_give_400(procs):
    sim = Sitesim(procs)
    cl = Client(sim)
    for q in ["limit=abc", "limit=0", "limit=-1", "offset=-5", "offset=1x", "limit=", "limit=1e3",
              "limit=99999999999999999999"]:
        status, h, body = cl.get("/api/book/?" + q)
        assert status == 400, q
        assert h["content-type"] == "application/json; charset=utf-8"
        assert "detail" in json.loads(body)
    status, d = cl.json("/api/book/?limit=%31%30&offset=%32&foo=bar")  # percent-encoded 10 and 2
    assert status == 200 and len(d["results"]) == 10
    cl.close()


def test_detail_fields_and_types(procs):
    sim = Sitesim(procs)
    cl = Client(sim)
    info = sim.ids()
    status, page = cl.json("/api/book/?limit=18&offset=0")
    item = page["results"][0]
    assert set(item) == {"id", "name", "authors", "cover", "score"}
    seen = {"translators_nonempty": 0, "null_price": 0, "null_score": 0, "missing_key": 0,
            "messy_inner": 0, "messy_outer": 0, "entity": 0, "usd": 0, "yuan": 0, "page_null": 0, "catalog_null": 0}
    required = {"id", "name", "authors", "url", "cover", "price", "score", "introduction",
                "published_at", "updated_at"}
    optional = {"translators", "publisher", "tags", "isbn", "page_number", "catalog", "comments"}
    iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    for book_id in info["reachable"][:400]:
        status, h, body = cl.get("/api/book/%s" % book_id)
        assert status == 200
        assert h["content-type"] == "application/json; charset=utf-8"
        assert int(h["content-length"]) == len(body)
        d = json.loads(body.decode("utf-8"))
        assert required <= set(d) <= required | optional
        seen["missing_key"] += len(required | optional) - len(d)
        assert d["id"] == book_id
        assert isinstance(d["name"], str) and d["name"]
        assert isinstance(d["authors"], list) and all(isinstance(a, str) for a in d["authors"])
        for a in d["authors"] + d.get("translators", []):
            assert a.strip()
            seen["messy_outer"] += a != a.strip()
            seen["messy_inner"] += "  " in a.strip()
        assert isinstance(d.get("translators", []), list)
        seen["translators_nonempty"] += bool(d.get("translators"))
        assert d.get("publisher") is None or isinstance(d["publisher"], str)
        assert all(isinstance(t, str) for t in d.get("tags", []))
        assert d["url"].startswith("https://") and book_id in d["url"]
        assert d.get("isbn") is None or re.fullmatch(r"97[89]\d{10}", d["isbn"])
        assert d["cover"].startswith("https://") and d["cover"].endswith(".jpg")
        pn = d.get("page_number")
        assert pn is None or (isinstance(pn, int) and pn > 0)
        seen["page_null"] += "page_number" in d and pn is None
        p = d["price"]
        assert p is None or re.fullmatch(r"USD \d+\.\d\d|\d+\.\d\d元", p)
        seen["null_price"] += p is None
        seen["usd"] += p is not None and p.startswith("USD")
        seen["yuan"] += p is not None and p.endswith("元")
        assert d["score"] is None or re.fullmatch(r"\d\.\d", d["score"])
        seen["null_score"] += d["score"] is None
        assert isinstance(d["introduction"], str) and len(d["introduction"]) > 20
        seen["entity"] += "&" in d["introduction"]
        assert d.get("catalog") is None or isinstance(d["catalog"], str)
        seen["catalog_null"] += "catalog" in d and d["catalog"] is None
        for k in ("published_at", "updated_at"):
            assert d[k] is None or iso.match(d[k]), d[k]
        for c in d.get("comments", []):
            assert set(c) == {"id", "content"} and c["id"].isdigit() and isinstance(c["content"], str)
    for k, v in seen.items():
        assert v > 0, (k, seen)
    # the list item agrees with the detail page
    status, d = cl.json("/api/book/%s" % item["id"])
    if status == 200:
        for k in ("name", "authors", "cover", "score"):
            assert d[k] == item[k]
    # authors carry the site's messy whitespace
    status, page = cl.json("/api/book/?limit=200&offset=0")
    authors = [a for it in page["results"] for a in it["authors"]]
    assert any(a.startswith("\n") and a.endswith(" ") for a in authors)
    assert any(re.search(r"\S {2,}\S", a) for a in authors)
    assert any(re.search(r"[\u4e00-\u9fff]", it["name"]) for it in page["results"])
    cl.close()


def test_detail_slash_duplicates_and_404(procs):
    sim = Sitesim(procs)
    cl = Client(sim)
    info = sim.ids()
    book = info["reachable"][0]
    s1, h1, b1 = cl.get("/api/book/%s" % book)
    s2, h2, b2 = cl.get("/api/book/%s/" % book)
    assert s1 == s2 == 200 and b1 == b2
    st = sim.stats()
    assert st["duplicates"] == 1 and st["detail_pages_served"] == 1
    assert st["by_kind"]["detail"] == 2

    assert len(info["missing"]) == 30
    for m in info["missing"]:
        status, h, body = cl.get("/api/book/%s" % m)
        assert status == 404 and json.loads(body) == {"detail": "Not found."}
    for bad in ["1", "abc", "99999999", "01234567", "1000000", "12345678901234567890", "%20"]:
        status, h, body = cl.get("/api/book/%s/" % bad)
        assert status == 404, bad
        assert json.loads(body) == {"detail": "Not found."}
    status, h, body = cl.get("/nope")
    assert status == 404
    status, h, body = cl.get("/api/book/%s" % book, method="HEAD")
    assert status == 200 and body == b"" and int(h["content-length"]) == len(b1)
    st = sim.stats()
    assert st["detail_pages_served"] == 1
    assert st["duplicates"] == 2  # the HEAD request answered the same page again
    cl.close()


def test_determinism_across_instances(procs):
    a = Sitesim(procs, "--seed", "5", "--books", "1000")
    b = Sitesim(procs, "--seed", "5", "--books", "1000")
    c = Sitesim(procs, "--seed", "6", "--books", "1000")
    ca, cb, cc = Client(a), Client(b), Client(c)
    assert ca.get("/__ids")[2] == cb.get("/__ids")[2]
    ids_a, ids_c = a.ids(), c.ids()
    assert len(set(ids_a["reachable"]) & set(ids_c["reachable"])) < 10
    for off in (0, 18, 990):
        pa, pb = ca.get("/api/book/?limit=18&offset=%d" % off), cb.get("/api/book/?limit=18&offset=%d" % off)
        assert strip_links(pa[2]) == strip_links(pb[2])
    for book in ids_a["reachable"][:50] + ids_a["missing"]:
        ra, rb = ca.get("/api/book/%s" % book), cb.get("/api/book/%s" % book)
        assert ra[0] == rb[0] and ra[2] == rb[2]
        assert cc.get("/api/book/%s" % book)[0] == 404 or book in ids_c["reachable"]
    assert strip_links(ca.get("/api/book/")[2]) != strip_links(cc.get("/api/book/")[2])
    # at least one missing book from 300 on, none below
    assert len(Sitesim(procs, "--books", "300").ids()["missing"]) == 1
    assert Sitesim(procs, "--books", "299").ids()["missing"] == []


# ---- faults --------------------------------------------------------------------

def first_ids(sim, n=5):
    return sim.ids()["reachable"][:n]


@pytest.mark.parametrize("kind", ["500", "429", "drop", "truncate"])
def test_fault_kinds(procs, kind):
    sim = Sitesim(procs, "--fail-" + kind, "1.0", "--retry-after", "1")
    ids = first_ids(sim)  # admin pages are never faulted
    for n, path in enumerate(["/api/book/?limit=18&offset=0", "/api/book/%s" % ids[0],
                              "/api/book/%s/" % ids[1]]):
        r = Raw(sim)
        r.send(req(path))
        if kind in ("500", "429"):
            status, h, body = r.response()
            assert status == int(kind)
            assert "detail" in json.loads(body)
            if kind == "429":
                assert h["retry-after"] == "1"
        elif kind == "drop":
            assert r.rest() == b""
        else:
            data = r.rest()
            head, body = data.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200 ")
            clen = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            assert 0 < len(body) < clen
        r.close()
    st = sim.stats()
    assert st["faults"][kind] == 3
    assert st["in_progress"] == 0
    assert st["detail_pages_served"] == 0 and st["list_pages_served"] == 0


def test_fault_slow_trickles_the_body(procs):
    sim = Sitesim(procs, "--fail-slow", "1.0", "--slow-chunk", "64", "--slow-interval-ms", "20")
    r = Raw(sim)
    t0 = time.time()
    r.send(req("/api/book/?limit=5&offset=0"))
    status, h, body = r.response()
    elapsed = time.time() - t0
    assert status == 200 and len(json.loads(body)["results"]) == 5
    chunks = (len(body) + 63) // 64
    assert chunks >= 10
    assert elapsed >= (chunks - 1) * 0.020 * 0.8
    # the connection stays usable after a slow answer
    r.send(req("/api/book/?limit=1&offset=0"))
    assert r.response()[0] == 200
    r.close()
    assert sim.stats()["faults"]["slow"] == 2


def test_malformed_detail_pages(procs):
    sim = Sitesim(procs, "--malformed-rate", "1.0")
    info = sim.ids()
    assert info["reachable"] == []
    assert len(info["malformed"]) == BOOKS - len(info["missing"])
    cl = Client(sim)
    for book in info["malformed"][:30]:
        status, h, body = cl.get("/api/book/%s" % book)
        assert status == 200 and int(h["content-length"]) == len(body)
        with pytest.raises(ValueError):
            json.loads(body)
        assert cl.get("/api/book/%s/" % book)[2] == body  # the same every time
    assert sim.stats()["faults"]["malformed"] == 60
    # list pages stay valid
    assert len(cl.json("/api/book/")[1]["results"]) == 18
    cl.close()

    part = Sitesim(procs, "--malformed-rate", "0.05")
    info = part.ids()
    assert 250 < len(info["malformed"]) < 650
    assert not set(info["malformed"]) & set(info["reachable"])
    cl = Client(part)
    for book in info["malformed"][:10]:
        with pytest.raises(ValueError):
            json.loads(cl.get("/api/book/%s" % book)[2])
    for book in info["reachable"][:10]:
        assert json.loads(cl.get("/api/book/%s" % book)[2])["id"] == book
    cl.close()


# ---- latency -------------------------------------------------------------------

def test_latency_does_not_block(procs):
    sim = Sitesim(procs, "--latency-ms", "300", "--jitter-ms", "50")
    socks = [Raw(sim) for _ in range(200)]
    t0 = time.time()
    for i, r in enumerate(socks):
        r.send(req("/api/book/?limit=1&offset=%d" % i))
    # Admin pages are not delayed, even with 200 answers waiting.
    wait_for(lambda: sim.stats()["in_progress"] >= 150, 5, "150 answers waiting", details=sim.stats)
    for i, r in enumerate(socks):
        status, h, body = r.response()
        assert status == 200
        assert json.loads(body)["results"][0]["id"]
    elapsed = time.time() - t0
    assert 0.25 <= elapsed < 5.0, elapsed  # serial would take 200 * 0.3 s = 60 s
    for r in socks:
        r.close()
    st = sim.stats()
    assert st["max_in_progress"] >= 150
    assert st["requests"] == 200 and st["in_progress"] == 0


# ---- HTTP behaviour --------------------------------------------------------------

def test_keep_alive_pipelining_and_connection_close(procs):
    sim = Sitesim(procs)
    before = sim.stats()["connections_total"]
    cl = Client(sim)
    for off in range(5):
        assert cl.json("/api/book/?limit=1&offset=%d" % off)[0] == 200
    cl.close()
    assert sim.stats()["connections_total"] == before + 2  # the Client, then this /__stats

    ids = first_ids(sim, 3)
    r = Raw(sim)
    r.send(b"".join(req("/api/book/%s" % i) for i in ids) + req("/__stats") + req("/api/book/%s/" % ids[0]))
    got = [json.loads(r.response()[2]) for _ in range(5)]
    assert [g["id"] for g in got[:3]] == ids and got[4]["id"] == ids[0]
    assert "requests" in got[3]
    # HTTP/1.1 Connection: close is honoured
    r.send(req("/api/book/", extra=b"Connection: close\r\n"))
    status, h, body = r.response()
    assert status == 200 and h["connection"] == "close"
    assert r.is_closed()
    r.close()

    # HTTP/1.0 closes by default, stays open when keep-alive is asked for
    r = Raw(sim)
    r.send(req("/api/book/", version=b"HTTP/1.0"))
    assert r.response()[0] == 200 and r.is_closed()
    r.close()
    r = Raw(sim)
    r.send(req("/api/book/", extra=b"Connection: keep-alive\r\n", version=b"HTTP/1.0"))
    status, h, body = r.response()
    assert status == 200 and h["connection"].lower() == "keep-alive"
    r.send(req("/api/book/", extra=b"Connection: keep-alive\r\n", version=b"HTTP/1.0"))
    assert r.response()[0] == 200
    r.close()

    # a request body is skipped, not parsed as the next request
    r = Raw(sim)
    r.send(b"POST /api/book/ HTTP/1.1\r\nContent-Length: 11\r\n\r\nGET / HTTP/" + req("/api/book/"))
    assert r.response()[0] == 405
    assert r.response()[0] == 200
    r.close()


GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"\x00\x01\x02\xff\xfe\xfd\r\n\r\n",
    b"GET /api/book/ HTTP/1.1\r\nNoColonHere\r\n\r\n",
    b"GET /api/book/ HTTP/2.0\r\n\r\n",
    b"GET  /api/book/ HTTP/1.1\r\n\r\n",
    b"GET /api/book/ HTTP/1.1 extra\r\n\r\n",
    b"GET api/book/ HTTP/1.1\r\n\r\n",
    b"GET /api/book/ HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"GET /api/book/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"GET /api/book/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /api/book/ HTTP/1.1\r\n folded: header\r\n\r\n",
    b"GET /api/book/ HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    b"GET /api/book/\x7f HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
]


def test_garbage_gets_400_and_server_survives(procs):
    sim = Sitesim(procs)
    for g in GARBAGE:
        r = Raw(sim)
        r.send(g)
        data = r.rest()
        assert data.startswith(b"HTTP/1.1 400 "), (g, data[:80])
        assert b"Connection: close" in data
        json.loads(data.split(b"\r\n\r\n", 1)[1])
        r.close()
    # an endless header line
    r = Raw(sim)
    try:
        r.send(b"GET /api/book/ HTTP/1.1\r\nX-Long: " + b"a" * 40000 + b"\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = r.rest()
    assert data == b"" or data.startswith(b"HTTP/1.1 400 ")
    r.close()
    # a bad percent-escape is a 400 that keeps the connection
    r = Raw(sim)
    r.send(req("/api/b%zzook/") + req("/api/book/"))
    assert r.response()[0] == 400
    assert r.response()[0] == 200
    r.close()
    # random noise, also split across writes and closed half-way
    rnd = random.Random(7)
    for n in range(60):
        r = Raw(sim)
        blob = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400)))
        try:
            r.send(blob if n % 3 else blob + b"\r\n\r\n")
            if n % 3 or n % 2:
                r.s.shutdown(socket.SHUT_WR)
            r.s.settimeout(2)
            r.rest()
        except (OSError, socket.timeout):
            pass
        r.close()
    assert sim.proc.poll() is None
    cl = Client(sim)
    assert cl.json("/api/book/?limit=2")[0] == 200
    st = sim.stats()
    assert st["by_status"]["400"] >= len(GARBAGE) + 1
    assert st["in_progress"] == 0
    cl.close()


def test_stats_counters_and_reset(procs):
    sim = Sitesim(procs)
    cl = Client(sim)
    info = sim.ids()
    a, b = info["reachable"][:2]
    missing = info["missing"][0]
    for path in ["/api/book/?limit=18&offset=0", "/api/book/?offset=0&limit=18", "/api/book/?limit=18&offset=18",
                 "/api/book/%s" % a, "/api/book/%s/" % a, "/api/book/%s" % b,
                 "/api/book/%s" % missing, "/api/book/%s/" % missing, "/favicon.ico", "/api/other"]:
        cl.get(path)
    st = sim.stats()
    assert st["requests"] == 10
    assert st["by_kind"] == {"list": 3, "detail": 5, "other": 2}
    assert st["duplicates"] == 3  # list page 0 again, book a with slash, missing with slash
    assert st["list_pages_served"] == 2 and st["detail_pages_served"] == 2
    assert st["max_in_progress"] >= 1 and st["in_progress"] == 0
    assert set(st["faults"]) == {"500", "429", "drop", "truncate", "slow", "malformed"}
    assert sim.stats()["requests"] == 10  # admin pages are not counted
    status, h, body = cl.get("/__reset", method="POST")
    assert status == 200
    st = sim.stats()
    assert st["requests"] == 0 and st["duplicates"] == 0 and st["by_kind"]["detail"] == 0
    assert st["list_pages_served"] == 0 and st["detail_pages_served"] == 0
    cl.get("/api/book/%s" % a)
    assert sim.stats()["duplicates"] == 0 and sim.stats()["detail_pages_served"] == 1
    assert cl.json("/__reset")[1] == {"reset": True}
    assert sim.stats()["requests"] == 0
    cl.close()


def test_help_and_bad_flags():
    import subprocess
    out = subprocess.run([bin_path("sitesim"), "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    text = out.stdout + out.stderr
    for flag in ["--seed", "--books", "--fail-500", "--fail-429", "--fail-drop", "--fail-truncate",
                 "--fail-slow", "--malformed-rate", "--latency-ms", "--jitter-ms", "--retry-after"]:
        assert flag in text
    bad = subprocess.run([bin_path("sitesim"), "--fail-500", "2"], capture_output=True, text=True, timeout=10)
    assert bad.returncode != 0 and "zcrawl-sitesim: error:" in bad.stderr
    bad = subprocess.run([bin_path("sitesim"), "--fail-500", "0.6", "--fail-drop", "0.6"],
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode != 0 and "zcrawl-sitesim: error:" in bad.stderr
