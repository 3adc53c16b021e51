"""Issue 24 end to end: `zcrawl run --spec specs/...` crawls GitHub-, Stripe- and Hacker
News-shaped APIs exactly, served by emulators here with the real APIs' details (Link
headers naming the organization by number, page-size limits, 401 without the right
Bearer token, nulls, non-ASCII, HTML entities, HN's deleted item as `null` with 200 and
kids to any depth): every record once, no per-item request where the list holds the
records, no request refused for auth, and the token in no log, output, Redis file or
process argument."""
import glob
import http.server
import json
import os
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from harness import assert_once, bin_path, free_port, hdr, jsonl_ids, wait_for, wait_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPECS = os.path.join(ROOT, "specs")
GH_TOKEN = "ghp_apis_" + "T0k3n" * 6
SK = "sk_test_apis_" + "K3y" * 8


class Api:
    """A real HTTP server on loopback; handle(path, query, headers) returns
    (status, body bytes, extra headers). Records every request (path, status)."""

    def __init__(self, handle):
        self.seen = []
        api = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                if u.path == "/robots.txt":
                    status, body, extra = 404, b"not found", {}
                else:
                    status, body, extra = handle(u.path, urllib.parse.parse_qs(u.query), self.headers)
                api.seen.append((self.path, status, self.headers.get("Authorization")))
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.origin = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def api_requests(self):
        return [s for s in self.seen if not s[0].startswith("/robots.txt")]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def dump(o):
    return json.dumps(o, ensure_ascii=False).encode()


def unauthorized(headers, token, message):
    if headers.get("Authorization") != "Bearer " + token:
        return (401, dump({"message": message}), {"WWW-Authenticate": 'Bearer realm="api"'})
    return None


# ---- GitHub: GET /orgs/{org}/repos, the next pages at /organizations/{id}/repos ----

GH_REPOS = [{
    "id": 10000 + i, "name": "repo-%d" % i, "full_name": "acme/repo-%d" % i, "owner": {"login": "acme", "id": 9919},
    "description": None if i % 7 == 0 else ("Café ☕ %d &amp; tools" % i if i % 3 == 0 else "日本語 %d" % i),
    "html_url": "https://github.com/acme/repo-%d" % i, "homepage": "https://acme.example/%d" % i if i % 8 == 0 else None, "private": False, "visibility": "public",
    "fork": i % 5 == 0, "archived": False, "language": None if i % 4 == 0 else "C",
    "topics": ["crawler", "zmq"] if i % 2 else [], "license": None if i % 6 == 0 else {"spdx_id": "MIT"},
    "default_branch": "main", "size": i * 10, "stargazers_count": i, "forks_count": i // 2,
    "open_issues_count": i % 9, "created_at": "2020-01-%02dT10:00:00Z" % (i % 28 + 1),
    "updated_at": "2024-02-01T00:00:00Z", "pushed_at": None if i % 11 == 0 else "2024-03-01T12:30:00Z",
} for i in range(1, 73)]


def github(origin_box):
    def handle(path, q, headers):
        refused = unauthorized(headers, GH_TOKEN, "Bad credentials")
        if refused:
            return refused
        if path not in ("/orgs/acme/repos", "/organizations/9919/repos"):
            return 404, dump({"message": "Not Found"}), {}
        per = min(int(q.get("per_page", ["30"])[0]), 100)  # GitHub's limit: 100
        page = int(q.get("page", ["1"])[0])
        last = (len(GH_REPOS) + per - 1) // per
        rows = GH_REPOS[(page - 1) * per:page * per]
        base = origin_box[0] + "/organizations/9919/repos?per_page=%d&page=" % per
        links = []
        if page < last:
            links += ['<%s%d>; rel="next"' % (base, page + 1), '<%s%d>; rel="last"' % (base, last)]
        if page > 1:
            links += ['<%s1>; rel="first"' % base, '<%s%d>; rel="prev"' % (base, page - 1)]
        return 200, dump(rows), ({"Link": ", ".join(links)} if links else {})
    return handle


# ---- Stripe: GET /v1/customers, has_more and starting_after ----

STRIPE = [{
    "id": "cus_%05dZ" % i, "object": "customer", "email": None if i % 6 == 0 else "c%d@example.com" % i,
    "name": None if i % 5 == 0 else ("Zoë Ångström %d" % i if i % 2 else "O&#39;Brien %d" % i),
    "description": "VIP" if i == 7 else None, "phone": "+41 44 000 00 %02d" % i if i % 10 == 0 else None,
    "created": 1700000000 + i, "balance": -i if i % 3 == 0 else 0,
    "currency": "eur", "delinquent": False, "livemode": False,
    "address": None if i % 4 else {"city": "Zürich", "country": "CH", "line1": None},
    "shipping": {"name": "Zoë"} if i == 3 else None, "metadata": {"n": str(i)}, "preferred_locales": ["de-CH"], "invoice_prefix": "P%04d" % i,
    "tax_exempt": "none",
} for i in range(1, 58)]


def stripe(path, q, headers):
    refused = unauthorized(headers, SK, "Invalid API Key provided")
    if refused:
        return refused
    if path != "/v1/customers":
        return 404, dump({"error": {"type": "invalid_request_error"}}), {}
    limit = min(max(int(q.get("limit", ["10"])[0]), 1), 100)  # Stripe's: 1 to 100
    start = 0
    if "starting_after" in q:
        start = [c["id"] for c in STRIPE].index(q["starting_after"][0]) + 1
    rows = STRIPE[start:start + limit]
    return 200, dump({"object": "list", "url": "/v1/customers", "data": rows,
                      "has_more": start + limit < len(STRIPE)}), {}


# ---- Hacker News: /v0/topstories.json, /v0/item/{id}.json ----

def hn_items():
    """Stories whose comments nest 6 deep; item 500 deleted (null), 501 "deleted": true."""
    items, top = {}, []
    nid = [1000]

    def comment(parent, depth):
        nid[0] += 1
        i = nid[0]
        kids = [comment(i, depth + 1) for _ in range(2 if depth < 2 else 1)] if depth < 6 else []
        items[i] = {"by": "ü%d" % i, "id": i, "parent": parent, "time": 1175714200 + i, "type": "comment",
                    "text": "It&#x27;s <i>deep</i> %d<p>2nd &amp; last" % depth}
        if kids:
            items[i]["kids"] = kids
        if i % 17 == 0:
            items[i]["dead"] = True
        return i

    for s in range(1, 6):
        kids = [comment(s, 1) for _ in range(2)]
        items[s] = {"by": "pg", "descendants": 10, "id": s, "kids": kids + ([500, 501] if s == 1 else []),
                    "score": 100 + s, "time": 1175714200, "title": "Story № %d" % s, "type": "story",
                    "url": "http://example.com/%d" % s}
        top.append(s)
    items[501] = {"deleted": True, "id": 501, "parent": 1, "time": 1175714300, "type": "comment"}
    return top, items


HN_TOP, HN_ITEMS = hn_items()


def hackernews(path, q, headers):
    if path == "/v0/topstories.json":
        return 200, dump(HN_TOP), {}
    if path.startswith("/v0/item/") and path.endswith(".json"):
        i = int(path[len("/v0/item/"):-len(".json")])
        return 200, (b"null" if i not in HN_ITEMS else dump(HN_ITEMS[i])), {}
    return 404, b"null", {}


# ---- the crawl ----

def crawl(tmp_path, spec, start, env, *extra):
    """zcrawl run --spec SPEC START in tmp_path, watching every process's argv for the
    secrets meanwhile. Returns (CompletedProcess, out path, secrets seen in an argv)."""
    out, logdir = tmp_path / "out.jsonl", tmp_path / "logs"
    e = {k: v for k, v in os.environ.items() if not k.startswith("ZCRAWL") and k != "MONGODB_URI"}
    e.pop("GITHUB_TOKEN", None)
    e.pop("STRIPE_SECRET_KEY", None)
    e.update(env)
    argv = [bin_path("zcrawl"), "run", "--no-progress", "--spec", os.path.join(SPECS, spec), "--out", str(out),
            "--log-dir", str(logdir), "--timeout", "90"] + list(extra) + [start]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=str(tmp_path))
    in_argv = set()
    secrets = [v for v in env.values()]
    while p.poll() is None:  # ps: every process's arguments, as often as we can
        for path in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(path, "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            in_argv.update(s for s in secrets if s in cmd)
        try:
            p.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            pass
    so, se = p.communicate()
    r = subprocess.CompletedProcess(argv, p.returncode, so, se)
    return r, out, in_argv


def assert_secret_nowhere(tmp_path, r, secret, in_argv):
    assert secret not in in_argv, "the token was in a process's arguments"
    assert secret not in r.stdout + r.stderr
    hits, seen = [], 0
    for path in all_files(tmp_path):  # logs, out, dead/gone, Redis' files in the state folder
        seen += 1
        with open(path, "rb") as f:
            if secret.encode() in f.read():
                hits.append(path)
    assert not hits, "the token is written in %s" % hits
    assert seen >= 5, list(all_files(tmp_path))


def all_files(top):
    """Every file below top, hidden folders (the state folder .zcrawl) included."""
    for d, _, files in os.walk(str(top)):
        for f in files:
            yield os.path.join(d, f)


def out_docs(out):
    with open(out, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_github_repos_every_record_once_from_the_list_pages(tmp_path):
    box = [""]
    api = Api(github(box))
    box[0] = api.origin
    try:
        r, out, in_argv = crawl(tmp_path, "github-repos.json", api.origin + "/orgs/acme/repos?per_page=30",
                                {"GITHUB_TOKEN": GH_TOKEN})
        assert r.returncode == 0, r.stdout + r.stderr
        docs = out_docs(out)
        assert_once([d["_id"] for d in docs], {str(x["id"]) for x in GH_REPOS})
        reqs = api.api_requests()
        # the three list pages only (72 repos, 30 a page): no request per repository
        assert sorted(p for p, _, _ in reqs) == sorted(["/orgs/acme/repos?per_page=30",
                                                       "/organizations/9919/repos?per_page=30&page=2",
                                                       "/organizations/9919/repos?per_page=30&page=3"]), reqs
        assert [s for _, s, _ in reqs] == [200] * 3, reqs  # none refused for auth
        by = {d["_id"]: d for d in docs}
        assert by["10003"]["description"] == "Café ☕ 3 &amp; tools"  # as GitHub sends it: a string
        assert by["10007"]["description"] is None and by["10006"]["license"] is None
        assert by["10001"]["topics"] == ["crawler", "zmq"] and by["10002"]["topics"] == []
        assert "72 documents written" in r.stdout, r.stdout
        assert_secret_nowhere(tmp_path, r, GH_TOKEN, in_argv)
    finally:
        api.close()


def test_github_without_the_token_is_one_line_before_anything_starts(tmp_path):
    api = Api(github([""]))
    try:
        r, out, _ = crawl(tmp_path, "github-repos.json", api.origin + "/orgs/acme/repos", {})
        assert r.returncode == 2, r.stdout + r.stderr
        assert "environment variable GITHUB_TOKEN is not set" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert api.seen == []
    finally:
        api.close()


def test_stripe_customers_every_record_once_by_has_more(tmp_path):
    api = Api(stripe)
    try:
        r, out, in_argv = crawl(tmp_path, "stripe-customers.json", api.origin + "/v1/customers?limit=20",
                                {"STRIPE_SECRET_KEY": SK})
        assert r.returncode == 0, r.stdout + r.stderr
        docs = out_docs(out)
        assert_once([d["_id"] for d in docs], {c["id"] for c in STRIPE})
        reqs = api.api_requests()
        assert len(reqs) == 3 and all(s == 200 for _, s, _ in reqs), reqs  # 57 customers, 20 a page
        assert all(p.startswith("/v1/customers?") for p, _, _ in reqs), reqs
        by = {d["_id"]: d for d in docs}
        assert by["cus_00001Z"]["name"] == "Zoë Ångström 1" and by["cus_00005Z"]["name"] is None
        assert by["cus_00004Z"]["address"]["city"] == "Zürich" and by["cus_00001Z"]["address"] is None
        assert "57 documents written" in r.stdout, r.stdout
        assert_secret_nowhere(tmp_path, r, SK, in_argv)
    finally:
        api.close()


def test_hackernews_kids_to_any_depth_and_deleted_items_gone(tmp_path):
    api = Api(hackernews)
    try:
        r, out, _ = crawl(tmp_path, "hackernews.json", api.origin + "/v0/topstories.json", {})
        assert r.returncode == 0, r.stdout + r.stderr
        docs = out_docs(out)
        want = {str(i) for i, it in HN_ITEMS.items() if not it.get("deleted")}
        assert_once([d["_id"] for d in docs], want)
        deepest = max(HN_ITEMS)
        assert str(deepest) in {d["_id"] for d in docs}
        by = {d["_id"]: d for d in docs}
        c = by[str(HN_ITEMS[1]["kids"][0])]
        assert c["text"] == "It's deep 1\n2nd & last", c["text"]
        assert by["1"]["title"] == "Story № 1"
        files = [f for f in all_files(tmp_path) if os.path.basename(f) == "gone.jsonl"]
        assert files, (r.stdout, os.listdir(tmp_path))
        with open(files[0]) as f:
            gone = sorted(json.loads(l)["url"] for l in f if l.strip())
        assert gone == [api.origin + "/v0/item/500.json", api.origin + "/v0/item/501.json"], gone
        assert ", 2 gone," in r.stdout, r.stdout
        assert "dead letters: " not in r.stdout
    finally:
        api.close()


# ---- a spec's silent mistakes reach the summary, zcrawl status and /metrics ----

def typo_spec(tmp_path, name, edit):
    with open(os.path.join(SPECS, name)) as f:
        spec = json.load(f)
    edit(spec)
    path = tmp_path / ("typo-" + name)
    path.write_text(json.dumps(spec))
    return str(path)


def test_a_field_null_on_every_document_warns_everywhere_and_exits_1(tmp_path, redis, procs):
    """"from": "stargazers" for "stargazers_count": null on every document. The
    summary warns and exits 1, zcrawl status and /metrics count it; while a page
    is still to come /metrics already shows what the parser reported."""
    def edit(spec):
        for f in spec["pages"][0]["list"]["item"]["fields"]:
            if f["name"] == "stargazers":
                f["from"] = "stargazers"
    spec = typo_spec(tmp_path, "github-repos.json", edit)
    box, gate = [""], threading.Event()
    handle = github(box)

    def gated(path, q, headers):
        if q.get("page") == ["3"]:
            gate.wait(60)
        return handle(path, q, headers)
    api = Api(gated)
    box[0] = api.origin
    port = free_port()
    e = dict(os.environ, GITHUB_TOKEN=GH_TOKEN)
    e = {k: v for k, v in e.items() if not k.startswith("ZCRAWL")}
    argv = [bin_path("zcrawl"), "run", "--no-progress", "--spec", spec, "--redis", redis.uri, "--crawl", "typo",
            "--metrics", "127.0.0.1:%d" % port, "--out", str(tmp_path / "out.jsonl"), "--log-dir",
            str(tmp_path / "logs"), "--timeout", "90", api.origin + "/orgs/acme/repos?per_page=30"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=str(tmp_path))
    try:
        want = 'zcrawl_spec_field_null_total{page="organization repositories",field="stargazers"} 60'

        def scraped():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
                    return want in r.read().decode()
            except OSError:
                return False
        wait_for(scraped, 30, "the parser's counts of the first two pages in /metrics")
        gate.set()
        so, se = p.communicate(timeout=90)
    finally:
        gate.set()
        if p.poll() is None:
            p.kill()
        api.close()
    assert p.returncode == 1, so + se
    assert "crawl complete" in so and "72 documents written" in so, so
    assert ('warning: page "organization repositories": field stargazers null in 72 of 72 documents: '
            'null on every document, a wrong path?') in so, so
    assert "1 warning about the spec" in so, so
    # a field null on some documents is said, not warned
    assert 'page "organization repositories": field description null in 10 of 72 documents\n' in so, so
    st = subprocess.run([bin_path("zcrawl"), "status", "--redis", redis.uri, "--crawl", "typo"],
                        capture_output=True, text=True, timeout=30)
    assert st.returncode == 0, st.stderr
    assert "warning: page \"organization repositories\": field stargazers null in 72 of 72" in st.stdout, st.stdout
    js = subprocess.run([bin_path("zcrawl"), "status", "--json", "--redis", redis.uri, "--crawl", "typo"],
                        capture_output=True, text=True, timeout=30)
    counts = {c["field"]: c for c in json.loads(js.stdout)["spec_counts"] if "field" in c}
    assert counts["stargazers"] == {"page": "organization repositories", "field": "stargazers", "null": 72,
                                    "seen": 72, "swapped": 0, "warning": True}, counts["stargazers"]
    assert counts["name"]["null"] == 0 and counts["name"]["seen"] == 72 and not counts["name"]["warning"]


def test_a_list_whose_every_item_is_skipped_warns_and_exits_1(tmp_path):
    """{id} for {.:digits} on Hacker News' list of bare ids: every item skipped."""
    def edit(spec):
        spec["pages"][0]["list"]["item_url"] = "{origin}/v0/item/{id}.json"
    spec = typo_spec(tmp_path, "hackernews.json", edit)
    api = Api(hackernews)
    try:
        out, logdir = tmp_path / "out.jsonl", tmp_path / "logs"
        r = subprocess.run([bin_path("zcrawl"), "run", "--no-progress", "--spec", spec, "--out", str(out),
                            "--log-dir", str(logdir), "--timeout", "60", api.origin + "/v0/topstories.json"],
                           capture_output=True, text=True, timeout=90, cwd=str(tmp_path),
                           env={k: v for k, v in os.environ.items() if not k.startswith("ZCRAWL")})
    finally:
        api.close()
    assert r.returncode == 1, r.stdout + r.stderr
    assert ('warning: page "story list": all items skipped of 5 for {origin}/v0/item/{id}.json ({id} 5): '
            'every item skipped, a placeholder that names no field?') in r.stdout, r.stdout


def test_the_token_goes_to_the_crawls_origins_only(tmp_path):
    """A Link to another origin in scope (--allow-host): its requests carry no
    Authorization; the start URL's origin gets it on every request."""
    other = Api(lambda path, q, headers: (200, dump(GH_REPOS[60:]), {}))
    box = [""]
    handle = github(box)

    def first(path, q, headers):
        status, body, extra = handle(path, q, headers)
        if q.get("page") == ["2"]:  # page 2 links to the other origin for the rest
            extra = {"Link": '<%s/organizations/9919/repos?per_page=30&page=3>; rel="next"' % other.origin}
            body = dump(GH_REPOS[30:60])
        return status, body, extra
    api = Api(first)
    box[0] = api.origin
    try:
        r, out, in_argv = crawl(tmp_path, "github-repos.json", api.origin + "/orgs/acme/repos?per_page=30",
                                {"GITHUB_TOKEN": GH_TOKEN}, "--allow-host", "127.0.0.1",
                                "--allow-private")  # the other origin is on loopback too, and not named
        assert r.returncode == 0, r.stdout + r.stderr
        assert_once([d["_id"] for d in out_docs(out)], {str(x["id"]) for x in GH_REPOS})
        assert len(api.api_requests()) == 2 and all(a == "Bearer " + GH_TOKEN for _, _, a in api.seen), api.seen
        assert [p for p, _, _ in other.api_requests()] == ["/organizations/9919/repos?per_page=30&page=3"]
        assert all(a is None for _, _, a in other.seen), other.seen  # robots.txt and the page: no token
        assert_secret_nowhere(tmp_path, r, GH_TOKEN, in_argv)
    finally:
        api.close()
        other.close()


# ---- zcrawl-sitesim's GitHub-, Stripe- and HN-shaped APIs (sitesim/sim_apis.c) ----

SIM_TOKEN = "sim_" + "Tok" * 10


@pytest.fixture
def apisim(procs):
    """zcrawl-sitesim with 300 books as repositories, customers and items; its GitHub
    and Stripe paths demand SIM_TOKEN (from its environment, not its arguments)."""
    for _ in range(5):
        port = free_port()
        p = procs.start("sitesim", [bin_path("sitesim"), "--port", str(port), "--books", "300"],
                        env={"ZCRAWL_SITESIM_TOKEN": SIM_TOKEN})
        if wait_port(port, 10, proc=p):
            return "http://127.0.0.1:%d" % port
    raise AssertionError("sitesim did not listen")


def get(url, token=None):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def test_sitesim_apis_answer_as_the_real_ones(apisim):
    st, _, body = get(apisim + "/orgs/acme/repos")
    assert st == 401 and body["message"] == "Bad credentials"
    st, _, body = get(apisim + "/v1/customers", "wrong")
    assert st == 401 and body["error"]["type"] == "invalid_request_error"
    st, h, body = get(apisim + "/orgs/acme/repos?per_page=500", SIM_TOKEN)
    assert st == 200 and len(body) == 100  # per_page above 100 is 100
    assert '/organizations/9919/repos?per_page=100&page=2>; rel="next"' in h["Link"], h
    assert get(apisim + "/v1/customers?limit=101", SIM_TOKEN)[0] == 400  # Stripe: 1 to 100
    st, _, body = get(apisim + "/v1/customers?limit=3", SIM_TOKEN)
    assert st == 200 and body["object"] == "list" and body["has_more"] is True and len(body["data"]) == 3
    st, _, top = get(apisim + "/v0/topstories.json")
    assert st == 200 and len(top) == 10 and all(isinstance(i, int) for i in top)
    st, _, body = get(apisim + "/v0/item/1.json")
    assert st == 200 and body is None  # an unknown item: null, as Firebase answers


def oracle(apisim):
    """What a crawl must find, walked here without zcrawl: repository ids, customer
    ids, live HN items and the gone ones."""
    repos, url = [], apisim + "/orgs/acme/repos?per_page=100"
    while url:
        st, h, body = get(url, SIM_TOKEN)
        repos += [str(r["id"]) for r in body]
        nxt = [l.split(";")[0].strip(" <>") for l in h.get("Link", "").split(",") if 'rel="next"' in l]
        url = nxt[0] if nxt else None
    customers, after = [], None
    while True:
        st, _, body = get(apisim + "/v1/customers?limit=100" + ("&starting_after=" + after if after else ""),
                          SIM_TOKEN)
        customers += [c["id"] for c in body["data"]]
        if not body["has_more"]:
            break
        after = body["data"][-1]["id"]
    live, gone, todo = set(), set(), list(get(apisim + "/v0/topstories.json")[2])
    while todo:
        i = todo.pop()
        it = get(apisim + "/v0/item/%d.json" % i)[2]
        if it is None or it.get("deleted"):
            gone.add(i)
            continue
        live.add(str(i))
        todo += it.get("kids", [])
    return set(repos), set(customers), live, gone


def test_zcrawl_run_crawls_sitesim_apis_exactly(apisim, tmp_path):
    repos, customers, live, gone = oracle(apisim)
    assert len(repos) == len(customers) == 300 and len(live) + len(gone) == 300 and gone
    for spec, start, env, want in (
            ("github-repos.json", "/orgs/acme/repos?per_page=100", {"GITHUB_TOKEN": SIM_TOKEN}, repos),
            ("stripe-customers.json", "/v1/customers?limit=100", {"STRIPE_SECRET_KEY": SIM_TOKEN}, customers),
            ("hackernews.json", "/v0/topstories.json", {}, live)):
        d = tmp_path / spec.split(".")[0]
        d.mkdir()
        r, out, in_argv = crawl(d, spec, apisim + start, env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert_once([doc["_id"] for doc in out_docs(out)], want)
        assert "%d documents written" % len(want) in r.stdout, r.stdout
        assert "dead letters: " not in r.stdout  # a 401 would be one
        if env:
            assert_secret_nowhere(d, r, SIM_TOKEN, in_argv)
        else:
            assert ", %d gone," % len(gone) in r.stdout, r.stdout


# ---- the writer's side of a page's documents and URLs (docs/PROTOCOL.md) ----

def test_writer_closes_a_page_of_documents_with_its_urls(procs, fb, tmp_path):
    """A DOC with a fourth frame: the page's documents one after another and its
    URLs. The writer writes them all, then says DISCOVERED (url, urls, documents)
    and no WRITTEN; a page with one bad document is DEAD whole, nothing written;
    a page whose documents come with no URL closes with an empty list."""
    import bson
    HELLO, DOC, WRITTEN, DEAD, DISCOVERED = 1, 8, 9, 10, 7
    out = tmp_path / "out.jsonl"
    docs_ep = fb.bind("docs", "push")
    p = procs.start("writer", [bin_path("writer"), "--broker", fb.control_ep, "--docs", docs_ep, "--out", str(out),
                               "--heartbeat-ms", "200", "--batch-ms", "50", "--batch", "2"])
    fb.wait(lambda: fb.of_type(HELLO), 10, "HELLO from the writer")
    page1 = b"".join(bson.encode({"_id": "r%d" % i, "name": "Zoë %d" % i}) for i in range(5))
    bad = bson.encode({"_id": "b1"}) + bson.encode({"name": "no id"})
    fb.push("docs", [hdr(DOC), b"http://x/list?page=1", page1, b"", b"http://x/list?page=2"])
    fb.push("docs", [hdr(DOC), b"http://x/list?page=9", bad, b"", b"http://x/list?page=10"])
    fb.push("docs", [hdr(DOC), b"http://x/list?page=2", bson.encode({"_id": "r9"}), b"", b""])
    fb.wait(lambda: len(fb.of_type(DISCOVERED)) >= 2 and fb.of_type(DEAD), 20, "two DISCOVERED and a DEAD")
    fb.pump(0.3)
    assert p.poll() is None, procs.log(p)[-3000:]
    # url, urls, documents, and the DOC's proof of lease ("" here: no crawl secret)
    assert fb.of_type(DISCOVERED) == [[b"http://x/list?page=1", b"http://x/list?page=2", b"5", b""],
                                      [b"http://x/list?page=2", b"", b"1", b""]]
    assert fb.of_type(WRITTEN) == []
    assert [f[0] for f in fb.of_type(DEAD)] == [b"http://x/list?page=9"]
    assert sorted(jsonl_ids(str(out))) == ["r0", "r1", "r2", "r3", "r4", "r9"]
