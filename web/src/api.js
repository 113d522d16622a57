// api.js -- calls to the dmp HTTP API (same origin as the page).

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// The bearer token the user entered, kept in sessionStorage (this tab only, gone when it
// closes) and sent as "Authorization: Bearer" on every API call when set.
const TOKEN_KEY = 'dmp-token';

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused (private mode): the token lasts until the page reloads
  }
  memoryToken = token;
}

let memoryToken = '';

async function getJson(path, signal) {
  const headers = { Accept: 'application/json' };
  const token = getToken() || memoryToken;
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers, signal });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

const seg = (s) => encodeURIComponent(s);

export function search(params, signal) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  return getJson(`/v1/search?${q}`, signal);
}

export const entry = (domain, name) => getJson(`/v1/catalog/products/${seg(domain)}/${seg(name)}`);
export const versions = (domain, name) =>
  getJson(`/v1/products/${seg(domain)}/${seg(name)}/versions`);
export const lineage = (domain, name, direction = 'both', depth = 3) =>
  getJson(`/v1/lineage/${seg(domain)}/${seg(name)}?direction=${direction}&depth=${depth}`);
export const topology = () => getJson('/v1/topology');
// The provisioning state, when the product was applied. 404 means "not deployed" (a
// registered, brownfield product); the page asks only for applied products, so the
// browser has no failed request to log. Other failures leave the state unknown.
export const deployed = (domain, name) =>
  getJson(`/v1/products/${seg(domain)}/${seg(name)}`).catch((e) => {
    if (!(e instanceof ApiError) || e.status !== 404) console.warn(`provisioning state of ${domain}/${name}: ${e.message}`);
    return null;
  });
