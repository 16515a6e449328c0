"""The report page's inline style sheet (`adbench.report.page`); the page has no script."""

STYLE = """
:root {
  --ink: #1c2230; --muted: #5f6878; --faint: #8a93a3; --line: #e0e4eb; --paper: #ffffff;
  --page: #f2f4f7; --image: #1d5fd1; --pixel: #d9480f; --normal: #5b6b82;
  --anomalous: #d6336c; --good: #17683a; --mask: #2fbf71; --pred: #ff3030;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
a { color: var(--image); }
header.top { background: linear-gradient(120deg, #14213d 0%, #1d3a70 60%, #24508f 100%);
  color: #fff; padding: 1.3rem 2rem 1.1rem; }
header.top .kicker { text-transform: uppercase; letter-spacing: 0.12em; font-size: 0.72rem;
  opacity: 0.75; margin: 0; }
header.top h1 { margin: 0.15rem 0 0.5rem; font-size: 1.6rem; letter-spacing: -0.01em;
  word-break: break-all; }
dl.provenance { display: flex; flex-wrap: wrap; gap: 0.2rem 1.3rem; margin: 0;
  font-size: 0.8rem; }
dl.provenance div { display: flex; gap: 0.35rem; min-width: 0; }
dl.provenance dt { opacity: 0.7; }
dl.provenance dd { margin: 0; font-weight: 600; word-break: break-all; }
nav.toc { position: sticky; top: 0; z-index: 10; background: rgba(255, 255, 255, 0.96);
  border-bottom: 1px solid var(--line); padding: 0.45rem 2rem; display: flex; gap: 0.4rem;
  flex-wrap: wrap; font-size: 0.82rem; backdrop-filter: blur(4px); }
nav.toc a { text-decoration: none; color: var(--muted); padding: 0.12rem 0.6rem;
  border-radius: 1rem; border: 1px solid var(--line); white-space: nowrap; }
nav.toc a:hover { color: var(--ink); border-color: #b9c1ce; }
main { padding: 1.2rem 2rem 2rem; max-width: 1500px; margin: 0 auto; }
section.card { background: var(--paper); border: 1px solid var(--line); border-radius: 0.7rem;
  padding: 1rem 1.2rem 1.2rem; margin: 0 0 1.3rem; box-shadow: 0 1px 2px rgba(20, 30, 50, 0.05);
  scroll-margin-top: 3rem; }
section.card > h2 { margin: 0 0 0.2rem; font-size: 1.15rem; display: flex; flex-wrap: wrap;
  align-items: baseline; gap: 0.3rem 0.8rem; }
section.card > h2 .count { font-size: 0.8rem; font-weight: 400; color: var(--muted); }
h3 { font-size: 0.95rem; margin: 1.1rem 0 0.4rem; }
p.lead { margin: 0 0 0.8rem; color: var(--muted); font-size: 0.85rem; max-width: 70rem; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(10.5rem, 1fr));
  gap: 0.7rem; margin: 0.4rem 0 1rem; }
.tile { border: 1px solid var(--line); border-radius: 0.6rem; padding: 0.55rem 0.8rem;
  background: #fafbfd; }
.tile .name { font-size: 0.75rem; color: var(--muted); }
.tile .value { font-size: 1.65rem; font-weight: 700; letter-spacing: -0.02em;
  font-variant-numeric: tabular-nums; line-height: 1.2; }
.tile .ci { font-size: 0.72rem; color: var(--faint); font-variant-numeric: tabular-nums; }
.tile.image { border-top: 3px solid var(--image); }
.tile.pixel { border-top: 3px solid var(--pixel); }
.tile.all { border-top: 3px solid #6b2fb3; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.8rem; width: 100%; }
th, td { padding: 0.3rem 0.45rem; border-bottom: 1px solid var(--line); text-align: right;
  white-space: nowrap; font-variant-numeric: tabular-nums; }
th { font-weight: 600; background: #f6f8fb; vertical-align: bottom; }
th sub, th sup { font-size: 0.7em; }
th.group { text-align: center; font-size: 0.68rem; text-transform: uppercase;
  letter-spacing: 0.08em; color: var(--muted); border-bottom: 2px solid var(--line); }
th.g-image { border-bottom-color: var(--image); } th.g-pixel { border-bottom-color: var(--pixel); }
th.g-threshold { border-bottom-color: #c99400; } th.g-mad { border-bottom-color: #6b2fb3; }
td.name, th.name { text-align: left; font-weight: 600; white-space: normal; min-width: 7rem;
  max-width: 20rem; word-break: break-word; }
td.name a { color: var(--ink); text-decoration: none; border-bottom: 1px dotted var(--faint); }
td.count { color: var(--muted); }
td.metric .ci { display: block; font-size: 0.66rem; color: var(--faint); line-height: 1.1; }
td.undefined { color: #b8bec9; }
.inline-ci { font-size: 0.7rem; color: var(--faint); margin-left: 0.2rem; }
table.categories td, table.categories th { padding: 0.2rem 0.5rem; }
table.categories th { white-space: normal; line-height: 1.2; }
table.categories td.name { white-space: nowrap; }
span.id { font-weight: 400; font-size: 0.7rem; color: var(--faint); }
.split { display: grid; grid-template-columns: minmax(0, 1.15fr) minmax(0, 1fr); gap: 1.2rem;
  align-items: start; }
tr.mean td { font-weight: 700; border-top: 2px solid #c9d0db; background: #f9fafc; }
tr.mean td.metric .ci { font-weight: 400; }
.plots { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.6rem 1rem;
  align-items: start; }
.plots.two { grid-template-columns: repeat(2, minmax(0, 1fr)); margin-top: 0.4rem; }
figure.plot { margin: 0; }
svg.plot { width: 100%; height: auto; display: block; }
.chips { display: flex; flex-wrap: wrap; gap: 0.35rem; margin: 0.2rem 0 0.8rem; }
.chip { font-size: 0.75rem; padding: 0.1rem 0.55rem; border-radius: 1rem; background: #eef1f6;
  color: var(--ink); font-variant-numeric: tabular-nums; }
.chip b { font-weight: 700; }
.chip.image { background: #e6efff; } .chip.pixel { background: #fdebe2; }
.chip.all { background: #f1e8fc; }
p.threshold { font-size: 0.8rem; color: var(--muted); margin: 0.6rem 0 0.3rem; }
.legend-swatch { display: inline-block; width: 0.75rem; height: 0.75rem; border-radius: 0.15rem;
  vertical-align: -0.1rem; margin: 0 0.2rem 0 0.5rem; }
.swatch-mask { background: var(--mask); } .swatch-pred { border: 2px solid var(--pred); }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(30rem, 1fr));
  gap: 0.8rem; }
.example { border: 1px solid var(--line); border-radius: 0.55rem; padding: 0.5rem;
  background: #fbfcfe; }
.example.fp { border-left: 4px solid var(--normal); }
.example.fn { border-left: 4px solid var(--anomalous); }
.example .panels { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.3rem; }
.example .panels.no-photo { grid-template-columns: repeat(2, minmax(0, 1fr)); }
.example img { width: 100%; height: auto; display: block; border-radius: 0.25rem;
  background: #222; }
.example .caption { font-size: 0.75rem; margin-top: 0.35rem; display: flex; flex-wrap: wrap;
  gap: 0.15rem 0.7rem; color: var(--muted); }
.example .caption .key { color: var(--ink); font-weight: 600; word-break: break-all; }
.example .label { font-size: 0.62rem; text-transform: uppercase; letter-spacing: 0.07em;
  color: var(--faint); margin-bottom: 0.1rem; }
p.none { color: var(--muted); font-style: italic; font-size: 0.85rem; }
ul.notes { margin: 0; padding-left: 1.2rem; color: var(--muted); font-size: 0.82rem; }
details.howto summary { cursor: pointer; font-weight: 600; }
details.howto { font-size: 0.84rem; color: var(--muted); }
details.howto dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
details.howto dt { font-weight: 600; color: var(--ink); }
details.howto dd { margin: 0; }
footer { color: var(--faint); font-size: 0.75rem; padding: 0 2rem 2rem; max-width: 1500px;
  margin: 0 auto; }
@media (max-width: 900px) { .plots, .plots.two, .split { grid-template-columns: 1fr; }
  main, header.top, nav.toc { padding-left: 1rem; padding-right: 1rem; } }
"""
