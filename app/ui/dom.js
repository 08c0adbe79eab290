// Small DOM helpers: elements built from text, never from HTML strings.

export const $ = (id) => document.getElementById(id);

/** An element with attributes (`class`, `text`, `on<event>`, others as attributes) and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const WORD = /[\p{L}\p{N}]+/gu;

const COMMON = new Set(("the and for are was were has have had not but with from this that "
  + "what which who how why when where does did its into about").split(" "));

/** The words of a query worth marking in a hit: lower-cased, no short or common words. */
export function wordsOf(text) {
  const words = (text.match(WORD) || []).map((w) => w.toLowerCase());
  return new Set(words.filter((w) => w.length > 2 && !COMMON.has(w)));
}

/** Text as nodes, with the words in `words` wrapped in <mark>. */
export function marked(text, words) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(WORD)) {
    if (!words.has(match[0].toLowerCase())) continue;
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(h("mark", { text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/** Metadata as a description list. */
export function metadataList(metadata) {
  const list = h("dl", { class: "meta" });
  for (const [key, value] of Object.entries(metadata || {})) {
    const shown = Array.isArray(value) ? value.join(", ") : String(value);
    list.append(h("div", {}, h("dt", { text: key }), h("dd", { text: shown })));
  }
  return list;
}

/** Show an error's message in `el` (empty clears it). */
export function showError(el, error) {
  el.textContent = error ? error.message || String(error) : "";
}

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function shorten(text, chars) {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

/** Run an async event handler, showing what it throws in `errorEl`. */
export function guarded(errorEl, fn) {
  return async (...args) => {
    try {
      showError(errorEl, null);
      await fn(...args);
    } catch (error) {
      showError(errorEl, error);
    }
  };
}
