// wfrun serve pages: the few behaviours htmx does not cover. No build step, no dependencies but the vendored files.
"use strict";

// ------------------------------------------------------------ launch form: which fields the user touched
// Only touched fields are sent as values, so expression defaults keep following what they are computed from.
function markTouched(ev) {
  const el = ev.target;
  if (!el.name || !el.name.startsWith("in.") || !el.closest("#launch-form")) return;
  const box = document.getElementById("touched");
  const list = box.value ? box.value.split(",") : [];
  const path = el.name.slice(3);
  if (!list.includes(path)) { list.push(path); box.value = list.join(","); }
  if (el.type === "range") { const out = el.parentElement.querySelector("output"); if (out) out.textContent = el.value; }
}
document.addEventListener("input", markTouched, true);
document.addEventListener("change", markTouched, true);

// ------------------------------------------------------------ DAG
const COLOURS = {completed: "#2e9e44", success: "#2e9e44", running: "#2f6fdb", failed: "#d33a2c", canceled: "#8a8a8a",
  interrupted: "#b86e00", skipped: "#c9c9c9", pending: "#e8e8e8", waiting: "#e8e8e8", queued: "#f0d264"};
let cy = null;
function drawDag() {
  const box = document.getElementById("dag");
  const src = document.getElementById("dag-data");
  if (!box || !src || typeof cytoscape === "undefined") return;
  const elements = JSON.parse(src.textContent);
  if (typeof cytoscapeDagre !== "undefined" && !drawDag.registered) { cytoscape.use(cytoscapeDagre); drawDag.registered = true; }
  cy = cytoscape({container: box, elements: elements, autoungrabify: true, userPanningEnabled: true,
    style: [
      {selector: "node", style: {"label": "data(label)", "background-color": (n) => COLOURS[n.data("status")] || "#ddd",
        "shape": "round-rectangle", "width": "label", "height": 26, "padding": "8px", "text-valign": "center",
        "font-size": 12, "color": "#111", "border-width": 1, "border-color": "#555"}},
      {selector: ":parent", style: {"text-valign": "top", "background-opacity": 0.15, "font-weight": "bold"}},
      {selector: "edge", style: {"curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.5,
        "line-color": "#888", "target-arrow-color": "#888"}}],
    layout: {name: drawDag.registered ? "dagre" : "breadthfirst", rankDir: "LR", nodeSep: 20, rankSep: 50}});
  box.dataset.statuses = JSON.stringify(Object.fromEntries(elements.nodes.map((n) => [n.data.id, n.data.status])));
}

// ------------------------------------------------------------ logs: tail chunks, follow, ANSI, annotations, groups
const MAX_LINES = 5000;      // lines kept in the DOM: a 100 MB log never lands in the page
const TAIL = 256 * 1024;     // bytes shown first of a big log
const ANSI = /\x1b\[([0-9;]*)m/g;
function esc(s) { return s.replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c])); }
function ansiHtml(line) {
  let out = "", open = false, last = 0, m, cls = [];
  ANSI.lastIndex = 0;
  while ((m = ANSI.exec(line))) {
    out += esc(line.slice(last, m.index)); last = ANSI.lastIndex;
    for (const code of (m[1] || "0").split(";").map(Number)) {
      if (code === 0) cls = [];
      else if (code === 1) cls.push("b");
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) cls = cls.filter((c) => !c.startsWith("fg")).concat("fg" + code);
      else if ((code >= 40 && code <= 47)) cls = cls.filter((c) => !c.startsWith("bg")).concat("bg" + code);
    }
    if (open) out += "</span>";
    open = cls.length > 0;
    if (open) out += `<span class="${cls.map((c) => "a-" + c).join(" ")}">`;
  }
  out += esc(line.slice(last).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ""));
  return open ? out + "</span>" : out;
}
class LogView {
  constructor(pre, run, job, step, label) {
    Object.assign(this, {pre, run, job, step, label, offset: 0, start: 0, stopped: false, partial: "", group: null});
  }
  url(offset, limit) {
    return `/api/runs/${this.run}/log?job=${encodeURIComponent(this.job)}&step=${encodeURIComponent(this.step)}&offset=${offset}` + (limit ? `&limit=${limit}` : "");
  }
  async begin() {
    const head = await (await fetch(this.url(0, 1))).json();
    this.pre.textContent = "";
    this.offset = this.start = Math.max(0, (head.size || 0) - TAIL);
    this.info(head);
    if (this.start > 0) this.skipPartial = true;
    const earlier = document.getElementById("log-earlier");
    earlier.hidden = this.start === 0;
    earlier.onclick = () => this.earlier();
    document.getElementById("log-title").textContent = this.label;
    const dl = document.getElementById("log-download");
    if (head.path) { dl.href = `/api/runs/${this.run}/files/${head.path}`; dl.hidden = false; } else dl.hidden = true;
    this.loop();
  }
  async earlier() {
    // the chunk before what is shown, prepended (older lines beyond MAX_LINES are not kept: download the file)
    const from = Math.max(0, this.start - TAIL);
    const d = await (await fetch(this.url(from, this.start - from))).json();
    const lines = (d.data || "").split("\n");
    if (from > 0) lines.shift();
    const frag = document.createDocumentFragment();
    for (const line of lines) { const div = document.createElement("div"); div.className = "line"; div.innerHTML = ansiHtml(line) || " "; frag.appendChild(div); }
    this.pre.insertBefore(frag, this.pre.firstChild);
    while (this.pre.childElementCount > MAX_LINES) this.pre.removeChild(this.pre.lastElementChild);
    this.start = from;
    document.getElementById("log-earlier").hidden = from === 0;
  }
  info(d) {
    document.getElementById("log-info").textContent = (this.start > 0 ? `showing from byte ${this.start} of ${d.size}` : `${d.size || 0} bytes`) + (d.complete ? "" : " · following");
  }
  async loop() {
    while (!this.stopped) {
      let d;
      try { d = await (await fetch(this.url(this.offset))).json(); } catch (e) { await new Promise((r) => setTimeout(r, 2000)); continue; }
      if (this.stopped) return;
      if (d.data) this.append(d.data);
      this.offset = d.next_offset;
      this.info(d);
      if (d.complete) { if (this.partial) { this.append("\n"); } return; }
      if (d.next_offset >= d.size) await new Promise((r) => setTimeout(r, 700));
    }
  }
  append(text) {
    text = this.partial + text;
    const lines = text.split("\n");
    this.partial = lines.pop();
    if (this.skipPartial && lines.length) { lines.shift(); this.skipPartial = false; }
    const stick = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 30;
    const frag = document.createDocumentFragment();
    for (const line of lines) {
      const g = line.match(/^::group::(.*)$/), a = line.match(/^::(error|warning|notice)[^:]*::(.*)$/);
      if (g) {
        const det = document.createElement("details"); det.className = "log-group";
        det.innerHTML = `<summary>${esc(g[1])}</summary>`;
        frag.appendChild(det); this.group = det; continue;
      }
      if (line.startsWith("::endgroup::")) { this.group = null; continue; }
      const div = document.createElement("div");
      div.className = a ? `line annot ${a[1]}` : "line";
      div.innerHTML = a ? `<b>${a[1]}</b> ${ansiHtml(a[2])}` : (ansiHtml(line) || " ");
      (this.group || frag).appendChild(div);
    }
    this.pre.appendChild(frag);
    while (this.pre.childElementCount > MAX_LINES) this.pre.removeChild(this.pre.firstElementChild);
    if (stick) this.pre.scrollTop = this.pre.scrollHeight;
  }
}
let current = null;
document.addEventListener("click", (ev) => {
  const btn = ev.target.closest(".show-log");
  if (!btn) return;
  if (current) current.stopped = true;
  const pre = document.getElementById("log");
  current = new LogView(pre, pre.dataset.run, btn.dataset.job, btn.dataset.step, btn.dataset.label);
  current.begin();
});

document.addEventListener("DOMContentLoaded", drawDag);
document.addEventListener("htmx:afterSettle", (ev) => { if (ev.target.id === "panel") drawDag(); });
document.addEventListener("htmx:sseMessage", (ev) => {
  if (ev.detail && ev.detail.type === "end") { const live = document.getElementById("live"); if (live) htmx.trigger(document.getElementById("panel"), "sse:end"); }
});
