// What the views share: the chosen collection, the last search, and events between views.

export const state = {
  collection: "",
  lastQuery: "",
  view: "",
};

const bus = new EventTarget();

/**
 * Events: "collection" (another collection chosen), "changed" (its documents changed),
 * "searched" (a query ran), "view" (a view shown), "open-document" (show one document).
 */
export function emit(name, detail) {
  bus.dispatchEvent(new CustomEvent(name, { detail }));
}

export function on(name, listener) {
  bus.addEventListener(name, (event) => listener(event.detail));
}
