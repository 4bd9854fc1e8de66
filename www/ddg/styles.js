// The stylesheet of <duck-duck-goose>, inside its shadow root: the toolbar, the panels,
// the event log, then the SVG stage (zones, links, messages, nodes, bubbles). Read by
// template.js. The node classes here (.node, data-role, r-<role>, .paused, .selected)
// are the ones stage.js sets every frame.

export const CSS = `
:host { display: block; position: relative; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
  color: #1d2330; --gold: #f2b01e; --ink: #1d2330; --mute: #667085; --line: #d9dee7; --panel: #ffffff;
  --bg: #f6f4ee; --accent: #2f6fdf; --bad: #d92d45; --ok: #1f9d63; }
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
button, input, select { font: inherit; color: inherit; }
button { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 4px 10px; cursor: pointer; }
button:hover:not(:disabled) { border-color: #9aa7bd; background: #f8fafc; }
button:disabled { opacity: .45; cursor: default; }
button.primary { background: var(--ink); color: #fff; border-color: var(--ink); }
button.primary:hover:not(:disabled) { background: #3b4457; border-color: #3b4457; }
button.gold { background: #fff6dc; border-color: #ecc35a; }
.wrap { background: var(--bg); border: 1px solid #e4e1d6; border-radius: 14px; overflow: hidden; }
.bar { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; padding: 8px 12px; background: #fff; border-bottom: 1px solid #ebe8de; }
.bar .play { min-width: 84px; font-weight: 600; }
.bar label { display: inline-flex; align-items: center; gap: 6px; color: var(--mute); }
.bar input[type=range].speed { width: 120px; }
.bar output { min-width: 52px; font-variant-numeric: tabular-nums; color: var(--ink); font-weight: 600; }
.clock { font-variant-numeric: tabular-nums; font-weight: 600; min-width: 84px; }
.timeline { flex: 1 1 180px; min-width: 120px; }
.badge { font-size: 12px; padding: 2px 8px; border-radius: 99px; background: #e8f6ef; color: #17724a; }
.badge.replay { background: #eef2ff; color: #3446b5; }
.main { display: grid; grid-template-columns: minmax(0, 1fr) 290px; }
.stage-col { min-width: 0; display: flex; flex-direction: column; }
.head { display: flex; align-items: center; gap: 10px; padding: 8px 14px 0; min-height: 46px; }
.goose-card { display: flex; align-items: center; gap: 10px; font-size: 16px; }
.goose-card svg { width: 34px; height: 34px; flex: none; }
.goose-card b { font-size: 18px; }
.goose-card.none { color: var(--mute); }
.legend { margin-left: auto; display: flex; gap: 10px; flex-wrap: wrap; font-size: 12px; color: var(--mute); }
.legend i { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 4px; vertical-align: -1px; }
svg.stage { width: 100%; height: auto; display: block; touch-action: none; user-select: none; -webkit-user-select: none; }
.caption { margin: 0 12px 10px; padding: 9px 12px; background: #fffbea; border: 1px solid #f1dc9a; border-radius: 10px; min-height: 20px; }
.caption[hidden] { display: none; }
.caption .title { font-weight: 700; margin-right: 6px; }
.tour { display: flex; gap: 8px; align-items: center; margin: -4px 12px 10px; }
.tour[hidden] { display: none; }
.tour-n { color: var(--mute); font-variant-numeric: tabular-nums; }
.tour.end [data-tour="next"] { outline: 3px solid var(--gold); }
.tour [data-tour="leave"] { margin-left: auto; }
.scen-row .tour-open { font-weight: 600; background: #fff6dc; border-color: #ecc35a; border-radius: 99px; }
.hint { font-size: 12px; color: var(--mute); padding: 0 14px 8px; }
aside { border-left: 1px solid #ebe8de; background: #fbfaf7; padding: 10px; display: flex; flex-direction: column; gap: 10px; }
section.card { contain: content; background: var(--panel); border: 1px solid #e8e5db; border-radius: 10px; padding: 9px 10px; }
section.card h3 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--mute); }
.row { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.row label { display: inline-flex; gap: 4px; align-items: center; color: var(--mute); font-size: 13px; }
input[type=text], input[type=number], select { border: 1px solid var(--line); border-radius: 6px; padding: 3px 6px; background: #fff; }
input[type=number] { width: 62px; }
input.key, input.val { width: 74px; }
input.seed { width: 96px; }
input.fence { width: 52px; }
.store { margin-top: 4px; overflow-wrap: anywhere; }
.store b { color: var(--ink); }
.muted { color: var(--mute); font-size: 13px; }
.node-title { font-weight: 700; font-size: 15px; }
.kv { display: grid; grid-template-columns: auto 1fr; gap: 0 10px; font-size: 13px; margin: 4px 0 6px; }
.kv span:nth-child(odd) { color: var(--mute); }
.scen-row { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; padding: 7px 12px; background: #fdfcf8; border-bottom: 1px solid #ebe8de; }
.scen { display: contents; }
.scen button { font-size: 13px; padding: 4px 10px; border-radius: 99px; }
.scen button.on { background: #fff6dc; border-color: #ecc35a; font-weight: 600; }
.share-out { width: 100%; margin-top: 6px; font-size: 12px; }
.hunt-card .h-why { font-size: 12.5px; line-height: 1.4; margin: 2px 0 4px; }
.hunt-card .h-progress { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.hunt-card.hunting h3 { color: var(--bad); }
.hunt-card .h-loaded { margin-top: 4px; font-size: 13px; color: var(--bad); font-weight: 600; }
.hunt-card .h-loaded[hidden] { display: none; }
.bottom { border-top: 1px solid #ebe8de; }
.bottom > section { padding: 10px 12px; min-width: 0; }
.state { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 12px; padding: 0 12px 12px; align-items: start; }
.state h3, .bottom h3 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--mute); display: flex; gap: 8px; align-items: center; }
.bottom h3 label { text-transform: none; letter-spacing: 0; font-weight: 400; margin-left: auto; }
.state h3 span { text-transform: none; letter-spacing: 0; font-weight: 400; }
.logwrap { overflow-x: auto; }
.inv { border-radius: 10px; padding: 8px 10px; background: #eefaf3; border: 1px solid #bfe8d1; }
.inv.bad { background: #fff0f1; border-color: #f2a7b1; }
.inv .sum { font-weight: 700; color: var(--ok); }
.inv.bad .sum { color: var(--bad); }
.inv ul { list-style: none; margin: 4px 0 0; padding: 0; display: grid; grid-template-columns: 1fr 1fr; gap: 1px 12px; font-size: 12px; }
.inv li::before { content: "✓ "; color: var(--ok); font-weight: 700; }
.inv li.bad { color: var(--bad); font-weight: 700; }
.inv li.bad::before { content: "✗ "; color: var(--bad); }
.inv .offense { margin-top: 6px; font-size: 13px; color: var(--bad); font-family: ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; }
table.logs { border-collapse: separate; border-spacing: 3px; font-size: 12px; }
table.logs th { color: var(--mute); font-weight: 500; text-align: right; padding-right: 4px; }
table.logs thead th { text-align: center; font-size: 11px; }
table.logs td { width: 26px; height: 22px; text-align: center; border-radius: 5px; border: 1.5px dashed #c4ccd8; color: #334; font-variant-numeric: tabular-nums; }
table.logs td.e.c { border-style: solid; border-color: rgba(0,0,0,.25); font-weight: 700; }
table.logs td.e:not(.c) { background: #fff !important; }
table.logs td.none { border: none; }
table.logs td.e { cursor: pointer; }
table.logs td.e.picked { outline: 2px solid #1d4ed8; outline-offset: 1px; }
.why { font-size: 12px; line-height: 1.35; color: #3b4252; margin-top: 6px; }
.why:empty { display: none; }
.clockrow input { width: 120px; }
.clockrow output { font-weight: 600; font-variant-numeric: tabular-nums; min-width: 44px; }
.note { font-size: 12px; line-height: 1.35; color: var(--mute); margin: 2px 0 4px; }
table.logs td.snap { min-width: 92px; padding: 0 6px; white-space: nowrap; text-align: left; font-size: 11px; font-weight: 700; color: #0b5f56; border: 1.5px solid #5fc4b6;
  background: repeating-linear-gradient(135deg, #dff5f1 0 6px, #c9eee7 6px 12px); }
table.logs td.recv { min-width: 92px; padding: 0 6px; white-space: nowrap; font-size: 11px; color: #0b5f56; border: 1.5px dashed #5fc4b6; }
table.logs tr.down th { text-decoration: line-through; }
table.logs tr.goose th { color: #9a6b00; font-weight: 800; }
.events { contain: strict; display: flex; flex-direction: column-reverse; font: 12.5px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; height: 230px; overflow: auto; background: #fff; border: 1px solid #ebe8de; border-radius: 8px; padding: 4px 6px; }
.events div { white-space: pre-wrap; }
.events time { color: #98a2b3; margin-right: 8px; }
.events .k-leader, .events .k-goose { color: #9a6b00; font-weight: 700; }
.events .k-stepdown { color: #b54708; font-weight: 600; }
.events .k-deny { color: #b42318; }
.events .k-vote { color: #175cd3; }
.events .k-action { color: #6941c6; font-weight: 600; }
.events .k-reply { color: #027a48; }
.events .k-snapshot { color: #0b766a; }
.events .k-violation { color: #fff; background: var(--bad); font-weight: 700; }
.events .k-message, .events .k-drop, .events .k-commit { color: #98a2b3; }
.ticker { padding: 0 14px 10px; font-size: 13px; color: var(--mute); min-height: 28px; }
.err { position: absolute; left: 50%; top: 10px; transform: translateX(-50%); background: var(--bad); color: #fff; padding: 6px 12px; border-radius: 8px; font-size: 13px; z-index: 5; box-shadow: 0 4px 14px rgba(0,0,0,.15); }
[data-controls=minimal] .full-only, [data-controls=none] .full-only, [data-controls=none] .bar { display: none !important; }
[data-controls=minimal] .main, [data-controls=none] .main { grid-template-columns: 1fr; }
[data-controls=full] .min-only { display: none !important; }
@media (max-width: 600px) {
  .legend, .hint { display: none; }
  .bar input[type=range].speed { width: 90px; }
}
@media (max-width: 860px) {
  .main { grid-template-columns: 1fr; }
  aside { border-left: none; border-top: 1px solid #ebe8de; }
  .state { grid-template-columns: 1fr; }
}
/* stage */
.zone rect { stroke-width: 1.5; }
.zone.z0 rect { fill: #e6f2ec; stroke: #c3dfd0; }
.zone.z1 rect { fill: #ebeefb; stroke: #c9d0f1; }
.zone.z2 rect { fill: #fbefe4; stroke: #efd3bb; }
.zone.empty rect { fill: rgba(255,255,255,.55); stroke-dasharray: 7 6; stroke: #c7ccd6; }
.zone.drop rect { stroke: var(--accent); stroke-width: 3; stroke-dasharray: none; }
.zone text { font-size: 13px; fill: #7b8496; font-weight: 600; letter-spacing: .04em; }
.zone text.sub { font-weight: 400; font-size: 12px; letter-spacing: 0; }
.link { stroke: #c3cad6; stroke-width: 1.2; }
.link.cut { stroke: #e5828f; stroke-dasharray: 4 6; stroke-width: 1.2; opacity: .55; }
.link.oneway { stroke: #e27a2c; stroke-dasharray: 6 4; stroke-width: 2; opacity: 1; }
.link.custom { stroke: #7c5cd6; stroke-width: 2; }
.link.selected { stroke: var(--accent) !important; stroke-width: 3.5; opacity: 1; }
.linkhit { stroke: transparent; stroke-width: 14; cursor: pointer; }
.cutmark { fill: none; stroke: #d92d45; stroke-width: 2.5; stroke-linecap: round; }
.msg { stroke: #fff; stroke-width: 1.2; }
.msg.doomed { opacity: .35; stroke: #d92d45; }
.node { cursor: grab; outline: none; }
.node.dragging { cursor: grabbing; }
.node .body { fill: #fff; stroke: #7aa0cc; stroke-width: 3; }
.node .timer-bg { fill: none; stroke: #e4e8ef; stroke-width: 5; }
.node .timer { fill: none; stroke: #7aa0cc; stroke-width: 5; stroke-linecap: round; }
.node .timer.late { stroke: #ee8a2a; }
.node .halo { fill: #f2b01e; opacity: 0; }
.node .ring { fill: none; stroke: var(--gold); stroke-width: 6; opacity: 0; }
.node .idb { fill: #1d2330; }
.node .idt { fill: #fff; font-size: 13px; font-weight: 700; text-anchor: middle; dominant-baseline: central; }
.node .rate text { font-size: 12px; font-weight: 700; fill: #b54708; dominant-baseline: central; paint-order: stroke; stroke: rgba(246,244,238,.95); stroke-width: 4px; }
.node .rate .dial { fill: #fff; stroke: #b54708; stroke-width: 1.6; }
.node .rate .hands { fill: none; stroke: #b54708; stroke-width: 1.6; stroke-linecap: round; }
.node[data-role=goose] .label { fill: #8a5a00; }
.node .label { font-size: 13px; text-anchor: middle; fill: #475467; font-weight: 600; paint-order: stroke; stroke: rgba(246,244,238,.9); stroke-width: 4px; }
.node .tag { opacity: 0; }
.node .tag rect { fill: var(--gold); }
.node .tag text { fill: #1d2330; font-size: 12px; font-weight: 800; letter-spacing: .12em; text-anchor: middle; dominant-baseline: central; }
.node .x { stroke: #d92d45; stroke-width: 5; stroke-linecap: round; opacity: 0; }
.node .pausebars { fill: #475467; opacity: 0; }
.node .sel { fill: none; stroke: var(--accent); stroke-width: 2.5; stroke-dasharray: 5 4; opacity: 0; }
.node.selected .sel, .node:focus-visible .sel { opacity: 1; }
.node:focus-visible .sel { stroke-dasharray: none; }
.node[data-role=goose] .halo { opacity: .22; }
.node[data-role=goose] .ring { opacity: 1; }
.node[data-role=goose] .tag { opacity: 1; }
.node[data-role=goose] .body { stroke: var(--gold); stroke-width: 4; fill: #fffdf5; }
.node.r-leader:not([data-role=goose]) .body { stroke: #d4a106; stroke-dasharray: 6 4; }
.node.r-candidate .body { stroke: #ee8a2a; }
.node.r-pre_candidate .body { stroke: #f3b56b; }
.node[data-role=down] .body { fill: #eceef2; stroke: #a0a8b6; }
.node[data-role=down] .icon { opacity: .25; }
.node[data-role=down] .x { opacity: 1; }
.node.paused .pausebars { opacity: .9; }
.node.paused .icon { opacity: .5; }
.node.nonmember .body { stroke-dasharray: 2 4; }
.vote { stroke: #fff; stroke-width: 1; }
.bubble rect { fill: #fff; stroke: #98a2b3; stroke-width: 1.2; }
.bubble.goose rect { fill: #fff6dc; stroke: var(--gold); stroke-width: 2; }
.bubble.duck rect { fill: #f2f4f7; }
.bubble.refused rect { fill: #fde8e7; stroke: #d92d20; stroke-width: 2; }
.bubble.written rect { fill: #e7f6ec; stroke: #12b76a; stroke-width: 1.6; }
.bubble text { font-size: 12.5px; fill: #1d2330; font-weight: 600; }
`;
