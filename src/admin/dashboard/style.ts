/**
 * The dashboard's style: one sheet, light and dark by the system's choice, tables that turn into
 * cards at phone width.
 *
 * @module
 */

/** The style sheet. */
export const STYLE = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --fg: #1d2430; --muted: #5f6b7a; --card: #fff; --line: #dde2e8;
  --accent: #2957c7; --warn: #b25b00; --bad: #b3261e; --ok: #1e7d3a;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #12161c; --fg: #e4e8ee; --muted: #9aa6b5; --card: #1b2129; --line: #2c3440;
    --accent: #7fa4ff; --warn: #f0a64a; --bad: #ff7b72; --ok: #5fd27d; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
code, pre { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { white-space: pre-wrap; word-break: break-word; background: var(--bg); padding: 8px;
  border-radius: 6px; margin: 6px 0; max-height: 24em; overflow: auto; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; padding: 10px 20px;
  background: var(--card); border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; font-size: 18px; text-decoration: none; color: var(--fg); }
nav { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; flex: 1; }
.find { display: flex; gap: 6px; flex: 1; min-width: 220px; max-width: 460px; }
.find input { flex: 1; }
.badge { color: var(--muted); font-size: 12px; border: 1px solid var(--line); border-radius: 10px;
  padding: 1px 8px; }
main { padding: 16px 20px 64px; max-width: 1400px; margin: 0 auto; }
.grid { display: grid; gap: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.card-head { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: 8px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin: 4px 0 10px; }
.scroll { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 6px 8px; border-top: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; border-top: 0; }
td[data-field="lag"], td[data-field="pending"], td[data-field="dead"], td[data-field="length"] {
  font-variant-numeric: tabular-nums; }
.muted, .empty, .note { color: var(--muted); }
.warn { color: var(--warn); font-weight: 600; }
.error { color: var(--bad); margin: 4px 0; word-break: break-word; }
button, .button { font: inherit; padding: 4px 10px; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button:hover, .button:hover { border-color: var(--accent); }
button.danger { color: var(--bad); }
button.quiet, .button.quiet { background: transparent; }
input, select { font: inherit; padding: 4px 8px; border-radius: 6px; border: 1px solid var(--line);
  background: var(--bg); color: var(--fg); }
.actions { display: flex; flex-wrap: wrap; gap: 6px; }
.letter { border-top: 1px solid var(--line); padding: 10px 0; }
.letter-head { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: baseline; }
.live { font-size: 12px; color: var(--muted); }
.live.on::before { content: "●  "; color: var(--ok); }
.live.off::before { content: "●  "; color: var(--bad); }
.login { max-width: 360px; margin: 10vh auto; display: grid; gap: 8px; background: var(--card);
  border: 1px solid var(--line); border-radius: 8px; padding: 20px; }
.status { position: fixed; bottom: 12px; left: 50%; transform: translateX(-50%); max-width: 90vw;
  padding: 0; border-radius: 6px; }
.status.ok, .status.error, .status.info { padding: 8px 14px; background: var(--card); border: 1px solid var(--line); }
.status.ok { color: var(--ok); } .status.error { color: var(--bad); }
dialog { border: 1px solid var(--line); border-radius: 8px; background: var(--card); color: var(--fg);
  max-width: min(520px, 92vw); }
dialog menu { display: flex; justify-content: flex-end; gap: 8px; padding: 0; }
dialog label { display: block; margin: 6px 0; }
dialog input { width: 100%; }
.tree { list-style: none; padding-left: 18px; border-left: 2px solid var(--line); margin: 6px 0; }
.tree.root { padding-left: 0; border-left: 0; }
.hop { margin: 8px 0; padding: 4px 8px; border-radius: 6px; }
.hop.focus > .letter-head { outline: 2px solid var(--accent); outline-offset: 3px; border-radius: 4px; }
.chip-link { text-decoration: none; }
.reach { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 4px; }
.state { font-size: 12px; border-radius: 10px; padding: 1px 8px; border: 1px solid var(--line); }
.state.handled { color: var(--ok); } .state.dead { color: var(--bad); }
.state.retrying, .state.pending { color: var(--warn); } .state.waiting { color: var(--muted); }
@media (max-width: 640px) {
  main { padding: 10px; }
  .top { padding: 8px 10px; }
  table, thead, tbody, tr, td { display: block; width: 100%; }
  thead { display: none; }
  tr { border-top: 1px solid var(--line); padding: 6px 0; }
  td { border: 0; padding: 2px 0; display: flex; gap: 8px; }
  td::before { content: attr(data-label); color: var(--muted); min-width: 110px; font-size: 12px; }
  td[data-label=""]::before { display: none; }
}
`;
