// Every call goes through terrane's public API with the token the user pasted: the page
// can do nothing the API would refuse. GETs are conditional (If-None-Match): a poll that
// finds nothing new costs a 304 and no re-render.

const KEY = "terrane.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(value) {
  sessionStorage.setItem(KEY, value.trim());
  cache.clear();
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  cache.clear();
}

/// The claims of a JWT, or null for a secret that is not one (roles then unknown).
export function claims() {
  const parts = (token() || "").split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

// url -> {etag, data}
const cache = new Map();

function headers(extra = {}) {
  return { Authorization: `Bearer ${token()}`, Accept: "application/json", ...extra };
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/// GET `path` (under /api/v1 unless absolute): {data, changed}. `changed` is false when the
/// server answered 304 for what this tab already holds.
export async function get(path) {
  const url = path.startsWith("/") ? path : `/api/v1/${path}`;
  const held = cache.get(url);
  const extra = held ? { "If-None-Match": held.etag } : {};
  const response = await fetch(url, { headers: headers(extra), cache: "no-store" });
  if (response.status === 304 && held) return { data: held.data, changed: false };
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const data = await response.json();
  const etag = response.headers.get("ETag");
  if (etag) cache.set(url, { etag, data });
  return { data, changed: true };
}

/// A write: `method` on `path` with an optional JSON body; the answer's JSON.
export async function send(method, path, body) {
  const init = { method, headers: headers(), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api/v1/${path}`, init);
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response.status === 204 ? null : response.json();
}

/// Whether the API documents a path matching `pattern` (e.g. the runs of an environment):
/// read from the OpenAPI document once, so the page never asks for what this server does not
/// have (a 404 would be an error in the console).
let documented = null;
export async function hasOperation(pattern) {
  if (!documented) {
    documented = fetch("/api-docs/openapi.json", { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : { paths: {} }))
      .then((doc) => new Set(Object.keys(doc.paths || {})))
      .catch(() => new Set());
  }
  return [...(await documented)].some((path) => pattern.test(path));
}
