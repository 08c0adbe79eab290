// The embedding map: chunks on their principal plane, coloured by a metadata field,
// their text on hover (or with the arrow keys), and the last search's query marked.

import { api, collectionPath } from "./api.js";
import { $, guarded, h, shorten, showError } from "./dom.js";
import { on, state } from "./state.js";

const canvas = $("map");
const tip = $("map-tip");
const colorSelect = $("map-color");
const error = $("map-error");
const PALETTE = ["#3b6fd8", "#e2733b", "#2e9e6a", "#c2418a", "#8a63d2", "#c9a227", "#1f9bb3",
  "#d64545", "#6f8f2f", "#8c6d5a"];
const OTHER = "#8a909c";
const PAD = 20;
const RADIUS = 4.5;

let data = null; // the last /map reply
let placed = []; // [{x, y, point}] in CSS pixels of the canvas
let queryAt = null;
let selected = -1;
let stale = true;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Colour of each value: the commonest ten get the palette, the rest share grey. */
function colours(points) {
  const counts = new Map();
  for (const p of points) {
    const key = p.value === null || p.value === undefined ? "(none)" : String(p.value);
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([key]) => key);
  const table = new Map(ranked.map((key, i) => [key, i < PALETTE.length ? PALETTE[i] : OTHER]));
  return { table, ranked };
}

function keyOf(point) {
  return point.value === null || point.value === undefined ? "(none)" : String(point.value);
}

/** The drawn points' positions in CSS pixels of the canvas (used by the page's tests too). */
export function screenPoints() {
  return placed.map((p) => ({ x: p.x, y: p.y, id: p.point.id }));
}

/** Where the query is marked, in CSS pixels of the canvas, or null. */
export function queryPosition() {
  return queryAt;
}

function draw() {
  const width = canvas.clientWidth || 600;
  const height = Math.round(Math.min(560, Math.max(260, width * 0.6)));
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  placed = [];
  queryAt = null;
  if (!data || !data.points.length) {
    ctx.fillStyle = cssVar("--muted");
    ctx.font = "14px system-ui, sans-serif";
    ctx.fillText(data ? "No chunks to place: the collection is empty." : "", PAD, PAD + 10);
    canvas.dataset.points = "0";
    return;
  }
  const xs = data.points.map((p) => p.x);
  const ys = data.points.map((p) => p.y);
  if (data.query) {
    xs.push(data.query.x);
    ys.push(data.query.y);
  }
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const spanX = maxX - minX || 1;
  const spanY = maxY - minY || 1;
  const sx = (x) => PAD + ((x - minX) / spanX) * (width - 2 * PAD);
  const sy = (y) => height - PAD - ((y - minY) / spanY) * (height - 2 * PAD);
  ctx.strokeStyle = cssVar("--map-axis");
  ctx.lineWidth = 1;
  ctx.beginPath();
  if (minX < 0 && maxX > 0) ctx.moveTo(sx(0), PAD), ctx.lineTo(sx(0), height - PAD);
  if (minY < 0 && maxY > 0) ctx.moveTo(PAD, sy(0)), ctx.lineTo(width - PAD, sy(0));
  ctx.stroke();
  const { table } = colours(data.points);
  for (const point of data.points) {
    const at = { x: sx(point.x), y: sy(point.y), point };
    placed.push(at);
    ctx.fillStyle = data.color ? table.get(keyOf(point)) : PALETTE[0];
    ctx.globalAlpha = 0.8;
    ctx.beginPath();
    ctx.arc(at.x, at.y, RADIUS, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
  if (selected >= 0 && placed[selected]) {
    const at = placed[selected];
    ctx.strokeStyle = cssVar("--text");
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(at.x, at.y, RADIUS + 3, 0, Math.PI * 2);
    ctx.stroke();
  }
  if (data.query) {
    queryAt = { x: sx(data.query.x), y: sy(data.query.y) };
    const { x, y } = queryAt;
    ctx.fillStyle = cssVar("--danger");
    ctx.strokeStyle = cssVar("--map-bg");
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y - 9), ctx.lineTo(x + 9, y), ctx.lineTo(x, y + 9), ctx.lineTo(x - 9, y);
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = cssVar("--text");
    ctx.font = "600 12px system-ui, sans-serif";
    const label = shorten(data.query.text, 40);
    const left = x + 12 + ctx.measureText(label).width > width ? x - 12 - ctx.measureText(label).width : x + 12;
    ctx.fillText(label, left, y + 4);
  }
  canvas.dataset.points = String(placed.length);
}

function legend() {
  const list = $("map-legend");
  if (!data || !data.color || !data.points.length) {
    list.replaceChildren();
    return;
  }
  const { table, ranked } = colours(data.points);
  const shown = ranked.slice(0, PALETTE.length);
  const items = shown.map((key) => {
    const swatch = h("span", { class: "swatch" });
    swatch.style.background = table.get(key);
    return h("li", {}, swatch, key);
  });
  if (ranked.length > shown.length) {
    const swatch = h("span", { class: "swatch" });
    swatch.style.background = OTHER;
    items.push(h("li", {}, swatch, `${ranked.length - shown.length} other values`));
  }
  list.replaceChildren(...items);
}

function caption() {
  if (!data) return "";
  const [a, b] = data.explained.map((v) => `${Math.round(v * 100)}%`);
  let text = `${data.points.length.toLocaleString()} of ${data.chunks.toLocaleString()} chunks`;
  if (data.points.length > 1) text += `; the axes hold ${a} and ${b} of their variance`;
  if (data.query) text += `. ◆ marks the query “${shorten(data.query.text, 60)}”`;
  return `${text}.`;
}

function fillFields() {
  const keep = colorSelect.value;
  colorSelect.replaceChildren(
    h("option", { value: "", text: "nothing" }),
    ...data.fields.map((f) => h("option", { value: f, text: f })),
  );
  colorSelect.value = data.fields.includes(keep) ? keep : "";
}

async function load() {
  stale = false;
  if (!state.collection) {
    data = null;
    draw();
    return;
  }
  const params = new URLSearchParams({ limit: $("map-limit").value || "1000" });
  if (colorSelect.value) params.set("color", colorSelect.value);
  if (state.lastQuery) params.set("q", state.lastQuery);
  data = await api("GET", `${collectionPath(state.collection, "map")}?${params}`);
  selected = -1;
  hideTip();
  fillFields();
  draw();
  legend();
  $("map-caption").textContent = caption();
}

function showTip(index) {
  const at = placed[index];
  if (!at) return hideTip();
  tip.replaceChildren(
    h("strong", { text: `${at.point.id}${at.point.chunk ? ` · chunk ${at.point.chunk}` : ""}` }),
    at.point.value !== null && at.point.value !== undefined && data.color
      ? h("span", { class: "status", text: `${data.color}: ${at.point.value}` })
      : "",
    h("div", { text: at.point.text }),
  );
  tip.hidden = false;
  const left = Math.min(at.x + 12, canvas.clientWidth - tip.offsetWidth - 4);
  const top = at.y + 12 + tip.offsetHeight > canvas.clientHeight ? at.y - tip.offsetHeight - 12 : at.y + 12;
  tip.style.left = `${Math.max(4, left)}px`;
  tip.style.top = `${Math.max(4, top)}px`;
}

function hideTip() {
  tip.hidden = true;
}

function nearest(x, y) {
  let best = -1;
  let bestDistance = (RADIUS + 5) ** 2;
  placed.forEach((p, i) => {
    const d = (p.x - x) ** 2 + (p.y - y) ** 2;
    if (d <= bestDistance) {
      best = i;
      bestDistance = d;
    }
  });
  return best;
}

function visible() {
  return state.view === "map";
}

export function setupMap() {
  const reload = () => load().catch((e) => showError(error, e));
  $("map-draw").addEventListener("click", guarded(error, load));
  colorSelect.addEventListener("change", reload);
  canvas.addEventListener("mousemove", (event) => {
    const box = canvas.getBoundingClientRect();
    const i = nearest(event.clientX - box.left, event.clientY - box.top);
    if (i >= 0) showTip(i);
    else hideTip();
  });
  canvas.addEventListener("mouseleave", hideTip);
  canvas.addEventListener("keydown", (event) => {
    if (!placed.length || !["ArrowRight", "ArrowLeft", "Escape"].includes(event.key)) return;
    event.preventDefault();
    if (event.key === "Escape") {
      selected = -1;
      hideTip();
    } else {
      const step = event.key === "ArrowRight" ? 1 : -1;
      selected = (selected + step + placed.length) % placed.length;
      showTip(selected);
    }
    draw();
  });
  on("collection", () => {
    stale = true;
    if (visible()) reload();
  });
  for (const name of ["changed", "searched"]) {
    on(name, () => {
      stale = true;
      if (visible()) reload();
    });
  }
  on("view", (view) => {
    if (view === "map" && stale) reload();
    else if (view === "map") draw();
  });
  window.addEventListener("resize", () => visible() && draw());
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => visible() && draw());
}
