// wardflux /topology page: loads the server-laid-out SVG and the topology JSON, colours
// devices and links by status, shows an outage (the device down in its own right in red with
// its cause, the devices in its shadow greyed and marked, isolated sites in a banner), a
// device's interfaces (traffic from two polls) and neighbours on click, and highlights what
// a failure cuts off. No external resources.
"use strict";

const state = { topo: null, selected: null, prev: new Map(), timer: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c === null || c === undefined ? "" : c);
  return e;
}

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function nodeEls() { return document.querySelectorAll("#graph g.node"); }
function edgeEls() { return document.querySelectorAll("#graph g.edge"); }

const SVG_NS = "http://www.w3.org/2000/svg";

// A note under a node: the cause text of a down device, "behind X" for a shadowed one.
// Notes live in one group drawn last, so links never cross them.
function note(g, name, cls, text) {
  const svg = g.ownerSVGElement;
  let layer = svg.querySelector("g.notes");
  if (!layer) { layer = document.createElementNS(SVG_NS, "g"); layer.setAttribute("class", "notes"); svg.append(layer); }
  let t = [...layer.children].find((x) => x.dataset.for === name);
  if (!text) { if (t) t.remove(); return; }
  const r = g.querySelector("rect, polygon, ellipse") || g;
  const b = r.getBBox();
  if (!t) { t = document.createElementNS(SVG_NS, "text"); t.dataset.for = name; layer.append(t); }
  t.setAttribute("class", "note " + cls);
  t.setAttribute("x", String(b.x + b.width / 2));
  t.setAttribute("y", String(b.y + b.height + 14));
  t.setAttribute("text-anchor", "middle");
  t.textContent = text;
}

// Grow the SVG so notes under the lowest nodes stay visible.
function fit() {
  const svg = document.querySelector("#graph svg");
  if (!svg) return;
  const b = svg.getBBox();
  const w = Math.max(b.x + b.width + 20, Number(svg.getAttribute("width")) || 0);
  const h = Math.max(b.y + b.height + 20, Number(svg.getAttribute("height")) || 0);
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  if (svg.getAttribute("viewBox")) svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
}

function paint() {
  const t = state.topo;
  const byName = new Map(t.nodes.map((n) => [n.name, n]));
  for (const g of nodeEls()) {
    const n = t.nodes[Number(g.dataset.i)];
    if (!n) continue;
    g.classList.remove("st-up", "st-down", "st-unknown", "rs-up", "rs-down", "rs-shadow", "rs-unknown");
    g.classList.add("st-" + n.status, "rs-" + (n.state || "unknown"));
    g.classList.toggle("root", n.root);
    g.classList.toggle("selected", state.selected === n.name);
    g.dataset.name = n.name;
    g.dataset.state = n.state || "unknown";
    let title = g.querySelector("title");
    if (!title) { title = document.createElementNS(SVG_NS, "title"); g.prepend(title); }
    title.textContent = `${n.name} (${n.address}) ${n.status}${n.root ? ", root" : ""}` +
      (n.cause ? ` — ${n.cause}` : "");
    if (n.state === "down") note(g, n.name, "cause", n.cause);
    else if (n.state === "shadow") note(g, n.name, "behind", "behind " + (n.roots || []).join(", "));
    else note(g, n.name, "", "");
  }
  fit();
  for (const g of edgeEls()) {
    const e = t.edges[Number(g.dataset.e)];
    if (!e) continue;
    g.classList.remove("st-up", "st-down", "st-unknown", "confirmed", "one_sided", "manual");
    g.classList.add("st-" + e.status, e.state);
    // A link with a silent end: what it last showed is not known to be true now.
    const silent = (name) => ["down", "shadow"].includes((byName.get(name) || {}).state);
    g.classList.toggle("rs-silent", silent(e.source) || silent(e.target));
    g.dataset.id = e.id;
    let title = g.querySelector("title");
    if (!title) { title = document.createElementNS("http://www.w3.org/2000/svg", "title"); g.prepend(title); }
    title.textContent = `${e.source}:${e.source_interface} - ${e.target}:${e.target_interface} ` +
      `(${e.status}, ${e.state}, ${e.protocol})`;
  }
}

function fillOutages() {
  const t = state.topo;
  const sites = (t.sites || []).filter((s) => s.isolated);
  document.getElementById("outage-sites").replaceChildren(...sites.map((s) =>
    el("li", { class: "site-isolated", "data-site": s.name }, s.text)));
  // Devices down in their own right with devices behind them, outside isolated sites too.
  const inSites = new Set(sites.flatMap((s) => s.routers));
  const causes = t.nodes.filter((n) => n.state === "down" && n.behind > 0 && !inSites.has(n.name));
  document.getElementById("outage-causes").replaceChildren(...causes.map((n) =>
    el("li", { class: "cause", "data-device": n.name }, `${n.name} ${n.cause}`)));
  document.getElementById("outages").hidden = sites.length + causes.length === 0;
}

function fillLists() {
  const t = state.topo;
  const nodesUp = t.nodes.filter((n) => n.status === "up").length;
  const down = t.edges.filter((e) => e.status === "down").length;
  const shadow = t.nodes.filter((n) => n.state === "shadow").length;
  const causes = t.nodes.filter((n) => n.state === "down").length;
  document.getElementById("summary").textContent =
    `${t.nodes.length} devices (${nodesUp} up, ${causes} down, ${shadow} in a shadow), ` +
    `${t.edges.length} links (${down} down), roots: ${t.roots.join(", ") || "none"}`;
  fillOutages();
  const o = document.getElementById("orphans");
  o.replaceChildren(...t.orphans.map((x) => el("li", {}, `${x.neighbor_name} via ${x.protocol}, seen from ` +
    x.seen_from.map((s) => `${s.device}:${s.interface}`).join(", "))));
  document.getElementById("orphan-count").textContent = t.orphans.length;
  const a = document.getElementById("ambiguous");
  a.replaceChildren(...t.ambiguous.map((x) => el("li", {}, `${x.neighbor_name} (by ${x.matched_by}) seen from ` +
    `${x.seen_from.device}:${x.seen_from.interface}: ${x.candidates.join(" or ")}`)));
  document.getElementById("ambiguous-count").textContent = t.ambiguous.length;
}

async function load() {
  const [svg, topo] = await Promise.all([
    fetch("api/v1/topology/layout.svg", { cache: "no-store" }).then((r) => r.text()),
    getJSON("api/v1/topology"),
  ]);
  state.topo = topo;
  const graph = document.getElementById("graph");
  graph.innerHTML = svg;
  paint();
  fillLists();
  document.body.dataset.loaded = "true";
}

function rate(key, value, at) {
  const p = state.prev.get(key);
  state.prev.set(key, { value, at });
  if (!p || at <= p.at || value < p.value) return null;
  return ((value - p.value) * 8) / (at - p.at);
}

function bps(v) {
  if (v === null || v === undefined) return "–";
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(v < 10 && i > 0 ? 2 : 0)} ${units[i]}`;
}

function speed(mbps) {
  if (!mbps) return "–";
  return mbps >= 1000 ? `${mbps / 1000} Gbit/s` : `${mbps} Mbit/s`;
}

async function showInterfaces(name) {
  const data = await getJSON("api/v1/interfaces?device=" + encodeURIComponent(name));
  if (state.selected !== name) return;
  const rows = data.interfaces.map((i) => {
    const c = i.counters || {};
    const inOct = c.ifHCInOctets ?? c.ifInOctets;
    const outOct = c.ifHCOutOctets ?? c.ifOutOctets;
    const at = i.last_polled;
    const rin = inOct === undefined || at === null ? null : rate(`${name}/${i.if_index}/in`, inOct, at);
    const rout = outOct === undefined || at === null ? null : rate(`${name}/${i.if_index}/out`, outOct, at);
    const tr = el("tr", { "data-if": i.if_name },
      el("td", {}, i.if_name || i.if_descr),
      el("td", {}, i.interface_type),
      el("td", {}, i.isp_provider || ""),
      el("td", { class: "st-" + i.oper_status }, i.oper_status),
      el("td", {}, speed(i.speed_mbps)),
      el("td", { title: `ifHCInOctets ${inOct ?? "–"}` }, bps(rin)),
      el("td", { title: `ifHCOutOctets ${outOct ?? "–"}` }, bps(rout)));
    tr.addEventListener("click", () => showImpact(name, i.if_name || String(i.if_index)));
    return tr;
  });
  document.querySelector("#ifaces tbody").replaceChildren(...rows);
}

async function showNeighbors(name) {
  const data = await getJSON(`api/v1/devices/${encodeURIComponent(name)}/neighbors`);
  if (state.selected !== name) return;
  document.querySelector("#neighbors tbody").replaceChildren(...data.neighbors.map((n) =>
    el("tr", {}, el("td", {}, n.local_interface), el("td", {}, n.neighbor_device || `${n.neighbor_name} (${n.match})`),
      el("td", {}, n.neighbor_port), el("td", {}, n.protocol))));
}

async function select(name) {
  state.selected = name;
  state.prev.clear();
  const n = state.topo.nodes.find((x) => x.name === name);
  document.getElementById("help").hidden = true;
  document.getElementById("device").hidden = false;
  document.getElementById("device-name").textContent = name;
  const labels = Object.entries(n.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  document.getElementById("device-meta").textContent =
    `${n.address} · ${n.status}${n.cause ? " (" + n.cause + ")" : ""}${n.root ? " · root" : ""}` +
    `${n.sys_name ? " · " + n.sys_name : ""}${labels ? " · " + labels : ""}`;
  paint();
  clearInterval(state.timer);
  await Promise.all([showInterfaces(name), showNeighbors(name)]);
  state.timer = setInterval(() => showInterfaces(name).catch(() => {}), 5000);
}

function clearImpact() {
  for (const g of document.querySelectorAll("#graph .lost, #graph .failed, #graph .cut")) {
    g.classList.remove("lost", "failed", "cut");
  }
  document.getElementById("impact").hidden = true;
}

async function showImpact(device, iface) {
  clearImpact();
  const box = document.getElementById("impact");
  const text = document.getElementById("impact-text");
  const list = document.getElementById("impact-list");
  box.hidden = false;
  let url = "api/v1/topology/impact?device=" + encodeURIComponent(device);
  if (iface) url += "&interface=" + encodeURIComponent(iface);
  let r;
  try { r = await getJSON(url); } catch (e) { text.textContent = String(e.message || e); list.replaceChildren(); return; }
  const lost = new Set(r.lost);
  for (const g of nodeEls()) {
    const n = state.topo.nodes[Number(g.dataset.i)];
    if (!n) continue;
    if (lost.has(n.name)) g.classList.add("lost");
    if (!iface && n.name === device) g.classList.add("failed");
  }
  const cut = new Set(r.cut_edges.map((e) => e.id));
  for (const g of edgeEls()) {
    if (cut.has("e" + g.dataset.e)) g.classList.add("cut");
  }
  const what = iface ? `${device} ${iface}` : device;
  text.textContent = r.lost.length
    ? `If ${what} fails, ${r.lost.length} device(s) lose every path to the roots (${r.roots.join(", ")}):`
    : `If ${what} fails, every device keeps a path to the roots (${r.roots.join(", ")}).`;
  list.replaceChildren(...r.lost.map((n) => el("li", {}, n)));
}

document.getElementById("graph").addEventListener("click", (ev) => {
  const g = ev.target.closest("g.node");
  if (!g) return;
  const n = state.topo.nodes[Number(g.dataset.i)];
  if (n) select(n.name);
});
document.getElementById("device-impact").addEventListener("click", () => {
  if (state.selected) showImpact(state.selected, null);
});
document.getElementById("impact-clear").addEventListener("click", clearImpact);
document.getElementById("refresh").addEventListener("click", () => load().catch(showError));

function showError(e) {
  document.getElementById("summary").textContent = "error: " + (e.message || e);
}

load().catch(showError);
setInterval(() => getJSON("api/v1/topology").then((t) => {
  // Statuses change often, the shape rarely: re-layout only when the shape changed.
  const shape = (x) => JSON.stringify([x.nodes.map((n) => [n.name, n.root]), x.edges.map((e) => [e.source, e.target])]);
  if (shape(t) !== shape(state.topo)) return load();
  state.topo = t;
  paint();
  fillLists();
}).catch(() => {}), 10000);
