"""Crawl specs (issue 15): the emulator's second API crawled end to end from
specs/shelves.json by the same executables, and broken specs that each stop the
parser and the launcher with one clear line, exit 2."""
import collections
import datetime
import html
import json
import os
import re
import subprocess

import pytest

from harness import Pipeline, Sitesim, bin_path

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHELVES = os.path.join(ROOT, "specs", "shelves.json")
BOOKS = os.path.join(ROOT, "specs", "books.json")


def key_of(book_id):
    """The second API's key of a book: "bk-" + its id in base 36."""
    n, digits = int(book_id), ""
    while True:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
        if n == 0:
            return "bk-" + digits


def norm_ws(s):
    return re.sub(r"[\s\u00a0\u3000]+", " ", s).strip()


def html_text(s):
    """What an "html" field should hold, computed independently of the C code:
    </p> and <br> become newlines, other tags go, then references are decoded and
    the ends trimmed of whitespace (ASCII, U+00A0, U+3000)."""
    s = re.sub(r"(?i)</p\s*>|<br\s*/?>", "\n", s)
    s = re.sub(r"<[A-Za-z/!?][^>]*>", "", s)
    return html.unescape(s).strip(" \t\n\r\v\f\u00a0\u3000")


def utc_ms(dt):
    return int((dt - datetime.datetime(1970, 1, 1)).total_seconds() * 1000)


def jsonl_docs(path):
    docs = []
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                docs.append(json.loads(line))
    return docs


def date_ms(v):
    """A JSON Lines date ({"$date": ISO}) as ms since the epoch."""
    assert isinstance(v, dict) and isinstance(v.get("$date"), str), v
    s = v["$date"]
    dt = datetime.datetime.strptime(s.replace("Z", ""), "%Y-%m-%dT%H:%M:%S.%f" if "." in s else "%Y-%m-%dT%H:%M:%S")
    return utc_ms(dt)


def check_record(doc, raw):
    """One document of the shelves spec against the record the emulator served."""
    rec = raw["data"]["record"]
    assert doc["_id"] == rec["key"]
    assert doc["title"] == html.unescape(rec["title"])
    people = rec.get("people", {})
    assert doc["authors"] == [norm_ws(a) for a in people.get("authors", []) if norm_ws(a)]
    assert doc["translators"] == [norm_ws(a) for a in people.get("translators", []) if norm_ws(a)]
    assert doc["publisher"] == rec.get("publisher", {}).get("name")
    if "released" in rec:
        want = utc_ms(datetime.datetime.strptime(rec["released"], "%d.%m.%Y"))
        assert date_ms(doc["published_at"]) == want, (doc["published_at"], rec["released"])
    else:
        assert doc["published_at"] is None
    if "revised" in rec:
        want = utc_ms(datetime.datetime.strptime(rec["revised"], "%b %d, %Y %H:%M:%S"))
        assert date_ms(doc["updated_at"]) == want, (doc["updated_at"], rec["revised"])
    else:
        assert doc["updated_at"] is None
    assert doc["pages"] == rec.get("pages")
    if "rating" in rec:
        assert isinstance(doc["score"], float) and abs(doc["score"] - rec["rating"]["value"]) < 1e-9
    else:
        assert doc["score"] is None
    assert doc["in_print"] is {"yes": True, "no": False}[rec["in_print"]]
    assert doc["price"] == rec.get("price")
    assert doc["tags"] == rec.get("labels", [])
    assert doc["introduction"] == html_text(rec["blurb"])
    assert "<p>" not in doc["introduction"] and "&lt;" not in doc["introduction"]
    assert doc["isbn"] == rec.get("isbn13")
    assert doc["source_url"].endswith("/api/v2/records/" + rec["key"])
    assert set(doc) == {"_id", "title", "authors", "translators", "publisher", "published_at",
                        "updated_at", "pages", "score", "in_print", "price", "tags", "introduction",
                        "isbn", "source_url", "fetched_at"}


@pytest.mark.long
def test_second_api_crawled_completely(procs, redis, tmp_path):
    sim = Sitesim(procs, "--books", "1500", "--seed", "11")
    ids = sim.ids()
    want = {key_of(i) for i in ids["reachable"]}
    gone = {key_of(i) for i in ids["missing"]}
    assert len(want) > 1400 and gone
    out = str(tmp_path / "shelves.jsonl")
    pl = Pipeline(procs, redis, sim.base + "/api/v2/records")
    pl.start_broker()
    pl.start_writer(out=out)
    pl.start_parser("--spec", SHELVES)
    pl.start_fetcher()
    pl.start_fetcher()
    pl.wait_done(timeout=240)

    docs = jsonl_docs(out)
    counts = collections.Counter(d["_id"] for d in docs)
    assert not [k for k, n in counts.items() if n > 1], "duplicates"
    assert set(counts) == want, (len(set(counts) - want), len(want - set(counts)))
    st = pl.stats()
    assert int(st["written"]) == len(want)
    assert int(st["gone"]) == len(gone)
    assert not pl.dead()
    sim_st = sim.stats()
    assert sim_st["duplicates"] == 0
    assert sim_st["by_kind"]["list"] == (1500 + 24) // 25  # one walk along the next links
    # Field by field, every document against the record it came from.
    by_key = {d["_id"]: d for d in docs}
    seen = collections.Counter()
    for k in sorted(want):
        raw = sim.json("/api/v2/records/" + k)
        check_record(by_key[k], raw)
        rec = raw["data"]["record"]
        seen["no_released"] += "released" not in rec
        seen["pre_1970"] += "released" in rec and int(rec["released"][-4:]) < 1970
        seen["translators"] += "translators" in rec.get("people", {})
        seen["no_pages"] += "pages" not in rec
        seen["no_price"] += "price" not in rec
    # the optional fields and old dates really occurred
    assert all(seen[f] > 0 for f in ("no_released", "pre_1970", "translators", "no_pages", "no_price")), seen


def test_books_spec_file_crawls_like_the_builtin(procs, redis, tmp_path):
    """--spec specs/books.json gives the documents the built-in spec gives."""
    sim = Sitesim(procs, "--books", "300", "--seed", "3")
    outs = []
    for n, extra in enumerate(([], ["--spec", BOOKS])):
        out = str(tmp_path / ("b%d.jsonl" % n))
        pl = Pipeline(procs, redis, sim.start_url, crawl="b%d" % n)
        pl.start_broker()
        pl.start_writer(out=out)
        pl.start_parser(*extra)
        pl.start_fetcher()
        pl.wait_done(timeout=120)
        docs = {d["_id"]: d for d in jsonl_docs(out)}
        for d in docs.values():
            d.pop("fetched_at")
        outs.append(docs)
    assert len(outs[0]) == len(set(sim.ids()["reachable"]))
    assert outs[0] == outs[1]
    # Issue 14, as JSON Lines shows it: one date shape (ISO strings before 1970 too),
    # lists always lists, no character reference left in a text field.
    pre_1970 = 0
    for d in outs[0].values():
        for f in ("published_at", "updated_at"):
            if d[f] is not None:
                assert isinstance(d[f], dict) and isinstance(d[f]["$date"], str), (f, d[f])
                pre_1970 += d[f]["$date"] < "1970"
        for f in ("authors", "translators", "tags", "comments"):
            assert isinstance(d[f], list), (f, d[f])
        for f in ("name", "introduction", "catalog"):
            assert not re.search(r"&(amp|lt|gt|quot|nbsp|mdash|#39);", d[f] or ""), (f, d[f])
    assert pre_1970 > 0


# A dozen broken specs: (what, spec text, where the mistake is, words of the reason).
BROKEN = [
    ("not JSON", '{"pages": [', "$", "invalid JSON at byte"),
    ("not an object", '["pages"]', "$", "a spec is a JSON object"),
    ("no pages", '{"name": "x"}', "$.pages", "missing"),
    ("empty pages", '{"pages": []}', "$.pages", "must be an array of 1 to"),
    ("typo in a key", '{"pages": [{"match": "/a", "lsit": {}}]}', "$.pages[0]", "unknown key 'lsit'"),
    ("pattern without /", '{"pages": [{"match": "api/x", "list": {"items": "r", "item_url": "{origin}/{id}"}}]}',
     "$.pages[0].match", "must start with '/'"),
    ("list and item", '{"pages": [{"match": "/a", "list": {}, "item": {}}]}', "$.pages[0]",
     "exactly one of list and item"),
    ("no item_url", '{"pages": [{"match": "/a", "list": {"items": "r"}}]}', "$.pages[0].list.item_url", "missing"),
    ("unclosed placeholder", '{"pages": [{"match": "/a", "list": {"items": "r", "item_url": "{origin}/x/{id"}}]}',
     "$.pages[0].list.item_url", "unclosed '{'"),
    ("bad pagination", '{"pages": [{"match": "/a", "list": {"items": "r", "item_url": "/x/{id}", '
     '"paginate": {"type": "scroll"}}}]}', "$.pages[0].list.paginate.type", "unknown pagination 'scroll'"),
    ("offset url without {offset}", '{"pages": [{"match": "/a", "list": {"items": "r", "item_url": "/x/{id}", '
     '"paginate": {"type": "offset", "total": "count", "url": "{origin}/a?limit={limit}"}}}]}',
     "$.pages[0].list.paginate.url", "must hold {offset}"),
    ("unknown type", '{"pages": [{"match": "/a/{id}", "item": {"id": {"from": "id"}, '
     '"fields": [{"name": "t", "type": "strng"}]}}]}', "$.pages[0].item.fields[0].type", "unknown type 'strng'"),
    ("bad date format", '{"pages": [{"match": "/a/{id}", "item": {"id": {"from": "id"}, '
     '"fields": [{"name": "d", "type": "date", "format": "%d/%Q/%Y"}]}}]}',
     "$.pages[0].item.fields[0].format", "unknown conversion '%Q'"),
    ("duplicate field", '{"pages": [{"match": "/a/{id}", "item": {"id": {"from": "id"}, '
     '"fields": [{"name": "t", "type": "string"}, {"name": "t", "type": "integer"}]}}]}',
     "$.pages[0].item.fields[1].name", "already the name of"),
    ("no id", '{"pages": [{"match": "/a/{id}", "item": {"fields": [{"name": "t", "type": "string"}]}}]}',
     "$.pages[0].item.id", "missing"),
    ("same_as not a capture", '{"pages": [{"match": "/a/{id}", "item": {"id": {"from": "id", "same_as": "key"}, '
     '"fields": [{"name": "t", "type": "string"}]}}]}', "$.pages[0].item.id.same_as", "not a capture"),
    ("required not boolean", '{"pages": [{"match": "/a/{id}", "item": {"id": {"from": "id"}, '
     '"fields": [{"name": "t", "type": "string", "required": "yes"}]}}]}', "$.pages[0].item.fields[0]",
     "required must be true or false"),
    ("empty file", "", "$", "empty file"),
]


@pytest.mark.parametrize("what,text,where,words", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_spec_one_clear_line(tmp_path, what, text, where, words):
    path = str(tmp_path / "bad.json")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([bin_path("parser"), "--spec", path, "--check-spec"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 2, (what, r.returncode, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, (what, r.stderr)
    assert r.stdout == ""
    line = lines[0]
    assert line.startswith("zcrawl-parser: error: --spec: %s: %s: " % (path, where)), (what, line)
    assert words in line, (what, line)
    # The parser without --check-spec stops the same way, before it connects anywhere.
    r2 = subprocess.run([bin_path("parser"), "--spec", path, "--broker", "tcp://127.0.0.1:1"],
                        capture_output=True, text=True, timeout=10)
    assert r2.returncode == 2 and r2.stderr.splitlines() == lines


def test_launcher_checks_the_spec_before_anything_starts(tmp_path):
    bad = str(tmp_path / "bad.json")
    with open(bad, "w") as f:
        f.write('{"pages": [{"match": "/a/{id}", "item": {"id": {"from": "id"}, "fields": []}}]}')
    logs = str(tmp_path / "logs")
    r = subprocess.run([bin_path("zcrawl").replace("zcrawl-zcrawl", "zcrawl"), "run", "--spec", bad,
                        "--log-dir", logs, "--out", str(tmp_path / "o.jsonl"), "http://127.0.0.1:9/api/x"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert r.stderr.splitlines() == [
        "zcrawl-parser: error: --spec: %s: $.pages[0].item.fields: must be a non-empty array of fields" % bad]
    assert not os.path.exists(logs) or not os.listdir(logs)  # nothing was started
    assert not os.path.exists(str(tmp_path / "o.jsonl"))
    # a spec that does not exist: one line too
    r = subprocess.run([bin_path("zcrawl").replace("zcrawl-zcrawl", "zcrawl"), "run", "--spec",
                        str(tmp_path / "none.json"), "http://127.0.0.1:9/api/x"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "none.json" in r.stderr, r


def test_shipped_specs_check(tmp_path):
    env = dict(os.environ, GITHUB_TOKEN="t", STRIPE_SECRET_KEY="k")
    specs = [os.path.join(ROOT, "specs", f) for f in sorted(os.listdir(os.path.join(ROOT, "specs")))]
    assert BOOKS in specs and SHELVES in specs and len(specs) >= 5
    for spec in specs:
        r = subprocess.run([bin_path("parser"), "--spec", spec, "--check-spec"], capture_output=True, text=True,
                           timeout=10, env=env)
        assert r.returncode == 0 and r.stderr == "", r


def test_launcher_runs_the_second_api_from_its_spec(procs, tmp_path):
    """zcrawl run --spec passes the spec to every parser: the second API, no C change."""
    sim = Sitesim(procs, "--books", "600", "--seed", "4")
    ids = sim.ids()
    out, logdir = tmp_path / "o.jsonl", tmp_path / "logs"
    r = subprocess.run([bin_path("zcrawl"), "run", "--no-progress", "--spec", SHELVES, "--parsers", "2",
                        "--out", str(out), "--log-dir", str(logdir), "--timeout", "90",
                        sim.base + "/api/v2/records"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    keys = [d["_id"] for d in jsonl_docs(str(out))]
    assert len(keys) > 550 and sorted(keys) == sorted(key_of(i) for i in ids["reachable"])
    parser_logs = [l for l in sorted(os.listdir(str(logdir))) if l.startswith("parser")]
    assert len(parser_logs) == 2, os.listdir(str(logdir))
    for log in parser_logs:
        with open(os.path.join(str(logdir), log)) as f:
            assert "spec=%s" % SHELVES in f.read(), log
