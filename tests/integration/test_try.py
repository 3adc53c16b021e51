"""Issue 24 in the parser: `zcrawl try` shows what one page yields under a spec, the
shipped specs of real APIs check, request headers come from the environment and
never show, and a spec's silent mistakes are named in the parser's log."""
import http.server
import json
import os
import subprocess
import threading

import pytest

from harness import Pipeline, Sitesim, bin_path, free_port, wait_exit

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPECS = os.path.join(ROOT, "specs")
FIX = os.path.join(ROOT, "tests", "fixtures", "apis")
SECRET = "ghp_try_" + "S3cr3t" * 4


def zcrawl(*args, env=None, timeout=30):
    e = dict(os.environ)
    for k in ("GITHUB_TOKEN", "STRIPE_SECRET_KEY"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([bin_path("zcrawl")] + list(args), capture_output=True, text=True, timeout=timeout, env=e)


class ApiServer:
    """A real HTTP server on loopback answering GitHub's shape: a page of records and
    a Link header; it records the request headers it saw."""

    def __init__(self, body, link=None, status=200, ctype="application/json; charset=utf-8"):
        self.seen = []
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                srv.seen.append((self.path, dict(self.headers)))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if link:
                    for l in link:
                        self.send_header("Link", l.replace("PORT", str(srv.port)))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def api():
    servers = []

    def make(*a, **kw):
        s = ApiServer(*a, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def test_try_a_book_page_of_the_emulator(procs):
    sim = Sitesim(procs, "--books", "40", "--seed", "5")
    book = sim.ids()["reachable"][0]
    r = zcrawl("try", sim.base + "/api/book/%s" % book)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "rule      book (item)" in out
    assert "status 200" in out
    # every field of the built-in spec has a line: what its path found and what it became
    for f in ("name", "authors", "translators", "publisher", "tags", "isbn", "page_number", "price", "score",
              "published_at", "updated_at", "url", "cover", "introduction", "catalog", "comments"):
        assert any(l.startswith("  %s " % f) and "  ->  " in l for l in out.splitlines()), f
    doc = [l for l in out.splitlines() if l.startswith("doc ")]
    assert len(doc) == 1 and '"_id" : "%s"' % book in doc[0]
    # a list page: the item URLs and, from the first page, the others
    r = zcrawl("try", sim.start_url)
    assert r.returncode == 0, r.stdout + r.stderr
    urls = [l.split()[1] for l in r.stdout.splitlines() if l.startswith("url ")]
    nexts = [l.split()[1] for l in r.stdout.splitlines() if l.startswith("next ")]
    assert len(urls) == 18 and len(nexts) == 2, r.stdout  # 40 books, 18 a page


def test_try_fetches_with_the_spec_headers_and_never_shows_them(api):
    page = json.dumps([{"id": 1296269, "name": "Hello-World", "owner": {"login": "octocat"},
                       "description": "Caf\u00e9 &amp; cr\u00e8me", "license": None, "topics": ["a"],
                       "created_at": "2011-01-26T19:01:12Z"}]).encode()
    srv = api(page, link=['<http://127.0.0.1:PORT/organizations/9919/repos?per_page=1&page=2>; rel="next"',
                          '<http://127.0.0.1:PORT/organizations/9919/repos?per_page=1&page=9>; rel="last"'])
    url = "http://127.0.0.1:%d/orgs/octocat/repos?per_page=1" % srv.port
    r = zcrawl("try", "--spec", os.path.join(SPECS, "github-repos.json"), url, env={"GITHUB_TOKEN": SECRET})
    assert r.returncode == 0, r.stdout + r.stderr
    # the token was sent, as the spec says, and nothing printed holds it
    assert len(srv.seen) == 1
    hdrs = {k.lower(): v for k, v in srv.seen[0][1].items()}
    assert hdrs["authorization"] == "Bearer " + SECRET
    assert hdrs["accept"] == "application/vnd.github+json" and hdrs["x-github-api-version"] == "2022-11-28"
    assert SECRET not in r.stdout + r.stderr
    assert "Authorization: Bearer ${GITHUB_TOKEN}" in r.stdout
    # the records are the documents; the next page comes from the Link header, by org id
    docs = [l for l in r.stdout.splitlines() if l.startswith("doc ")]
    assert len(docs) == 1 and '"_id" : "1296269"' in docs[0] and '"owner" : "octocat"' in docs[0]
    assert [l.split()[1] for l in r.stdout.splitlines() if l.startswith("next ")] == [
        "http://127.0.0.1:%d/organizations/9919/repos?per_page=1&page=2" % srv.port]
    assert not [l for l in r.stdout.splitlines() if l.startswith("url ")]  # no per-item request
    # a field whose path finds nothing says so
    lic = [l for l in r.stdout.splitlines() if l.startswith("  license ")]
    assert len(lic) == 1 and "null: nothing at its path" in lic[0], lic


def test_try_exit_codes(api, tmp_path):
    hn = os.path.join(SPECS, "hackernews.json")
    item = "https://hacker-news.firebaseio.com/v0/item/%s.json"
    # a page file needs the URL it came from
    r = zcrawl("try", "--spec", hn, os.path.join(FIX, "hackernews", "item-8863.json"))
    assert r.returncode == 2 and "--page-url" in r.stderr and len(r.stderr.splitlines()) == 1, r
    r = zcrawl("try", "--spec", hn, "--page-url", item % 8863, os.path.join(FIX, "hackernews", "item-8863.json"))
    assert r.returncode == 0 and r.stdout.count("\nurl ") == 5, r.stdout
    # a deleted item (null with status 200) is gone: nothing yielded, exit 1, not a refusal
    r = zcrawl("try", "--spec", hn, "--page-url", item % 39000001, os.path.join(FIX, "hackernews", "item-39000001.json"))
    assert r.returncode == 1 and "result    gone" in r.stdout, r.stdout
    # no rule matches
    r = zcrawl("try", "--spec", hn, "--page-url", "https://hacker-news.firebaseio.com/v0/user/pg.json",
               os.path.join(FIX, "hackernews", "item-8863.json"))
    assert r.returncode == 1 and "no page rule" in r.stdout, r.stdout
    # a refusal says why, as the dead letter would
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "8864", "type": "story"}')
    r = zcrawl("try", "--spec", hn, "--page-url", item % 8863, str(bad))
    assert r.returncode == 1 and "refused: id mismatch (url 8863, body 8864)" in r.stdout, r.stdout
    # a status other than 2xx, and no page at all
    srv = api(b'{"message": "Bad credentials"}', status=401)
    r = zcrawl("try", "--spec", hn, "http://127.0.0.1:%d/v0/item/1.json" % srv.port)
    assert r.returncode == 1 and "status 401" in r.stdout, r.stdout
    r = zcrawl("try", "--spec", hn, "http://127.0.0.1:%d/v0/item/1.json" % free_port())
    assert r.returncode == 1 and "not fetched" in r.stdout, r.stdout
    r = zcrawl("try")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r


def test_silent_mistakes_are_named(tmp_path):
    # issue 24: {ref.cod} in item_url skipped every item with no name; a date format
    # with the day and month swapped was null for days over 12 without a word
    spec = tmp_path / "films.json"
    spec.write_text(json.dumps({"pages": [
        {"name": "films", "match": "/films", "list": {"items": "r", "item_url": "{origin}/films/{ref.cod}"}},
        {"name": "film", "match": "/films/{id}", "item": {"id": {"from": "id"}, "fields": [
            {"name": "votes", "type": "integer"},
            {"name": "released", "type": "date", "format": "%m/%d/%Y"}]}}]}))
    page = tmp_path / "list.json"
    page.write_text(json.dumps({"r": [{"ref": {"code": "a1"}}, {"ref": {"code": "b2"}}]}))
    r = zcrawl("try", "--spec", str(spec), "--page-url", "http://127.0.0.1:1/films", str(page))
    assert r.returncode == 1, r.stdout
    skipped = [l for l in r.stdout.splitlines() if l.startswith("skipped ")]
    assert len(skipped) == 2 and all("{ref.cod} has no usable value" in l for l in skipped), skipped
    film = tmp_path / "film.json"
    film.write_text(json.dumps({"id": "f1", "rating": {"votes": 993}, "released": "31/12/2019"}))
    r = zcrawl("try", "--spec", str(spec), "--page-url", "http://127.0.0.1:1/films/f1", str(film))
    assert r.returncode == 0, r.stdout
    lines = r.stdout.splitlines()
    assert [l for l in lines if l.startswith("  votes ")][0].endswith("null: nothing at its path")
    assert "day-first data, month-first format?" in [l for l in lines if l.startswith("  released ")][0]


def test_parser_log_names_the_placeholder(procs, redis, tmp_path):
    sim = Sitesim(procs, "--books", "60", "--seed", "7")
    spec = tmp_path / "typo.json"
    with open(os.path.join(SPECS, "shelves.json")) as f:
        text = f.read()
    assert "{record.key}" in text
    spec.write_text(text.replace("{record.key}", "{record.kee}"))
    pl = Pipeline(procs, redis, sim.base + "/api/v2/records")
    pl.start_broker()
    pl.start_writer(out=str(tmp_path / "o.jsonl"))
    parser = pl.start_parser("--spec", str(spec))
    pl.start_fetcher()
    pl.wait_done(timeout=120)
    log = procs.log(parser)
    skips = [l for l in log.splitlines() if "event=list_items_skipped" in l]
    assert skips and all("placeholder=record.kee" in l for l in skips), log[-2000:]
    # the parser's counters at its stop (SHUTDOWN at the end of the crawl): every item, by placeholder
    assert wait_exit(parser, 30) == 0
    log = procs.log(parser)
    final = [l for l in log.splitlines() if "event=items_skipped" in l]
    assert final and "placeholder={record.kee}" in final[-1] and "skipped=60 of=60" in final[-1], final


def test_headers_need_their_variables_before_anything_starts(tmp_path):
    gh = os.path.join(SPECS, "github-repos.json")
    r = subprocess.run([bin_path("parser"), "--spec", gh, "--check-spec"], capture_output=True, text=True, timeout=10,
                       env={k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"})
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "zcrawl-parser: error: --spec: %s: $.headers.Authorization: environment variable GITHUB_TOKEN is not set" % gh], r
    env = dict(os.environ, GITHUB_TOKEN=SECRET, STRIPE_SECRET_KEY=SECRET)
    for name in ("github-repos.json", "stripe-customers.json", "hackernews.json"):
        r = subprocess.run([bin_path("parser"), "--spec", os.path.join(SPECS, name), "--check-spec"], capture_output=True,
                           text=True, timeout=10, env=env)
        assert r.returncode == 0 and r.stderr == "" and SECRET not in r.stdout, r
    # the launcher checks the spec (and so its variables) before it starts a process
    logs = tmp_path / "logs"
    r = zcrawl("run", "--spec", gh, "--log-dir", str(logs), "--out", str(tmp_path / "o.jsonl"),
               "http://127.0.0.1:9/orgs/x/repos")
    assert r.returncode == 2 and "environment variable GITHUB_TOKEN is not set" in r.stderr, r
    assert not logs.exists() or not os.listdir(str(logs))
