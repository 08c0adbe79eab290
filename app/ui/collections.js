// Collections: the chooser, the list with counts, create and delete.

import { api, collectionPath } from "./api.js";
import { $, guarded, h, showError } from "./dom.js";
import { emit, on, state } from "./state.js";

const chooser = $("collection");
const body = $("collections-body");
const error = $("collections-error");

function choose(name) {
  if (name === state.collection) return;
  state.collection = name;
  chooser.value = name;
  emit("collection", name);
}

function row(c) {
  const remove = h("button", {
    type: "button",
    class: "danger",
    "aria-label": `Delete collection ${c.name}`,
    text: "Delete",
    onclick: guarded(error, () => removeCollection(c.name)),
  });
  const status = c.status === "ready" ? "ready" : `${c.status}: ${c.detail || ""}`;
  const index = c.index_building ? `${c.index_in_use} (building)` : c.index_in_use;
  return h(
    "tr",
    { class: c.name === state.collection ? "chosen" : "" },
    h("td", { text: c.name }),
    h("td", { class: "num", text: c.documents.toLocaleString() }),
    h("td", { class: "num", text: c.chunks.toLocaleString() }),
    h("td", { text: c.model }),
    h("td", { text: `${c.index} · ${index}` }),
    h("td", { text: status }),
    h("td", {}, remove),
  );
}

/** Reload the list; keeps the chosen collection while it exists. */
export async function refreshCollections(prefer) {
  const { collections } = await api("GET", "/collections");
  const names = collections.map((c) => c.name);
  const next = [prefer, state.collection].find((n) => n && names.includes(n)) || names[0] || "";
  chooser.replaceChildren(
    ...(names.length
      ? names.map((n) => h("option", { value: n, text: n }))
      : [h("option", { value: "", text: "no collections yet" })]),
  );
  chooser.value = next;
  choose(next);
  body.replaceChildren(...collections.map(row));
  if (!collections.length) {
    body.append(h("tr", {}, h("td", { colspan: 7, text: "No collections yet: create one above." })));
  }
}

async function removeCollection(name) {
  if (!window.confirm(`Delete collection "${name}" and all its documents? This cannot be undone.`)) {
    return;
  }
  await api("DELETE", collectionPath(name));
  await refreshCollections();
}

async function create(event) {
  event.preventDefault();
  const name = $("create-name").value.trim();
  await api("POST", "/collections", { body: { name, index: $("create-index").value } });
  $("create-name").value = "";
  await refreshCollections(name);
}

export function setupCollections() {
  chooser.addEventListener("change", () => choose(chooser.value));
  $("create-form").addEventListener("submit", guarded(error, create));
  on("changed", () => refreshCollections().catch((e) => showError(error, e)));
  on("view", (view) => {
    if (view === "collections") refreshCollections().catch((e) => showError(error, e));
  });
}
