// Documents: page through a collection, open one, delete one.

import { api, collectionPath } from "./api.js";
import { $, guarded, h, metadataList, showError, shorten } from "./dom.js";
import { emit, on, state } from "./state.js";

const PAGE_SIZE = 20;
const list = $("documents");
const error = $("docs-error");
const article = $("document");
const prev = $("docs-prev");
const next = $("docs-next");

let cursors = [null]; // cursors[i]: the `after` of page i
let page = 0;
let nextCursor = null;
let opened = null;

async function loadPage() {
  if (!state.collection) {
    list.replaceChildren();
    $("docs-page").textContent = "";
    prev.disabled = next.disabled = true;
    return;
  }
  const asked = { collection: state.collection, page };
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (cursors[page]) params.set("after", cursors[page]);
  const reply = await api("GET", `${collectionPath(state.collection, "documents")}?${params}`);
  // A reply to an earlier choice of collection or page that came back late is dropped.
  if (asked.collection !== state.collection || asked.page !== page) return;
  nextCursor = reply.next;
  list.replaceChildren(
    ...reply.documents.map((d) =>
      h(
        "li",
        {},
        h("button", {
          type: "button",
          class: "link",
          text: d.id,
          "aria-label": `Open document ${d.id}`,
          onclick: guarded(error, () => openDocument(d.id)),
        }),
        h("span", { class: "preview", text: shorten(d.text, 160) }),
      ),
    ),
  );
  if (!reply.documents.length) list.append(h("li", { text: "No documents on this page." }));
  $("docs-page").textContent = `Page ${page + 1}`;
  prev.disabled = page === 0;
  next.disabled = !nextCursor;
}

export async function openDocument(id) {
  const doc = await api("GET", collectionPath(state.collection, "documents", id));
  opened = doc.id;
  $("document-id").textContent = doc.id;
  $("document-meta").replaceWith(Object.assign(metadataList(doc.metadata), { id: "document-meta" }));
  $("document-text").textContent = doc.text;
  article.hidden = false;
}

async function deleteOpened() {
  if (!opened || !window.confirm(`Delete document "${opened}"?`)) return;
  await api("DELETE", collectionPath(state.collection, "documents", opened));
  opened = null;
  article.hidden = true;
  emit("changed");
}

function reset() {
  cursors = [null];
  page = 0;
  opened = null;
  article.hidden = true;
}

export function setupDocuments() {
  const load = () => loadPage().catch((e) => showError(error, e));
  prev.addEventListener("click", () => {
    page = Math.max(0, page - 1);
    load();
  });
  next.addEventListener("click", () => {
    if (!nextCursor) return;
    cursors[page + 1] = nextCursor;
    page += 1;
    load();
  });
  $("document-delete").addEventListener("click", guarded(error, deleteOpened));
  on("collection", () => {
    reset();
    if (state.view === "documents") load();
  });
  on("changed", () => {
    if (state.view === "documents") load();
  });
  on("view", (view) => {
    if (view === "documents") load();
  });
  on("open-document", (id) => {
    showError(error, null);
    openDocument(id).catch((e) => showError(error, e));
  });
}
