// main.js -- the dmp catalog UI: a hash router over three pages (search, product,
// topology). Results appear as you type; every control is a native, labelled element.

import './style.css';
import * as api from './api.js';
import { h, announce, productHref } from './dom.js';
import { renderGraph } from './graph.js';

const main = document.getElementById('main');

// Children may be null/false (optional parts of a page): they are left out, never shown
// as the text "null".
function setPage(title, ...content) {
  document.title = `${title} · dmp catalog`;
  main.replaceChildren(...content.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  for (const a of document.querySelectorAll('[data-nav]')) {
    const active = location.hash.startsWith('#/topology') ? 'topology' : 'search';
    if (a.dataset.nav === active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function errorBox(err) {
  const hint = err.status === 401 ? ' Enter an API token above.' : '';
  return h('p', { class: 'error', role: 'alert' }, err.status === 404 ? 'Not found: ' : 'Error: ', err.message, hint);
}

// ---- search

let lastQuery = { q: '', type: '' };

function searchPage() {
  const input = h('input', {
    id: 'q',
    type: 'search',
    name: 'q',
    autocomplete: 'off',
    placeholder: 'names, descriptions, tags, schema fields…',
    'aria-describedby': 'q-help',
    'aria-controls': 'results',
    value: lastQuery.q,
  });
  const type = h(
    'select',
    { id: 'type', name: 'type' },
    ['', 'stream', 'table', 'files'].map((t) => h('option', { value: t, selected: lastQuery.type === t }, t || 'any')),
  );
  const results = h('ol', { id: 'results', class: 'results', 'aria-label': 'Search results' });
  const status = h('p', { class: 'status', id: 'result-count' });
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'More results');
  let ctrl = null;
  let timer = null;
  let next = null;

  async function run(append) {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    lastQuery = { q: input.value, type: type.value };
    try {
      const r = await api.search({ q: input.value, type: type.value, limit: 20, cursor: append ? next : '' }, ctrl.signal);
      if (!append) results.replaceChildren();
      for (const p of r.results) results.append(resultItem(p));
      next = r.next;
      more.hidden = !next;
      const n = results.children.length;
      status.textContent = n ? `${n}${next ? '+' : ''} product${n === 1 ? '' : 's'}` : 'No product matches.';
      announce(status.textContent);
    } catch (e) {
      if (e.name === 'AbortError') return;
      results.replaceChildren();
      status.replaceChildren(errorBox(e));
    }
  }
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(false), 120);
  };
  input.addEventListener('input', later);
  type.addEventListener('change', () => run(false));
  more.addEventListener('click', () => run(true));
  const form = h(
    'form',
    { role: 'search', class: 'search', onsubmit: (ev) => { ev.preventDefault(); run(false); } },
    h('div', { class: 'field grow' }, h('label', { for: 'q' }, 'Search data products'), input,
      h('small', { id: 'q-help' }, 'Every word must match, as a prefix. Results update as you type.')),
    h('div', { class: 'field' }, h('label', { for: 'type' }, 'Port type'), type),
  );
  setPage('Search', h('h1', null, 'Find data products'), form, status, results, more);
  input.focus();
  run(false);
}

function resultItem(p) {
  return h(
    'li',
    { class: 'result' },
    h('h2', null, h('a', { href: productHref(p.domain, p.name) }, p.name), ' ', h('span', { class: 'ver' }, p.version)),
    h('p', { class: 'domain' }, p.domain, p.owner ? ` · owner ${p.owner}` : ''),
    p.description ? h('p', null, p.description) : null,
    p.matched && p.matched.length
      ? h('p', { class: 'matched' }, 'Matched: ', p.matched.map((m) => h('span', { class: 'chip' }, m)))
      : null,
  );
}

// ---- product

// Resolves a local reference ("#/$defs/point", "#/properties/a", "#") against the port's
// schema; null when it points elsewhere or nowhere.
function resolveRef(root, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#')) return null;
  if (ref === '#' || ref === '#/') return root;
  if (!ref.startsWith('#/')) return null;
  let cur = root;
  for (const raw of ref.slice(2).split('/')) {
    let seg;
    try {
      seg = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return null;
    }
    if (cur === null || typeof cur !== 'object' || !(seg in cur)) return null;
    cur = cur[seg];
  }
  return cur && typeof cur === 'object' ? cur : null;
}

const refName = (ref) => ref.replace(/^#\/(\$defs|definitions)\//, '').replace(/^#$/, 'the whole schema');

// A schema with its $ref followed (the referenced definition, with any sibling keywords
// on top), and the chain of names followed. Bounded, so reference cycles end.
function deref(root, schema) {
  let cur = schema;
  const via = [];
  for (let i = 0; i < 8 && cur && typeof cur === 'object' && typeof cur.$ref === 'string'; i++) {
    const target = resolveRef(root, cur.$ref);
    if (!target || via.includes(cur.$ref)) break;
    via.push(cur.$ref);
    const { $ref, ...rest } = cur;
    cur = { ...target, ...rest };
  }
  return { schema: cur, via };
}

function typeOf(root, raw, depth = 0) {
  if (!raw || typeof raw !== 'object') return raw === false ? 'nothing' : 'any';
  if (depth > 4) return '…';
  const { schema: s, via } = deref(root, raw);
  let t = Array.isArray(s.type) ? s.type.join(' | ') : s.type || '';
  if (s.$ref) t = `ref ${s.$ref}`; // not resolvable here: say where it points
  if (Array.isArray(s.prefixItems)) {
    const parts = s.prefixItems.map((x) => typeOf(root, x, depth + 1));
    if (s.items === false) t = `tuple [${parts.join(', ')}]`;
    else if (s.items && typeof s.items === 'object') t = `tuple [${parts.join(', ')}, …${typeOf(root, s.items, depth + 1)}]`;
    else t = `tuple [${parts.join(', ')}, …]`;
  } else if (Array.isArray(s.items)) {
    t = `tuple [${s.items.map((x) => typeOf(root, x, depth + 1)).join(', ')}]`;
  } else if ((t === 'array' || (!t && s.items)) && s.items && typeof s.items === 'object') {
    t = `array of ${typeOf(root, s.items, depth + 1)}`;
  }
  if (!t && (s.oneOf || s.anyOf)) t = (s.oneOf || s.anyOf).map((x) => typeOf(root, x, depth + 1)).join(' | ');
  if (!t && s.properties) t = 'object';
  if (s.format) t += ` (${s.format})`;
  t = t || 'any';
  return via.length ? `${t} — ${refName(via[via.length - 1])}` : t;
}

const CONSTRAINTS = ['enum', 'const', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'uniqueItems', 'multipleOf', 'minProperties', 'maxProperties', 'default'];

function constraintsOf(root, raw) {
  const { schema: s } = deref(root, raw);
  const out = [];
  for (const k of CONSTRAINTS) {
    if (!s || s[k] === undefined) continue;
    // A pattern is shown as written (JSON quoting would double its backslashes).
    if (k === 'pattern' && typeof s[k] === 'string') out.push(`pattern: ${s[k]}`);
    else out.push(`${k}: ${Array.isArray(s[k]) ? s[k].map((v) => JSON.stringify(v)).join(', ') : JSON.stringify(s[k])}`);
  }
  return out.join('; ');
}

// Flattens nested object properties into rows "a.b.c", following $refs (bounded depth
// and count, so recursive definitions end).
function schemaRows(root, schema, prefix = '', depth = 0, rows = []) {
  const { schema: s } = deref(root, schema);
  if (!s || typeof s !== 'object' || depth > 6 || rows.length > 500) return rows;
  const req = new Set(Array.isArray(s.required) ? s.required : []);
  for (const [name, raw] of Object.entries(s.properties || {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    const { schema: prop } = deref(root, raw);
    rows.push({
      path,
      type: typeOf(root, raw),
      required: req.has(name),
      constraints: constraintsOf(root, raw),
      description: (raw && (raw.description || raw.title)) || (prop && (prop.description || prop.title)) || '',
    });
    if (prop && prop.properties) schemaRows(root, prop, path, depth + 1, rows);
    const items = prop && prop.items && typeof prop.items === 'object' && !Array.isArray(prop.items) ? deref(root, prop.items).schema : null;
    if (items && items.properties) schemaRows(root, items, `${path}[]`, depth + 1, rows);
  }
  return rows;
}

function schemaTable(port) {
  if (!port.schema) return h('p', null, 'No schema declared.');
  const rows = schemaRows(port.schema, port.schema);
  if (!rows.length) return h('pre', { class: 'code' }, JSON.stringify(port.schema, null, 2));
  // The table scrolls sideways inside its own box on narrow screens (the region is
  // focusable so keyboard users can scroll it too).
  return h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': `Schema of port ${port.name}, scrollable` }, h(
    'table',
    { class: 'schema' },
    h('caption', null, `Schema of port ${port.name}`),
    h('thead', null, h('tr', null, ['Field', 'Type', 'Required', 'Constraints', 'Description'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows.map((r) => h('tr', null, h('th', { scope: 'row' }, h('code', null, r.path)), h('td', null, r.type), h('td', null, r.required ? 'yes' : 'no'), h('td', null, r.constraints), h('td', null, r.description)))),
  ));
}

function dl(obj) {
  if (!obj || typeof obj !== 'object' || !Object.keys(obj).length) return null;
  return h('dl', { class: 'kv' }, Object.entries(obj).map(([k, v]) => [h('dt', null, k), h('dd', null, typeof v === 'object' ? JSON.stringify(v) : String(v))]));
}

function copyButton(text, what) {
  return h('button', {
    type: 'button',
    class: 'copy',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        announce(`${what} copied`);
      } catch {
        announce('Copy is not available here; select the text instead');
      }
    },
  }, `Copy ${what}`);
}

function portSection(p) {
  const c = p.consume || {};
  return h(
    'section',
    { class: 'port', 'aria-labelledby': `port-${p.name}` },
    h('h3', { id: `port-${p.name}` }, p.name, ' ', h('span', { class: 'badge' }, p.type || 'port'), ' ', h('span', { class: `badge vis-${p.visibility}` }, p.visibility)),
    p.description ? h('p', null, p.description) : null,
    h('p', { class: 'meta' }, p.owner ? `Owner ${p.owner}` : '', p.channel ? ` · channel ` : '', p.channel ? h('code', null, p.channel) : '', p.allow && p.allow.length ? ` · readable by ${p.allow.join(', ')}` : ''),
    schemaTable(p),
    p.slo ? h('div', null, h('h4', null, 'Service levels'), dl(p.slo)) : null,
    p.retention ? h('div', null, h('h4', null, 'Retention'), dl(p.retention)) : null,
    p.samples && p.samples.length
      ? h('div', null, h('h4', null, 'Sample events'),
        h('pre', { class: 'code', tabindex: 0, 'aria-label': `Newest events of port ${p.name}` }, p.samples.map((ev) => JSON.stringify(ev.data)).join('\n')))
      : null,
    h('h4', null, 'How to consume'),
    ...consumeSnippets(p, c),
  );
}

// dmp serves events over HTTP for stream ports only: other ports (files, tables) are read
// where their technology keeps them, so they get no curl snippet that would answer 404.
function consumeSnippets(p, c) {
  if (p.type !== 'stream') {
    return [h('p', { class: 'note' }, `A ${p.type || 'non-stream'} port is read where its technology keeps it${p.technology ? ` (${p.technology})` : ''}, not through dmp's HTTP API.`)];
  }
  return [
    c.curl ? h('div', { class: 'snippet' }, h('pre', { class: 'code' }, h('code', null, c.curl)), copyButton(c.curl, 'curl command')) : null,
    c.cli ? h('div', { class: 'snippet' }, h('pre', { class: 'code' }, h('code', null, c.cli)), copyButton(c.cli, 'dmp command')) : null,
  ];
}

async function productPage(domain, name) {
  setPage(name, h('p', { class: 'status' }, 'Loading…'));
  let e;
  try {
    e = await api.entry(domain, name);
  } catch (err) {
    setPage('Not found', h('h1', null, `${domain}/${name}`), errorBox(err), h('p', null, h('a', { href: '#/' }, 'Back to search')));
    return;
  }
  // A registered (brownfield) product was never deployed: no provisioning state to ask for.
  const [dep, lin] = await Promise.all([
    e.source === 'register' ? null : api.deployed(domain, name),
    api.lineage(domain, name, 'both', 3).catch(() => null),
  ]);
  const state = dep && dep.state ? dep.state : e.source === 'register' ? 'registered (not provisioned)' : 'unknown';
  const facts = {
    Domain: e.domain,
    Version: e.version,
    Owner: e.owner || '—',
    State: state,
    Status: e.status || '—',
    Id: e.id,
  };
  setPage(
    name,
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('a', { href: '#/' }, 'Search'), ' / ', e.domain),
    h('h1', null, e.name, ' ', h('span', { class: 'ver' }, e.version)),
    e.description ? h('p', { class: 'lead' }, e.description) : null,
    h('dl', { class: 'facts' }, Object.entries(facts).map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    e.tags && e.tags.length ? h('p', null, 'Tags: ', e.tags.map((t) => h('span', { class: 'chip' }, t))) : null,
    h('p', { class: 'exports' }, 'Contracts: ', h('a', { href: e.exports.asyncapi }, 'AsyncAPI 3.0'), ' · ', h('a', { href: e.exports.openapi }, 'OpenAPI 3.1')),
    h('h2', null, 'Output ports'),
    ...(e.ports.length ? e.ports.map(portSection) : [h('p', null, 'No output ports.')]),
    e.inputs && e.inputs.length
      ? h('section', { 'aria-labelledby': 'inputs-h' }, h('h2', { id: 'inputs-h' }, 'Input ports'),
        h('ul', null, e.inputs.map((i) => h('li', null, h('strong', null, i.name), ' reads ', i.product, ' port ', h('code', null, i.port), i.filter ? [' where ', h('code', null, i.filter)] : []))))
      : null,
    h('section', { 'aria-labelledby': 'lineage-h', id: 'lineage' }, h('h2', { id: 'lineage-h' }, 'Lineage'),
      lin ? renderGraph({ nodes: lin.nodes, edges: lin.edges, root: lin.root, label: `Lineage of ${lin.root}` }) : h('p', null, 'No lineage available.'),
      lin && lin.cyclic ? h('p', { class: 'note' }, 'This graph has a cycle; each product is shown once.') : null),
    h('section', { 'aria-labelledby': 'versions-h' }, h('h2', { id: 'versions-h' }, 'Versions'),
      h('ul', null, (e.versions || []).map((v) => h('li', null, v.version, ` — ${v.source}, ${v.registered}`, v.deleted ? ' (deleted)' : '')))),
  );
  main.focus();
}

// ---- topology

async function topologyPage() {
  setPage('Mesh topology', h('p', { class: 'status' }, 'Loading…'));
  try {
    const t = await api.topology();
    setPage(
      'Mesh topology',
      h('h1', null, 'Mesh topology'),
      h('p', null, `${t.nodes.length} products in ${t.domains.length} domains, ${t.edges.length} connections. Producers are left of their consumers.`),
      renderGraph({ nodes: t.nodes, edges: t.edges, root: null, label: 'Mesh topology' }),
      h('h2', null, 'Domains'),
      h('ul', { class: 'domains' }, t.domains.map((d) => h('li', null, h('strong', null, d.name), ': ', d.products.map((k, i) => [i ? ', ' : '', h('a', { href: productHref(k.slice(0, k.lastIndexOf('/')), k.slice(k.lastIndexOf('/') + 1)) }, k.slice(k.lastIndexOf('/') + 1))])))),
    );
  } catch (err) {
    setPage('Mesh topology', h('h1', null, 'Mesh topology'), errorBox(err));
  }
}

// ---- router

function route() {
  const hash = location.hash || '#/';
  const m = hash.match(/^#\/product\/([^/]+)\/([^/]+)$/);
  if (m) return productPage(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
  if (hash.startsWith('#/topology')) return topologyPage();
  return searchPage();
}

// The skip link's "#main" would go through the hash router (and land on the search page):
// it moves the focus to the content instead, leaving the address alone.
document.querySelector('a.skip')?.addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
  main.scrollIntoView();
});

// The token field: the value is kept for this tab and the current page is loaded again
// with it. The field shows whether a token is set, never the token itself.
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token');
if (api.getToken()) tokenInput.placeholder = 'token set (enter a new one)';
tokenForm?.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = tokenInput.value.trim();
  api.setToken(t);
  tokenInput.value = '';
  tokenInput.placeholder = t ? 'token set (enter a new one)' : 'dmp_…';
  announce(t ? 'Token saved for this tab.' : 'Token cleared.');
  route();
});

window.addEventListener('hashchange', route);
route();
