// Translate: text between the language pairs the translator serves.

import { api } from "./api.js";
import { $, guarded, h, showError } from "./dom.js";
import { on } from "./state.js";

const from = $("translate-from");
const to = $("translate-to");
const error = $("translate-error");
let pairs = null;

function fillTargets() {
  const targets = pairs.filter((p) => p.source === from.value).map((p) => p.target);
  const keep = to.value;
  to.replaceChildren(...targets.map((t) => h("option", { value: t, text: t })));
  if (targets.includes(keep)) to.value = keep;
}

async function loadLanguages() {
  if (pairs) return;
  from.replaceChildren(h("option", { value: "", text: "loading…" }));
  const reply = await api("GET", "/translate/languages");
  pairs = reply.pairs;
  const sources = [...new Set(pairs.map((p) => p.source))];
  from.replaceChildren(...sources.map((s) => h("option", { value: s, text: s })));
  fillTargets();
}

async function translate(event) {
  event.preventDefault();
  const text = $("translate-text").value;
  if (!text.trim()) throw new Error("Text: type something to translate");
  const out = $("translation");
  out.textContent = "Translating…";
  try {
    const reply = await api("POST", "/translate", {
      body: { text, source: from.value, target: to.value },
    });
    out.textContent = reply.translations[0];
  } catch (e) {
    out.textContent = "";
    throw e;
  }
}

export function setupTranslate() {
  from.addEventListener("change", fillTargets);
  $("translate-form").addEventListener("submit", guarded(error, translate));
  on("view", (view) => {
    if (view === "translate") loadLanguages().catch((e) => showError(error, e));
  });
}
