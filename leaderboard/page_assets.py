"""The inline style sheet and script of the leaderboard HTML page (`leaderboard.html_page`).

The script shows one view (tab) at a time, chosen by the URL's #fragment (#means,
#runs; no element has these ids, so the page does not jump), and sorts a table by the
clicked header: numbers numerically (metrics start from the highest), text
alphabetically, empty cells last in both directions, ties in the page's order.
Without the script every view is shown, in the page's order.
"""

STYLE = """
:root {
  --ink: #1f2430; --muted: #5d6677; --line: #dde1e8; --paper: #ffffff; --page: #f3f5f8;
  --ours: #1d5fd1; --ours-bg: #e3edff; --pub: #8a4b00; --pub-bg: #fdf0dc;
  --exact: #17683a; --exact-bg: #e1f5e8; --ader: #9a3412; --ader-bg: #fde8dd;
  --paperdef: #6b2fb3; --paperdef-bg: #efe5fb;
  --g-run: #eef1f6; --g-image: #e6efff; --g-pixel: #e4f4ec; --g-threshold: #fff3dc;
  --g-mad: #f1e8fc; --g-provenance: #eef0f2; --head-h: 1.9rem;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header.top { padding: 1.1rem 1.5rem 0.4rem; }
h1 { margin: 0; font-size: 1.45rem; letter-spacing: -0.01em; }
.subtitle { margin: 0.15rem 0 0; color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 0.35rem 1.1rem; margin: 0.6rem 0 0;
  color: var(--muted); font-size: 0.8rem; }
.legend span.item { white-space: nowrap; }
nav.tabs { display: flex; gap: 0.3rem; padding: 0 1.5rem; margin-top: 0.7rem;
  border-bottom: 1px solid var(--line); }
nav.tabs a { padding: 0.45rem 0.95rem; border: 1px solid transparent; border-bottom: none;
  border-radius: 0.45rem 0.45rem 0 0; color: var(--muted); text-decoration: none;
  font-weight: 600; margin-bottom: -1px; }
nav.tabs a[aria-selected="true"] { background: var(--paper); color: var(--ink);
  border-color: var(--line); }
nav.tabs .n { display: inline-block; margin-left: 0.35rem; padding: 0 0.4rem;
  border-radius: 0.6rem; background: var(--line); font-size: 0.75rem; color: var(--ink); }
main { padding: 0.9rem 1.5rem 1.5rem; }
.view > p.intro { margin: 0 0 0.8rem; color: var(--muted); max-width: 75rem; font-size: 0.85rem; }
section.board { background: var(--paper); border: 1px solid var(--line); border-radius: 0.6rem;
  margin: 0 0 1.1rem; box-shadow: 0 1px 2px rgba(20, 30, 50, 0.05); }
section.board > h2 { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem;
  margin: 0; padding: 0.6rem 0.9rem 0.1rem; font-size: 1rem; }
section.board > h2 .split { color: var(--muted); font-weight: 600; }
section.board > h2 .count { color: var(--muted); font-weight: 400; font-size: 0.8rem; }
section.board > p.caption { margin: 0; padding: 0 0.9rem 0.5rem; color: var(--muted);
  font-size: 0.8rem; }
.scroll { overflow: auto; max-height: 78vh; border-top: 1px solid var(--line);
  border-radius: 0 0 0.6rem 0.6rem; }
table { border-collapse: separate; border-spacing: 0; font-size: 0.78rem; width: 100%; }
th, td { padding: 0.2rem 0.32rem; white-space: nowrap; border-bottom: 1px solid var(--line); }
td { font-variant-numeric: tabular-nums; }
td.num { text-align: right; }
thead th { position: sticky; top: 0; z-index: 2; background: var(--g-run); font-weight: 600;
  text-align: center; }
thead tr.groups th { height: var(--head-h); text-transform: uppercase; font-size: 0.68rem;
  letter-spacing: 0.06em; color: var(--muted); border-left: 2px solid var(--paper); }
thead tr.keys th { top: var(--head-h); white-space: normal; line-height: 1.15;
  vertical-align: bottom; border-left: 1px solid rgba(0, 0, 0, 0.04); }
thead tr.keys th.metric { min-width: 2.9rem; }
th[data-type] { cursor: pointer; user-select: none; }
th[data-type]:hover { color: var(--ours); }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 0.65em; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 0.65em; }
th sub, th sup { font-size: 0.72em; }
.g-run { background: var(--g-run); } .g-image { background: var(--g-image); }
.g-pixel { background: var(--g-pixel); } .g-threshold { background: var(--g-threshold); }
.g-mad { background: var(--g-mad); } .g-provenance { background: var(--g-provenance); }
td.first-of-group, th.first-of-group { border-left: 2px solid var(--line); }
th.method, td.method { position: sticky; left: 0; z-index: 1; text-align: left;
  min-width: 9.5rem; border-right: 2px solid var(--line); }
td.method { background: var(--paper); font-weight: 600; }
thead th.method { z-index: 3; background: var(--g-run); vertical-align: middle; }
tbody tr:hover td { background: #f7f9fc; }
tbody tr.reported td.method { background: #fffaf2; }
tbody tr.reported:hover td.method, tbody tr:hover td.method { background: #f7f9fc; }
td.text { color: var(--muted); }
td.clip { max-width: 6.5rem; overflow: hidden; text-overflow: ellipsis; }
td.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.72rem; }
td.empty::before { content: "\\2013"; color: #b8bec9; }
td.best { font-weight: 700; color: #0b3d91; }
.sd { display: block; font-size: 0.66rem; color: var(--muted); line-height: 1; }
.badge { display: inline-block; padding: 0.02rem 0.38rem; margin-left: 0.35rem;
  border-radius: 0.7rem; font-size: 0.66rem; font-weight: 700; letter-spacing: 0.02em;
  vertical-align: 0.08em; border: 1px solid transparent; }
.legend .badge, h2 .badge { margin-left: 0; }
.src-run { color: var(--ours); background: var(--ours-bg); }
.src-reported { color: var(--pub); background: var(--pub-bg); }
.def-adbench-1 { color: var(--exact); background: var(--exact-bg); }
.def-ader { color: var(--ader); background: var(--ader-bg); }
.def-ader-paper { color: var(--paperdef); background: var(--paperdef-bg); }
.ds { display: inline-block; padding: 0.05rem 0.55rem; border-radius: 0.35rem;
  font-weight: 700; background: #e9ecf1; color: var(--ink); }
.ds-real { background: #0f5e57; color: #fff; }
.ds-other { background: #fff4d6; color: #7a4b00; border: 1px dashed #d99a00; }
p.empty { color: var(--muted); font-style: italic; }
footer { padding: 0 1.5rem 1.5rem; color: var(--muted); font-size: 0.78rem; max-width: 80rem; }
"""

SCRIPT = """
(function () {
  var views = Array.prototype.slice.call(document.querySelectorAll("section.view"));
  var tabs = Array.prototype.slice.call(document.querySelectorAll("nav.tabs a"));
  function show(id) {
    var chosen = views.filter(function (v) { return v.dataset.view === id; })[0] || views[0];
    views.forEach(function (v) { v.hidden = v !== chosen; });
    tabs.forEach(function (a) {
      a.setAttribute("aria-selected", String(a.getAttribute("href") === "#" + chosen.dataset.view));
    });
  }
  tabs.forEach(function (a) {
    a.addEventListener("click", function (event) {
      event.preventDefault();
      var id = a.getAttribute("href").slice(1);
      try { history.replaceState(null, "", "#" + id); } catch (e) { }
      show(id);
    });
  });
  if (views.length) { show(location.hash.slice(1)); }

  function sortBy(table, th) {
    var column = Number(th.dataset.col);
    var numeric = th.dataset.type === "number";
    var current = th.getAttribute("aria-sort");
    var first = th.dataset.first || "ascending";
    var direction = current ? (current === "ascending" ? "descending" : "ascending") : first;
    table.querySelectorAll("th[aria-sort]").forEach(function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", direction);
    var sign = direction === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
      if (x === "" || y === "") {
        if (x !== y) { return x === "" ? 1 : -1; }
        return a.dataset.order - b.dataset.order;
      }
      var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return order ? sign * order : a.dataset.order - b.dataset.order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th[data-type]").forEach(function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th); });
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sortBy(table, th);
        }
      });
    });
  });
})();
"""
