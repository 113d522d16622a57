// graph.js -- draws a product graph (lineage or topology) as an SVG of layered columns.
// Every node is a link to its product page, reachable with Tab and announced by its
// label; a text list of the edges follows the drawing for screen readers.

import { h, s, productHref } from './dom.js';

const W = 210;
const H = 46;
const GX = 90;
const GY = 26;

// Columns: the node's "level" when the graph has one (lineage), else the longest path
// from a source, computed with a bounded relaxation so cycles cannot loop.
function levels(nodes, edges) {
  const lv = new Map();
  const hasLevel = nodes.every((n) => Number.isInteger(n.level));
  if (hasLevel) {
    for (const n of nodes) lv.set(n.key, n.level);
    return lv;
  }
  for (const n of nodes) lv.set(n.key, 0);
  for (let round = 0; round < Math.min(nodes.length, 50); round++) {
    let changed = false;
    for (const e of edges) {
      const a = lv.get(e.from);
      const b = lv.get(e.to);
      if (a === undefined || b === undefined) continue;
      if (b < a + 1 && a + 1 <= nodes.length) {
        lv.set(e.to, a + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return lv;
}

export function renderGraph({ nodes, edges, root, label }) {
  const lv = levels(nodes, edges);
  const cols = new Map();
  for (const n of nodes) {
    const l = lv.get(n.key) ?? 0;
    if (!cols.has(l)) cols.set(l, []);
    cols.get(l).push(n);
  }
  const order = [...cols.keys()].sort((a, b) => a - b);
  const pos = new Map();
  let maxRows = 1;
  order.forEach((l, ci) => {
    const col = cols.get(l).sort((a, b) => a.key.localeCompare(b.key));
    maxRows = Math.max(maxRows, col.length);
    col.forEach((n, ri) => pos.set(n.key, { x: 20 + ci * (W + GX), y: 20 + ri * (H + GY) }));
  });
  const width = 40 + order.length * W + Math.max(0, order.length - 1) * GX;
  const height = 40 + maxRows * H + (maxRows - 1) * GY;

  const svg = s(
    'svg',
    {
      class: 'graph',
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'group',
      'aria-label': label,
    },
    s(
      'defs',
      null,
      s(
        'marker',
        { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' },
        s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }),
      ),
    ),
  );
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W;
    const y1 = a.y + H / 2;
    const x2 = b.x;
    const y2 = b.y + H / 2;
    let d;
    if (x2 > x1) {
      const mx = (x1 + x2) / 2;
      d = `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`;
    } else {
      // Back edge (a cycle, or same column): loop around above the boxes.
      const top = Math.min(a.y, b.y) - 14;
      d = `M ${x1} ${y1} C ${x1 + 60} ${top}, ${x2 - 60} ${top}, ${x2} ${y2}`;
    }
    svg.append(
      s('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' }, s('title', null, `${e.from} ${e.port} → ${e.to}`)),
      s('text', { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 6, class: 'edge-label', 'aria-hidden': 'true' }, e.port || ''),
    );
  }
  for (const n of nodes) {
    const p = pos.get(n.key);
    const missing = n.missing === true;
    const name = n.name || n.key;
    const text = `${name}${n.version ? ' ' + n.version : ''}`;
    const a = s(
      'a',
      {
        href: missing ? null : productHref(n.domain, n.name),
        class: `node${n.key === root ? ' root' : ''}${missing ? ' missing' : ''}`,
        'aria-label': `${n.key}${n.version ? ' version ' + n.version : ''}${missing ? ' (not in the catalog)' : ''}${n.key === root ? ' (this product)' : ''}`,
        'data-key': n.key,
        tabindex: missing ? 0 : null,
      },
      s('rect', { x: p.x, y: p.y, width: W, height: H, rx: 8 }),
      s('text', { x: p.x + 10, y: p.y + 19, class: 'node-name' }, text.length > 28 ? text.slice(0, 27) + '…' : text),
      s('text', { x: p.x + 10, y: p.y + 36, class: 'node-domain' }, (n.domain || '').slice(0, 32)),
    );
    svg.append(a);
  }
  const list = h(
    'ul',
    { class: 'edge-list', 'aria-label': `${label}: connections` },
    edges.map((e) =>
      h('li', null, h('a', { href: hrefOf(e.from) }, e.from), ` → port ${e.port} → `, h('a', { href: hrefOf(e.to) }, e.to), e.input ? ` (input ${e.input})` : ''),
    ),
  );
  return h('div', { class: 'graph-wrap' }, h('div', { class: 'graph-scroll' }, svg), edges.length ? list : h('p', null, 'No connections.'));
}

function hrefOf(key) {
  const i = key.lastIndexOf('/');
  return i > 0 ? productHref(key.slice(0, i), key.slice(i + 1)) : '#/';
}
