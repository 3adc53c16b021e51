"""The parser while its output is blocked (COMMON.md, HOLD): it keeps the pages it
parsed, in order, up to --max-held-bytes, stops reading beyond that, reports every
URL it has held longer than --hold-ms to the broker in HOLD frames (again every
--hold-ms, at most 1000 URLs a frame), and sends everything once the writer is back.
A pyzmq ROUTER plays the broker (the broker's side of HOLD is built elsewhere)."""
import time

import pytest

from harness import bin_path, free_port, hdr, wait_for

HELLO, PAGE, DOC, HOLD, STATUS = 1, 6, 8, 12, 13


def page(url, body):
    return [hdr(PAGE), url, url, b"200", b"application/json", b"1700000000000", b"3", body]


def held_urls(fb):
    """Every URL named in a HOLD so far, as a list of sets (one per frame)."""
    return [set(f[0].split(b"\n")) for f in fb.of_type(HOLD)]


def start_parser(procs, fb, docs_ep, *extra):
    pages_ep = fb.bind("pages", "push")
    p = procs.start("parser", [bin_path("parser"), "--broker", fb.control_ep, "--pages", pages_ep,
                               "--docs", docs_ep, "--heartbeat-ms", "200"] + list(extra))
    fb.wait(lambda: fb.of_type(HELLO), 10, "HELLO from the parser")
    return p


def test_hold_and_byte_bound_while_the_writer_is_away(procs, fb):
    import zmq
    docs_ep = "tcp://127.0.0.1:%d" % free_port()  # nobody there yet: every DOC must wait
    p = start_parser(procs, fb, docs_ep, "--hold-ms", "400", "--max-held-bytes", "40000")
    urls = [b"http://h.localhost/api/book/%d" % (1000 + i) for i in range(100)]
    t0 = time.time()
    for u in urls:
        body = b'{"id": "%s", "introduction": "%s"}' % (u.rsplit(b"/", 1)[1], b"x" * 3000)
        fb.push("pages", page(u, body))
    fb.wait(lambda: fb.of_type(HOLD), 10, "a HOLD")
    first_hold = time.time() - t0
    assert first_hold >= 0.3, "HOLD after %.2fs, before --hold-ms" % first_hold
    fb.pump(1.5)
    frames = held_urls(fb)
    held = set().union(*frames)
    # Byte-bounded: about 40000 / 3.3 KB documents, the first ones in order; never all.
    assert 5 <= len(held) <= 20, len(held)
    assert held == set(urls[:len(held)]), sorted(held)[:5]
    # Reported again every --hold-ms while still held.
    again = sum(1 for f in frames if urls[0] in f)
    assert again >= 3, again
    assert not fb.pulled.get("docs"), "nothing can have been delivered"
    assert p.poll() is None
    # The broker hears why (COMMON.md STATUS): output_blocked, one line naming the writers.
    st = fb.of_type(STATUS)
    assert st and st[0][0] == b"output_blocked", st
    assert b"pages held" in st[0][1] and b"writers" in st[0][1] and b"\n" not in st[0][1], st[0]

    # The writer comes back: every document arrives once, in order, and HOLDs stop.
    s = fb.ctx.socket(zmq.PULL)
    s.setsockopt(zmq.LINGER, 0)
    s.bind(docs_ep)
    fb.pulls["docs"] = s
    fb.pulled["docs"] = []
    fb.wait(lambda: len(fb.pulled["docs"]) >= len(urls), 20, "every DOC")
    fb.pump(0.5)
    got = [f[1] for f in fb.pulled["docs"]]
    assert got == urls
    n_holds = len(fb.of_type(HOLD))
    fb.pump(1.5)
    assert len(fb.of_type(HOLD)) == n_holds, "HOLD after nothing is held any more"
    assert fb.of_type(STATUS)[-1][0] == b"ok", fb.of_type(STATUS)[-3:]
    assert p.poll() is None


def test_hold_frames_carry_at_most_1000_urls(procs, fb):
    docs_ep = "tcp://127.0.0.1:%d" % free_port()
    start_parser(procs, fb, docs_ep, "--hold-ms", "300")
    urls = [b"http://h.localhost/api/book/%d" % (5000 + i) for i in range(1500)]
    for u in urls:
        fb.push("pages", page(u, b'{"id": "%s"}' % u.rsplit(b"/", 1)[1]))
    fb.wait(lambda: set().union(set(), *held_urls(fb)) >= set(urls), 20, "every URL in a HOLD")
    frames = held_urls(fb)
    assert all(0 < len(f) <= 1000 for f in frames), [len(f) for f in frames]
    assert len(frames) >= 2


@pytest.mark.parametrize("lease_ms,refetched", [(1500, False), (10800000, True)], ids=["hold", "no-hold"])
def test_real_broker_keeps_the_leases_of_held_pages(procs, redis, lease_ms, refetched):
    """With the real broker: the parser holds every document (no writer anywhere),
    its HOLDs (every third of the lease it is told) keep their leases (1.5 s) open
    for 6 s, so no page is fetched twice; a parser told a lease of hours HOLDs too
    late, the leases run out and the pages are fetched again."""
    from harness import Pipeline, Sitesim
    sim = Sitesim(procs, "--books", "100")
    pl = Pipeline(procs, redis, sim.start_url, broker_args=["--lease-ms", "1500"])
    pl.start_broker()
    dead_docs = "tcp://127.0.0.1:%d" % free_port()
    pl.start_parser("--lease-ms", str(lease_ms), "--docs", dead_docs)
    pl.start_fetcher()
    t0 = time.time()
    reachable = len(sim.ids()["reachable"])
    if refetched:  # without HOLDs, leases of 1.5 s run out: wait for a page fetched twice
        wait_for(lambda: (lambda st: st["duplicates"] > 0 and st["detail_pages_served"] >= reachable)(sim.stats()),
                 6, "every page fetched, and one again", details=sim.stats)
    else:
        # The sleep is the test's: the HOLDs keep the leases open for 6 s, four times their length.
        time.sleep(max(0, t0 + 6 - time.time()))
    st = sim.stats()
    assert st["detail_pages_served"] >= reachable, st  # every detail page was fetched and is held
    if refetched:
        assert st["duplicates"] > 0, st
    else:
        assert st["duplicates"] == 0, st
        leases = int(redis.cli("ZCARD", pl.key("leases")))
        assert leases == reachable, (leases, reachable)
