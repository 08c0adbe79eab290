// The search playground: results as you type, mode, k, a JSON filter, copy as curl, similar.

import { api, apiKey, collectionPath, isAbort } from "./api.js";
import { $, debounce, h, marked, metadataList, showError, shorten, wordsOf } from "./dom.js";
import { emit, on, state } from "./state.js";

const box = $("search-box");
const mode = $("search-mode");
const kInput = $("search-k");
const filterInput = $("search-filter");
const filterError = $("filter-error");
const results = $("results");
const status = $("search-status");
const curlOut = $("curl-command");

let inFlight = null;
let similarTo = null; // {id, text}: "find similar" replaces the typed query until the next edit

/** The filter as an object, or null when empty; throws with a message for the inline error. */
export function parseFilter(text) {
  if (!text.trim()) return null;
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`Filter: not valid JSON (${e.message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error('Filter: must be a JSON object, e.g. {"lang": "en"}');
  }
  return value;
}

function setFilterError(message) {
  filterError.textContent = message || "";
  if (message) filterInput.setAttribute("aria-invalid", "true");
  else filterInput.removeAttribute("aria-invalid");
}

/** The request body of the current search, or null when there is nothing to search. */
function currentBody() {
  const query = similarTo ? similarTo.text : box.value.trim();
  if (!query) return null;
  const k = Math.min(1000, Math.max(1, Number.parseInt(kInput.value, 10) || 10));
  const body = { query, k: similarTo ? k + 1 : k, mode: mode.value, highlights: true };
  const filter = parseFilter(filterInput.value);
  if (filter) body.filter = filter;
  return body;
}

function hitItem(hit, words) {
  const marks = hit.highlights && hit.highlights.length
    ? hit.highlights.map((x) => x.text).join(" … ")
    : shorten(hit.chunk ? hit.chunk.text : hit.text, 400);
  return h(
    "li",
    { class: "hit" },
    h(
      "div",
      { class: "hit-head" },
      h("span", { class: "score", title: "score", text: hit.score.toFixed(3) }),
      h("button", {
        type: "button",
        class: "link doc",
        text: hit.id,
        "aria-label": `Open document ${hit.id}`,
        onclick: () => emit("open-document", hit.id),
      }),
      h("button", {
        type: "button",
        class: "quiet similar",
        text: "Find similar",
        "aria-label": `Find documents similar to ${hit.id}`,
        onclick: () => findSimilar(hit),
      }),
    ),
    h("p", { class: "snippet" }, marked(marks, words)),
    metadataList(hit.metadata),
  );
}

function findSimilar(hit) {
  similarTo = { id: hit.id, text: hit.chunk ? hit.chunk.text : hit.text };
  run();
}

async function run() {
  if (inFlight) inFlight.abort();
  inFlight = null;
  showError(status, null);
  let body;
  try {
    body = currentBody();
    setFilterError("");
  } catch (e) {
    setFilterError(e.message);
    return;
  }
  if (!body || !state.collection) {
    results.replaceChildren();
    return;
  }
  const controller = new AbortController();
  inFlight = controller;
  const started = performance.now();
  try {
    const reply = await api("POST", collectionPath(state.collection, "search"), {
      body,
      signal: controller.signal,
    });
    if (inFlight !== controller) return;
    let hits = reply.results;
    if (similarTo) hits = hits.filter((x) => x.id !== similarTo.id).slice(0, body.k - 1);
    const words = wordsOf(body.query);
    results.replaceChildren(...hits.map((x) => hitItem(x, words)));
    const took = reply.took_ms ?? performance.now() - started;
    const what = similarTo ? `similar to ${similarTo.id}` : `for “${shorten(body.query, 60)}”`;
    status.textContent = `${hits.length} result${hits.length === 1 ? "" : "s"} ${what} in ${took.toFixed(0)} ms`
      + (reply.searched && reply.searched !== body.query ? ` (searched: ${reply.searched})` : "");
    state.lastQuery = similarTo ? "" : body.query;
    emit("searched", state.lastQuery);
  } catch (e) {
    if (isAbort(e)) return;
    if (e.message && e.message.startsWith("filter")) setFilterError(e.message);
    else showError(status, e);
    results.replaceChildren();
  } finally {
    if (inFlight === controller) inFlight = null;
  }
}

function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** The current search as a curl command line (the key, if any, as a variable). */
export function curlCommand() {
  const body = currentBody() || { query: "", k: 10, mode: mode.value };
  const url = `${location.origin}${collectionPath(state.collection || "NAME", "search")}`;
  const parts = [`curl -s -X POST ${shellQuote(url)}`, "-H 'Content-Type: application/json'"];
  if (apiKey()) parts.push('-H "Authorization: Bearer $SEMSEARCH_API_KEY"');
  parts.push(`-d ${shellQuote(JSON.stringify(body))}`);
  return parts.join(" \\\n  ");
}

async function copyCurl() {
  let command;
  try {
    command = curlCommand();
    setFilterError("");
  } catch (e) {
    setFilterError(e.message);
    return;
  }
  curlOut.hidden = false;
  curlOut.textContent = command;
  try {
    await navigator.clipboard.writeText(command);
    status.textContent = "Copied the curl command.";
  } catch {
    status.textContent = "Select the command below to copy it.";
  }
}

export function setupSearch() {
  const later = debounce(run, 250);
  box.addEventListener("input", () => {
    similarTo = null;
    later();
  });
  for (const el of [mode, kInput, filterInput]) el.addEventListener("input", later);
  $("copy-curl").addEventListener("click", copyCurl);
  on("collection", () => run());
  on("changed", () => run());
}
