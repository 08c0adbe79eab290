// Calls to the service: the API key from sessionStorage as a Bearer token, errors as ApiError.

const KEY_ITEM = "semsearch.apiKey";
let refusedListener = () => {};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_ITEM) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

/** Called with the ApiError of every 401 and 403, so the page can ask for a key. */
export function onRefused(listener) {
  refusedListener = listener;
}

export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** The ApiError of a reply that is not ok, from its JSON error body when it has one. */
export function errorOf(status, statusText, bodyText) {
  let code = "error";
  let message = `${status} ${statusText || ""}`.trim();
  try {
    const body = JSON.parse(bodyText);
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON: the status line says it
  }
  const error = new ApiError(status, code, message);
  if (status === 401 || status === 403) refusedListener(error);
  return error;
}

/** A fetch with the key; returns the Response once it is known to be ok. */
export async function request(method, path, { body, signal, accept } = {}) {
  const headers = { ...authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (accept) headers.Accept = accept;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    throw errorOf(response.status, response.statusText, await response.text());
  }
  return response;
}

/** A JSON call: the parsed reply, or null for 204. */
export async function api(method, path, options = {}) {
  const response = await request(method, path, options);
  if (response.status === 204) return null;
  return response.json();
}

export function collectionPath(name, ...rest) {
  const parts = [encodeURIComponent(name), ...rest.map((p) => encodeURIComponent(p))];
  return `/collections/${parts.join("/")}`;
}

/** Whether an error is the abort of a request the page itself replaced. */
export function isAbort(error) {
  return error && error.name === "AbortError";
}
