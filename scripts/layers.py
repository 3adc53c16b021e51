#!/usr/bin/env python3
"""layers.py -- checks that the C files call each other one way only.

Reads the call graph between files from the object files of a build (`nm`: the
symbols a file defines and the ones it uses), and fails when
  - two files of a folder call each other, directly or through a circle of files
    (in the folders of LAYERS and NO_CIRCLES);
  - a folder declared in LAYERS below has a call that does not go down its layers
    (a file may call only files of a lower layer, never one beside it or above);
  - a file of a declared folder is in no layer (a new module: put it in one).
Calls through a function pointer (a hook the caller installs) are not seen: they
are the way an upper layer lets a lower one call back.

usage: layers.py [--report] [BUILD_DIR]   (BUILD_DIR: build, or build/asan)
  --report  also prints the folders not checked."""
import os
import subprocess
import sys

# Each declared folder's layers, top first. A file calls only files of the
# layers below its own. One name per module (its .c without the extension).
LAYERS = {
    "broker": [
        ["main"],  # the process: open, the turn, close
        ["conf", "control", "jobs", "maintain", "security_line"],  # the flags; the turn's steps; the first line
        ["report", "counts"],  # the reports that close leases, live and replayed; a spec's counters
        ["guard", "crawl"],  # the guards' lifetime and tick; a crawl's start, meta and end
        ["liveness", "guard_refuse", "guard_credit", "guard_scope", "guard_robots", "guard_timeout"],  # policy
        ["peer_io", "outage", "status_peers"],  # peer I/O; Redis-outage state; the peers for the status page
        ["broker", "streamer", "metrics"],  # the lifetime struct's helpers; threads
        ["status_page"],  # the status page and /status.json, served by metrics
        ["frontier", "frontier_meta", "dispatch"],  # Redis steps (Lua), the crawl's meta; work in hand
        ["frontier_cmd"],  # the Redis command layer: MOVED, EVALSHA, NOSCRIPT
    ],
    "fetcher": [
        ["main"],  # flags, then new/run/free
        ["fetch_loop"],  # the process: each turn waits, feeds curl, reports, gives credit, starts JOBs
        ["fetch_link", "fetch_pages"],  # the broker link (JOB in, DONE/CREDIT out); PAGE out
        ["fetch_xfer", "fetch_event"],  # the transfers; epoll and the multi handle
        ["fetch_guard", "fetch_redirect", "fetch_outcome", "fetch_config", "fetch_spec"],  # the SSRF guard; redirects; outcomes; the spec's headers and their origins
    ],
    "parser": [
        ["main"],  # the process: flags, the spec, setup
        ["parse_run", "parse_try"],  # the loop (PAGE in, DISCOVERED/DOC/DEAD/HOLD out); one page tried
        ["parse_book"],  # the books facade
        ["spec"],  # a spec loaded, a page run through it
        ["spec_list"],  # lists: pagination, the items of a list page
        ["spec_item"],  # items: a document from a JSON object
        ["spec_field", "spec_counts"],  # fields and conversions; nulls and skips counted
        ["spec_tpl"],  # paths, templates, patterns
        ["spec_loader"],  # the spec's JSON read, one-line errors
        ["parse_time", "parse_url", "parse_json"],  # dates; URLs and Link headers; body checks
        ["parse_text", "spec_books"],  # HTML text, entities, numbers; the built-in spec's text
    ],
    "lib": [
        ["zc_peer", "zc_endpoint"],  # a stage's broker link; data sockets on endpoint lists
        ["zc_curve", "zc_crawlstat"],  # CURVE: keys, server and client sockets, the secure-or-explicit rule; a crawl's state read
        ["zc_zap", "zc_cert", "zc_endpoint_list", "zc_flags", "zc_redis", "zc_scope", "zc_headers",
         "zc_proof"],  # ...; zc_proof: proofs of lease (the crawl secret read by zc_secret)
        ["zc_msg", "zc_url", "zc_robots", "zc_addr", "zc_redact", "zc_buf", "zc_json", "zc_utf8", "zc_log",
         "zc_signal", "zc_time", "zc_secret", "zc_strmap"],  # leaves
    ],
}

# Folders whose objects are read (main.o included: it calls the others).
FOLDERS = ["lib", "broker", "fetcher", "parser", "writer", "cli", "sitesim"]
# Folders where a circle of files fails the check besides those of LAYERS.
NO_CIRCLES = ["writer", "cli", "sitesim"]


def symbols(path):
    """(defined, used) global symbols of one object file."""
    out = subprocess.run(["nm", "-g", path], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "U":
            used.add(f[1])
        elif len(f) == 3 and f[1] not in "Uw":
            defined.add(f[2])
    return defined, used


def graph(build, folder):
    """{file: set of files of the same folder it calls}, or None without objects."""
    d = os.path.join(build, folder)
    if not os.path.isdir(d):
        return None
    objs = sorted(f for f in os.listdir(d) if f.endswith(".o"))
    if not objs:
        return None
    syms = {o[:-2]: symbols(os.path.join(d, o)) for o in objs}
    owner = {}
    for name, (defs, _) in syms.items():
        for s in defs:
            owner[s] = name
    return {name: {owner[s] for s in used if s in owner and owner[s] != name}
            for name, (_, used) in syms.items()}


def circles(g):
    """The strongly connected components of g with more than one file (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def check_layers(folder, g, layers):
    """The problems of folder's declared layering: files in no layer, calls
    sideways or up."""
    rank = {}
    for i, layer in enumerate(layers):
        for m in layer:
            rank[m] = i
    bad = []
    for f in sorted(g):
        if f not in rank:
            bad.append("%s/%s.c is in no layer: add it to LAYERS[%r] in %s" % (folder, f, folder, __file__))
    for f in sorted(g):
        for t in sorted(g[f]):
            if f in rank and t in rank and rank[t] <= rank[f]:
                way = "beside it" if rank[t] == rank[f] else "above it"
                bad.append("%s/%s.c calls %s.c, %s (layer %d -> %d)" % (folder, f, t, way, rank[f], rank[t]))
    return bad


def main(argv):
    report = "--report" in argv
    args = [a for a in argv if not a.startswith("--")]
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    build = args[0] if args else os.path.join(root, "build")
    failed, seen = 0, 0
    total_circles = total_files = 0
    for folder in FOLDERS:
        g = graph(build, folder)
        if g is None:
            if folder in LAYERS:
                print("layers: no objects in %s/%s: build first (make)" % (build, folder))
                failed = 1
            continue
        seen += 1
        cs = circles(g)
        pairs = sorted((a, b) for a in g for b in g[a] if a < b and a in g[b])
        declared = folder in LAYERS
        checked = declared or folder in NO_CIRCLES
        if cs and (checked or report):
            total_circles += len(cs)
            total_files += sum(len(c) for c in cs)
        if checked or report:
            print("%-8s %2d files, %3d calls between them, %d circles (%d files in them), %d pairs calling "
                  "each other" % (folder, len(g), sum(len(v) for v in g.values()), len(cs),
                                  sum(len(c) for c in cs), len(pairs)))
            for c in cs:
                print("  circle: %s" % " ".join(c))
        bad = check_layers(folder, g, LAYERS[folder]) if declared else []
        for b in bad:
            print("  " + b)
        if checked and (cs or bad):
            failed = 1
    print("total: %d circles, %d files in circles%s" % (total_circles, total_files,
                                                       "" if report else " (checked folders)"))
    if seen == 0:
        print("layers: no objects under %s" % build)
        return 1
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
