// Models: the encoder, decoder and encoder-decoder, and whether each is loaded.

import { api } from "./api.js";
import { $, guarded, h, showError } from "./dom.js";
import { on } from "./state.js";

const error = $("models-error");

async function loadModels() {
  const { models } = await api("GET", "/models");
  $("models-body").replaceChildren(
    ...models.map((m) => {
      const state = m.state.replace("_", " ");
      return h(
        "tr",
        {},
        h("td", { text: m.name }),
        h("td", { text: m.architecture }),
        h("td", { text: m.task }),
        h("td", { class: `state-${m.state}`, text: m.error ? `${state}: ${m.error}` : state }),
      );
    }),
  );
}

export function setupModels() {
  $("models-refresh").addEventListener("click", guarded(error, loadModels));
  on("view", (view) => {
    if (view === "models") loadModels().catch((e) => showError(error, e));
  });
}
