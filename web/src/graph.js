// graph.js -- draws a product graph (lineage or topology) as an SVG of layered columns.
// Every node is a link to its product page, reachable with Tab and announced by its
// label; a text list of the edges follows the drawing for screen readers.

import { h, s, productHref } from './dom.js';

const W = 210;
const H = 46;
const GX = 90;
const GY = 26;

const LANE = 14; // vertical spacing of the lanes that back edges run along

// Columns: the node's "level" when the graph has one (lineage), else the longest path from
// a source. Cycles are broken first: a depth-first walk (in key order, so the drawing is
// stable) marks the edges that close a cycle as back edges, and the layering only follows
// the others, so a cycle's nodes sit in consecutive columns next to the rest.
function backEdges(nodes, edges) {
  const out = new Map(nodes.map((n) => [n.key, []]));
  edges.forEach((e, i) => out.has(e.from) && out.has(e.to) && out.get(e.from).push(i));
  const state = new Map(); // 1 on the walk's path, 2 done
  const back = new Set();
  const keys = nodes.map((n) => n.key).sort();
  const hasIn = new Set(edges.map((e) => e.to));
  // Sources first, then whatever is left (nodes only reachable around a cycle).
  for (const start of [...keys.filter((k) => !hasIn.has(k)), ...keys]) {
    if (state.has(start)) continue;
    const stack = [[start, 0]];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const list = out.get(top[0]);
      if (top[1] >= list.length) {
        state.set(top[0], 2);
        stack.pop();
        continue;
      }
      const i = list[top[1]++];
      const to = edges[i].to;
      if (state.get(to) === 1) back.add(i);
      else if (!state.has(to)) {
        state.set(to, 1);
        stack.push([to, 0]);
      }
    }
  }
  return back;
}

function levels(nodes, edges, back) {
  const lv = new Map();
  if (nodes.every((n) => Number.isInteger(n.level))) {
    for (const n of nodes) lv.set(n.key, n.level);
    return lv;
  }
  // Longest path over the acyclic rest, in topological order (Kahn).
  const indeg = new Map(nodes.map((n) => [n.key, 0]));
  const fwd = edges.filter((e, i) => !back.has(i) && indeg.has(e.from) && indeg.has(e.to));
  for (const e of fwd) indeg.set(e.to, indeg.get(e.to) + 1);
  const queue = nodes.filter((n) => indeg.get(n.key) === 0).map((n) => n.key);
  for (const k of queue) lv.set(k, 0);
  for (let qi = 0; qi < queue.length; qi++) {
    const k = queue[qi];
    for (const e of fwd) {
      if (e.from !== k) continue;
      lv.set(e.to, Math.max(lv.get(e.to) ?? 0, lv.get(k) + 1));
      indeg.set(e.to, indeg.get(e.to) - 1);
      if (indeg.get(e.to) === 0) queue.push(e.to);
    }
  }
  for (const n of nodes) if (!lv.has(n.key)) lv.set(n.key, 0);
  return lv;
}

export function renderGraph({ nodes, edges, root, label }) {
  const back = backEdges(nodes, edges);
  const lv = levels(nodes, edges, back);
  const cols = new Map();
  for (const n of nodes) {
    const l = lv.get(n.key) ?? 0;
    if (!cols.has(l)) cols.set(l, []);
    cols.get(l).push(n);
  }
  const order = [...cols.keys()].sort((a, b) => a - b);
  const colOf = new Map(order.map((l, ci) => [l, ci]));
  // Edges that do not run left to right (back edges of a cycle, edges within a column)
  // are routed through lanes above the boxes: one lane each, so they never overlap.
  const isBack = (e) => (colOf.get(lv.get(e.to)) ?? 0) <= (colOf.get(lv.get(e.from)) ?? 0);
  const lanes = edges.filter((e) => lv.has(e.from) && lv.has(e.to) && isBack(e)).length;
  const top0 = 20 + (lanes ? lanes * LANE + 10 : 0);
  const side = lanes ? 30 : 0; // room left and right for back edges to turn in
  const left0 = 20 + side;
  const pos = new Map();
  let maxRows = 1;
  order.forEach((l, ci) => {
    const col = cols.get(l).sort((a, b) => a.key.localeCompare(b.key));
    maxRows = Math.max(maxRows, col.length);
    col.forEach((n, ri) => pos.set(n.key, { x: left0 + ci * (W + GX), y: top0 + ri * (H + GY) }));
  });
  const width = 40 + 2 * side + order.length * W + Math.max(0, order.length - 1) * GX;
  const height = top0 + 20 + maxRows * H + (maxRows - 1) * GY;

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
  // Parallel edges (several ports between the same two products) fan out: each gets its
  // own offset, so neither the curves nor the port labels sit on top of each other.
  const pairCount = new Map();
  const pairSeen = new Map();
  for (const e of edges) pairCount.set(`${e.from}\n${e.to}`, (pairCount.get(`${e.from}\n${e.to}`) || 0) + 1);
  let lane = 0;
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const pair = `${e.from}\n${e.to}`;
    const k = pairSeen.get(pair) || 0;
    pairSeen.set(pair, k + 1);
    const spread = Math.min(12, (H - 10) / Math.max(1, pairCount.get(pair)));
    const off = (k - (pairCount.get(pair) - 1) / 2) * spread;
    const x1 = a.x + W;
    const y1 = a.y + H / 2 + off;
    const x2 = b.x;
    const y2 = b.y + H / 2 + off;
    let d;
    let lx;
    let ly;
    if (!isBack(e)) {
      const mx = (x1 + x2) / 2;
      d = `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`;
      lx = mx;
      // Labels of parallel edges stack a full line apart (the curves are closer).
      const k0 = k - (pairCount.get(pair) - 1) / 2;
      ly = (y1 - off + y2 - off) / 2 - 5 + k0 * 15;
    } else {
      // Out of the producer's right side, up into a lane of its own above the boxes, left
      // past the consumer, down and into the consumer's left side, so the arrowhead
      // points at the box from outside, where it can be seen.
      const ly0 = 16 + lane * LANE;
      lane++;
      const r1 = x1 + 14 + (lane % 3) * 5;
      const l2 = x2 - 14 - (lane % 3) * 5;
      d = `M ${x1} ${y1} H ${r1} V ${ly0} H ${l2} V ${y2} H ${x2}`;
      lx = (r1 + l2) / 2;
      ly = ly0 - 3;
    }
    svg.append(
      s('path', { d, class: `edge${isBack(e) ? ' back' : ''}`, 'marker-end': 'url(#arrow)' }, s('title', null, `${e.from} ${e.port || '(a port you may not read)'} → ${e.to}`)),
      s('text', { x: lx, y: ly, class: 'edge-label', 'aria-hidden': 'true' }, e.port || ''),
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
      h('li', null, h('a', { href: hrefOf(e.from) }, e.from), e.port ? ` → port ${e.port} → ` : ' → a port you may not read → ', h('a', { href: hrefOf(e.to) }, e.to), e.input ? ` (input ${e.input})` : ''),
    ),
  );
  return h('div', { class: 'graph-wrap' }, h('div', { class: 'graph-scroll' }, svg), edges.length ? list : h('p', null, 'No connections.'));
}

function hrefOf(key) {
  const i = key.lastIndexOf('/');
  return i > 0 ? productHref(key.slice(0, i), key.slice(i + 1)) : '#/';
}
