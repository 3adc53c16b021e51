// status_page.js -- the broker's status page: reads status.json every few seconds
// and fills the page. Every string from Redis or a peer goes in as text
// (textContent, never HTML), so a hostile host name or reason stays text.
"use strict";
(function () {
  var REFRESH_MS = 2000;
  var $ = function (id) { return document.getElementById(id); };
  var fmt = new Intl.NumberFormat("en-US");

  function num(v) { return typeof v === "number" && isFinite(v) ? v : 0; }
  function setText(id, v) { var e = $(id); if (e) e.textContent = v; }
  function setNum(id, v) { setText(id, fmt.format(num(v))); }
  function rate(v) { return num(v).toFixed(1); }
  function secs(ms) {
    ms = num(ms);
    if (ms < 1000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 120000) return Math.round(ms / 1000) + " s";
    if (ms < 7200000) return Math.round(ms / 60000) + " min";
    return Math.round(ms / 3600000) + " h";
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (c) { tr.appendChild(c); });
    return tr;
  }
  function fill(tableId, rows, empty, cols) {
    var tb = $(tableId).tBodies[0];
    while (tb.firstChild) tb.removeChild(tb.firstChild);
    rows.forEach(function (r) { tb.appendChild(r); });
    if (!rows.length) {
      var td = el("td", empty, "muted");
      td.colSpan = cols;
      tb.appendChild(row([td]));
    }
  }

  function problems(s) {
    var list = $("problem_list");
    while (list.firstChild) list.removeChild(list.firstChild);
    (s.problems || []).forEach(function (p) { list.appendChild(el("li", p)); });
    $("problems").hidden = !(s.problems || []).length;
  }

  function cards(s) {
    setText("crawl", s.crawl);
    var st = $("state");
    st.textContent = s.state;
    st.className = "badge " + String(s.state).replace(/[^a-z]/g, "");
    setText("pages_per_s", rate(s.rates && s.rates.fetched_per_s));
    setText("docs_per_s", rate(s.rates && s.rates.written_per_s));
    ["queue_depth", "frontier", "delayed", "leases", "dead_letters", "gone"].forEach(function (k) { setNum(k, s[k]); });
    var p = s.peers || {};
    setNum("fetchers", p.fetcher); setNum("parsers", p.parser); setNum("writers", p.writer);
    setNum("peers_total", num(p.fetcher) + num(p.parser) + num(p.writer));
    var c = $("counters");
    while (c.firstChild) c.removeChild(c.firstChild);
    Object.keys(s.counters || {}).forEach(function (k) {
      var span = el("span", k + " ");
      span.setAttribute("data-counter", k);
      span.appendChild(el("b", fmt.format(num(s.counters[k]))));
      c.appendChild(span);
    });
    var age = s.stats_age_ms === null || s.stats_age_ms === undefined ? "no stats yet" :
      "broker's stats " + secs(s.stats_age_ms) + " old";
    setText("updated", "read " + new Date(num(s.read_at)).toLocaleTimeString() + " · " + age +
            " · redis " + s.redis);
  }

  function hosts(s) {
    var bh = s.by_host || { top: [] };
    var rows = (bh.top || []).map(function (h) {
      var tr = row([el("td", h.host, "host"), el("td", fmt.format(num(h.urls)), "n waiting"),
                    el("td", fmt.format(num(h.leased)), "n leased"),
                    el("td", num(h.backoff_ms) > 0 ? secs(h.backoff_ms) : "–", "n backoff")]);
      tr.setAttribute("data-host", h.host);
      if (num(h.cap) > 0) tr.title = "in-flight cap lowered to " + h.cap;
      return tr;
    });
    fill("hosts", rows, "no URL waits", 4);
    setText("hosts_note", (bh.complete ? "all " : "a sample: ") + fmt.format(num(bh.sampled)) + " waiting URLs on " +
            fmt.format(num(bh.hosts)) + " hosts (" + fmt.format(num(s.hosts_ready)) + " waiting their turn, " +
            fmt.format(num(s.hosts_active)) + " held by the broker); in flight: the host's leases");
  }

  function dead(s) {
    var d = s.dead || { latest: [], by_stage: [] };
    var rows = (d.latest || []).map(function (x) {
      var when = typeof x.time === "number" ? new Date(x.time).toLocaleString() : (x.time || "");
      return row([el("td", when, "when"), el("td", x.stage || "", "stage"), el("td", x.url || x.raw || "", "url"),
                  el("td", x.reason || "", "reason")]);
    });
    fill("dead", rows, "none", 4);
    var stages = (d.by_stage || []).map(function (b) { return b.stage + " " + fmt.format(num(b.urls)); });
    setText("dead_note", fmt.format(num(d.total)) + " in all" + (stages.length ? " · by stage (newest " +
            fmt.format(num(d.scanned)) + "): " + stages.join(", ") : "") + (rows.length ? " · newest first" : ""));
  }

  function peers(s) {
    var order = { fetcher: 0, parser: 1, writer: 2 };
    var list = (s.peer_list || []).slice().sort(function (a, b) {
      return (order[a.role] === undefined ? 9 : order[a.role]) - (order[b.role] === undefined ? 9 : order[b.role]) ||
        String(a.name).localeCompare(String(b.name));
    });
    var rows = list.map(function (p) {
      var state = p.state || "";
      if (p.condition) state += " · " + p.condition + (p.detail ? ": " + p.detail : "");
      var tr = row([el("td", p.role, "role"), el("td", p.name, "name"), el("td", state, "state"),
                    el("td", secs(num(s.read_at) - num(p.seen)) + " ago", "n seen"),
                    el("td", fmt.format(num(p.jobs)), "n jobs")]);
      tr.className = String(p.state || "").replace(/[^a-z]/g, "");
      return tr;
    });
    fill("peers", rows, "no stage connected", 5);
  }

  // A round step for n ticks up to max: 1, 2 or 5 times a power of ten.
  function niceStep(max, n) {
    var raw = max / n, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }

  // One SVG of both rates, drawn in the box's own pixels so its text stays
  // legible; points are [t_ms, pages_per_s, docs_per_s].
  function chart(s) {
    var box = $("chart"), h = s.history || { points: [] }, pts = h.points || [];
    var NS = "http://www.w3.org/2000/svg", W = Math.max(280, box.clientWidth || 600), H = 180, L = 46, R = 8,
        B = 22, T = 10;
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("width", W); svg.setAttribute("height", H);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "pages per second and documents per second over the last minutes");
    var top = 0;
    pts.forEach(function (p) { top = Math.max(top, num(p[1]), num(p[2])); });
    var step = niceStep(Math.max(top, 1), 4), max = Math.max(step, Math.ceil(top / step) * step);
    function line(x1, y1, x2, y2, cls) {
      var l = document.createElementNS(NS, "line");
      l.setAttribute("x1", x1); l.setAttribute("y1", y1); l.setAttribute("x2", x2); l.setAttribute("y2", y2);
      l.setAttribute("class", cls); svg.appendChild(l);
    }
    function text(x, y, t, anchor) {
      var e = document.createElementNS(NS, "text");
      e.setAttribute("x", x); e.setAttribute("y", y); e.setAttribute("text-anchor", anchor || "end");
      e.textContent = t; svg.appendChild(e);
    }
    for (var v = 0; v <= max + step / 2; v += step) {
      var y = T + (H - B - T) * (1 - v / max);
      line(L, y, W - R, y, "axis");
      text(L - 6, y + 4, fmt.format(v));
    }
    if (pts.length > 1) {
      var t0 = num(pts[0][0]), t1 = num(pts[pts.length - 1][0]), span = Math.max(1, t1 - t0);
      [1, 2].forEach(function (k) {
        var d = pts.map(function (p, j) {
          var x = L + (W - R - L) * (num(p[0]) - t0) / span, yy = T + (H - B - T) * (1 - num(p[k]) / max);
          return (j ? "L" : "M") + x.toFixed(1) + " " + yy.toFixed(1);
        }).join(" ");
        var path = document.createElementNS(NS, "path");
        path.setAttribute("d", d); path.setAttribute("class", "l" + k); svg.appendChild(path);
      });
      text(L, H - 5, secs(span) + " ago", "start");
      text(W - R, H - 5, "now");
      setText("chart_span", "· the last " + secs(span) + ", a point every " + secs(h.interval_ms));
    } else {
      text((W + L) / 2, H / 2, "collecting…", "middle");
    }
    while (box.firstChild) box.removeChild(box.firstChild);
    box.appendChild(svg);
  }

  function show(s) {
    problems(s); cards(s); hosts(s); dead(s); peers(s); chart(s);
    document.title = "zcrawl " + s.crawl + " · " + s.state;
    document.body.setAttribute("data-read-at", String(s.read_at));
  }

  function refresh() {
    fetch("status.json", { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) return r.text().then(function (t) { throw new Error(r.status + " " + t.trim()); });
        return r.json();
      })
      .then(show)
      .catch(function (e) { setText("updated", "cannot read the crawl: " + e.message); })
      .then(function () { setTimeout(refresh, REFRESH_MS); });
  }
  refresh();
})();
