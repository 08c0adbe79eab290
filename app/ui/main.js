// The page: views as tabs, the API key when the service wants one, and every view set up.

import { apiKey, onRefused, setApiKey } from "./api.js";
import { setupAsk } from "./ask.js";
import { refreshCollections, setupCollections } from "./collections.js";
import { setupDocuments } from "./documents.js";
import { $, showError } from "./dom.js";
import { setupMap } from "./map.js";
import { setupModels } from "./models.js";
import { setupSearch } from "./search.js";
import { emit, on, state } from "./state.js";
import { setupTranslate } from "./translate.js";
import { setupUpload } from "./upload.js";

const notice = $("notice");
const keyForm = $("key-form");
const tabs = [...document.querySelectorAll('[role="tab"]')];
const VIEWS = tabs.map((t) => t.dataset.view);

function showView(view, focus = false) {
  if (!VIEWS.includes(view)) view = "search";
  for (const tab of tabs) {
    const chosen = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(chosen));
    tab.tabIndex = chosen ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !chosen;
    if (chosen && focus) tab.focus();
  }
  if (location.hash !== `#${view}`) history.replaceState(null, "", `#${view}`);
  state.view = view;
  emit("view", view);
}

function setupTabs() {
  for (const tab of tabs) {
    tab.addEventListener("click", () => showView(tab.dataset.view));
    tab.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: 1, ArrowLeft: -1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const i = (VIEWS.indexOf(state.view) + moves[event.key] + VIEWS.length) % VIEWS.length;
      showView(VIEWS[i], true);
    });
  }
  window.addEventListener("hashchange", () => showView(location.hash.slice(1)));
  on("open-document", () => showView("documents"));
}

function askForKey(message) {
  keyForm.hidden = false;
  $("forget-key").hidden = true;
  notice.textContent = message;
  $("api-key").focus();
}

async function start() {
  notice.textContent = "";
  try {
    await refreshCollections();
    emit("view", state.view); // the shown view loads what it needs
  } catch (e) {
    if (e.status !== 401) showError(notice, e);
  }
}

function setupKeys(keysNeeded) {
  onRefused((error) => {
    if (error.status === 401) {
      setApiKey("");
      askForKey(`${error.message}. Enter an API key.`);
    } else {
      notice.textContent = `Refused: ${error.message}`;
    }
  });
  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey($("api-key").value.trim());
    $("api-key").value = "";
    keyForm.hidden = true;
    $("forget-key").hidden = false;
    start();
  });
  $("forget-key").addEventListener("click", () => {
    setApiKey("");
    askForKey("Key forgotten. Enter an API key.");
  });
  if (keysNeeded && !apiKey()) {
    askForKey("This service needs an API key.");
    return false;
  }
  $("forget-key").hidden = !apiKey();
  return true;
}

async function main() {
  setupTabs();
  setupCollections();
  setupSearch();
  setupDocuments();
  setupUpload();
  setupAsk();
  setupTranslate();
  setupModels();
  setupMap();
  const settings = await fetch("/ui/settings.json").then((r) => r.json());
  const ready = setupKeys(settings.keys);
  state.view = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "search";
  showViewQuietly(state.view);
  if (ready) await start();
}

/** Show the view from the address without loading data before the key is known. */
function showViewQuietly(view) {
  for (const tab of tabs) {
    const chosen = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(chosen));
    tab.tabIndex = chosen ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !chosen;
  }
}

main().catch((e) => showError(notice, e));
