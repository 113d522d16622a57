// ui.mjs -- drives the catalog web UI in Debian's chromium through playwright-core:
// search for a product by one of its schema fields, open it with the keyboard, see its
// ports and its upstream product in the lineage graph, then the mesh topology. Also: no
// "null" text on a product without tags, $ref and tuple types in schema tables, no HTTP
// snippet for a files port, the skip link, a 390px-wide screen, parallel edges and a
// cycle in the graphs, and no console errors.
//
//   node e2e/ui.mjs BASE_URL ARTIFACT_DIR
//
// Prints one line per step and exits non-zero at the first failure. Screenshots are
// saved under ARTIFACT_DIR.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, artifacts] = process.argv.slice(2);
if (!base || !artifacts) {
  console.error('usage: node e2e/ui.mjs BASE_URL ARTIFACT_DIR');
  process.exit(64);
}
mkdirSync(artifacts, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'dmp-chromium-'));

const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1280, height: 900 },
});
const page = ctx.pages()[0] || (await ctx.newPage());
// Every script error and console error fails the run; only the step that opens an
// unknown product on purpose may see its 404.
const pageErrors = [];
let expect404 = false;
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => {
  if (m.type() === 'error' && !(expect404 && m.text().includes('404'))) pageErrors.push(m.text());
});
// No request may leave the machine: everything is served by dmp.
const offsite = [];
page.on('request', (r) => {
  const u = new URL(r.url());
  if (u.origin !== new URL(base).origin && u.protocol !== 'data:') offsite.push(r.url());
});

let step = 0;
async function check(name, fn) {
  step++;
  try {
    await fn();
    console.log(`ok   ${step} ${name}`);
  } catch (e) {
    console.log(`FAIL ${step} ${name}: ${e.message}`);
    await page.screenshot({ path: join(artifacts, `failure-${step}.png`), fullPage: true }).catch(() => {});
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
    process.exit(1);
  }
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

await check('search page loads with a labelled search box', async () => {
  await page.goto(base + '/', { waitUntil: 'domcontentloaded' });
  const box = page.getByLabel('Search data products');
  await box.waitFor({ timeout: 10000 });
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, button')].filter((el) => {
      if (el.labels && el.labels.length) return false;
      return !(el.getAttribute('aria-label') || el.textContent.trim());
    }).length,
  );
  expect(unlabelled === 0, `${unlabelled} controls have no label`);
});

await check('typing a schema field shows the product as you type', async () => {
  await page.getByLabel('Search data products').fill('');
  await page.keyboard.type('part', { delay: 30 });
  // The list starts with every product; once the query ran only matches remain, each
  // saying why it matched.
  await page.locator('.result .chip', { hasText: /^schema:part/ }).first().waitFor({ timeout: 10000 });
  // A shorter prefix typed on the way ('pa', 'par') may match more products: wait for the
  // query of the whole word to settle the list.
  await page.locator('#result-count', { hasText: /^1 product$/ }).waitFor({ timeout: 10000 });
  const names = await page.locator('.result h2 a').allTextContents();
  expect(names.length === 1 && names[0] === 'visitors', `results: ${names}`);
  await page.screenshot({ path: join(artifacts, 'webui-search.png'), fullPage: true });
});

await check('the product opens with the keyboard', async () => {
  await page.getByRole('link', { name: 'visitors', exact: true }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: /visitors/ }).waitFor({ timeout: 10000 });
  expect(page.url().includes('#/product/london.hammersmith.olympia/visitors'), page.url());
});

await check('its ports are shown with schema tables and consume snippets', async () => {
  for (const port of ['entries', 'occupancy']) {
    await page.getByRole('heading', { level: 3, name: new RegExp(`^${port}`) }).waitFor({ timeout: 5000 });
  }
  const table = page.getByRole('table', { name: 'Schema of port entries' });
  await table.waitFor();
  const fields = await table.locator('tbody th').allTextContents();
  for (const f of ['hall', 'at', 'party']) expect(fields.includes(f), `field ${f} missing: ${fields}`);
  const text = await table.textContent();
  expect(text.includes('maximum: 130'), 'constraints shown');
  const code = await page.locator('pre.code').allTextContents();
  expect(code.some((c) => c.startsWith('curl ')), 'curl snippet');
  expect(code.some((c) => c.startsWith('dmp tail ')), 'dmp tail snippet');
});

await check('the lineage graph shows the upstream product', async () => {
  const node = page.locator('#lineage svg a.node[data-key="london.hammersmith.olympia/gate-sensors"]');
  await node.waitFor({ timeout: 5000 });
  const label = await node.getAttribute('aria-label');
  expect(label.includes('gate-sensors'), `label ${label}`);
  const edges = await page.locator('#lineage .edge-list li').allTextContents();
  expect(edges.some((e) => e.includes('gate-sensors') && e.includes('readings')), `edges ${edges}`);
  await page.locator('#lineage').screenshot({ path: join(artifacts, 'webui-lineage.png') });
  await page.screenshot({ path: join(artifacts, 'webui-product.png'), fullPage: true });
});

await check('graph nodes are keyboard-navigable links to their products', async () => {
  const node = page.locator('#lineage svg a.node[data-key="london.hammersmith.olympia/gate-sensors"]');
  await node.focus();
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('data-key'));
  expect(focused === 'london.hammersmith.olympia/gate-sensors', `focus on ${focused}`);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: /gate-sensors/ }).waitFor({ timeout: 10000 });
});

// No optional part of a page (tags, input ports, ...) may show up as the text "null".
async function noNullText() {
  const bad = await page.evaluate(() =>
    [...document.querySelectorAll('#main, #main *')]
      .filter((el) => [...el.childNodes].some((c) => c.nodeType === 3 && /\bnull\b|\bundefined\b/.test(c.textContent)))
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  expect(bad.length === 0, `"null" shown: ${bad.join(' | ')}`);
}

const GEO = 'london.hammersmith.olympia.exhibition-halls.navigation/geo-positions-of-every-visitor';
const GEO_URL = `${base}/#/product/${GEO.split('/').map(encodeURIComponent).join('/')}`;

await check('a product without tags or input ports shows no "null"', async () => {
  // gate-sensors (reached through the graph) has neither tags nor input ports.
  await page.getByRole('heading', { level: 1, name: /gate-sensors/ }).waitFor({ timeout: 5000 });
  await page.getByRole('heading', { level: 2, name: 'Lineage' }).waitFor({ timeout: 5000 });
  await noNullText();
  await page.goto(GEO_URL, { waitUntil: 'domcontentloaded' });
  await page.getByRole('heading', { level: 1, name: /geo-positions/ }).waitFor({ timeout: 10000 });
  await page.getByRole('heading', { level: 2, name: 'Lineage' }).waitFor({ timeout: 5000 });
  await noNullText();
  await page.screenshot({ path: join(artifacts, 'webui-product-notags.png'), fullPage: true });
});

await check('$ref fields show the referenced definition, tuples their item types', async () => {
  const table = page.getByRole('table', { name: 'Schema of port positions-with-a-long-port-name' });
  const rows = await table.locator('tbody tr').evaluateAll((trs) =>
    Object.fromEntries(trs.map((tr) => [tr.querySelector('th').textContent, [...tr.querySelectorAll('td')].map((td) => td.textContent)])),
  );
  expect(rows.p && rows.p[0].includes('object') && rows.p[0].includes('point') && !rows.p[0].startsWith('ref'), `p: ${rows.p}`);
  expect(rows.p[3] === 'Where the visitor stands', `p description: ${rows.p}`);
  expect(rows['p.x'] && rows['p.x'][0] === 'number' && rows['p.x'][2].includes('minimum: -180'), `p.x: ${rows['p.x']}`);
  expect(rows['p.y'] && rows['p.y'][1] === 'yes', `p.y required: ${rows['p.y']}`);
  expect(rows.pair && rows.pair[0].includes('tuple [integer, string (date-time)'), `pair: ${rows.pair}`);
  expect(rows.trail && rows.trail[0].includes('array of object') && rows['trail[].x'], `trail: ${rows.trail} ${Object.keys(rows)}`);
});

await check('a files port has no HTTP read snippet', async () => {
  const files = page.locator('section.port', { has: page.getByRole('heading', { level: 3, name: /^dumps/ }) });
  await files.waitFor({ timeout: 5000 });
  const code = await files.locator('pre.code').allTextContents();
  expect(code.length === 0, `files port snippets: ${code}`);
  const stream = page.locator('section.port', { has: page.getByRole('heading', { level: 3, name: /^positions/ }) });
  const sc = await stream.locator('pre.code').allTextContents();
  expect(sc.some((c) => c.startsWith('curl ')), 'stream port keeps its curl snippet');
});

await check('the skip link moves focus to the content and keeps the page', async () => {
  const before = page.url();
  // It is the first thing in the page: Shift+Tab from the header's first link reaches it,
  // and it becomes visible when focused.
  await page.locator('a.brand').focus();
  await page.keyboard.press('Shift+Tab');
  const first = await page.evaluate(() => document.activeElement && document.activeElement.className);
  expect(first === 'skip', `Tab stop before the header: ${first}`);
  const box = await page.locator('a.skip').boundingBox();
  expect(box && box.x >= 0, `skip link not visible when focused: ${JSON.stringify(box)}`);
  await page.keyboard.press('Enter');
  await page.waitForTimeout(200);
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  expect(focused === 'main', `focus on ${focused}`);
  expect(page.url() === before, `address changed: ${page.url()}`);
  await page.getByRole('heading', { level: 1, name: /geo-positions/ }).waitFor({ timeout: 2000 });
});

await check('at 390px the port cards hold their tables and channel names', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const over = await page.evaluate(() => {
    const out = [];
    if (document.documentElement.scrollWidth > window.innerWidth) {
      const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('pre, .table-scroll, .graph-scroll'));
      out.push(`page ${document.documentElement.scrollWidth}px wide: ${wide.slice(0, 5).map((el) => `${el.tagName}.${el.className} ${el.textContent.slice(0, 30)}`).join(', ')}`);
    }
    for (const port of document.querySelectorAll('section.port')) {
      const box = port.getBoundingClientRect();
      if (port.scrollWidth > port.clientWidth + 1) out.push(`port ${port.id || port.textContent.slice(0, 20)} scrolls`);
      // Inside pre and .table-scroll, wide content scrolls in its own box: those boxes
      // must fit, what they hold may not.
      for (const el of [...port.querySelectorAll('code, pre, .table-scroll, h3, p')].filter((x) => !x.parentElement.closest('pre, .table-scroll'))) {
        const r = el.getBoundingClientRect();
        if (r.right > box.right + 1) out.push(`${el.tagName} ${el.textContent.slice(0, 30)} overflows by ${Math.round(r.right - box.right)}px`);
      }
    }
    return out;
  });
  await page.screenshot({ path: join(artifacts, 'webui-product-390.png'), fullPage: true });
  await page.locator('section.port').first().screenshot({ path: join(artifacts, 'webui-port-390.png') });
  expect(over.length === 0, over.join('; '));
  await page.setViewportSize({ width: 1280, height: 900 });
});

await check('parallel edges keep their port labels apart', async () => {
  await page.goto(`${base}/#/product/london.hammersmith.olympia/footfall`, { waitUntil: 'domcontentloaded' });
  await page.getByRole('heading', { level: 1, name: /footfall/ }).waitFor({ timeout: 10000 });
  const svg = page.locator('#lineage svg');
  await svg.waitFor({ timeout: 5000 });
  const labels = await svg.locator('text.edge-label').evaluateAll((ts) => ts.map((t) => {
    const r = t.getBoundingClientRect();
    return { text: t.textContent, top: r.top, bottom: r.bottom, left: r.left, right: r.right };
  }));
  expect(labels.length === 2, `labels: ${JSON.stringify(labels)}`);
  const [a, b] = labels;
  const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  expect(!overlap, `labels overlap: ${JSON.stringify(labels)}`);
  await page.locator('#lineage').screenshot({ path: join(artifacts, 'webui-parallel.png') });
});

await check('a cycle is laid out on screen with its back edge visible', async () => {
  await page.goto(`${base}/#/topology`, { waitUntil: 'domcontentloaded' });
  await page.getByRole('heading', { level: 1, name: 'Mesh topology' }).waitFor({ timeout: 10000 });
  const svg = page.locator('svg.graph');
  await svg.waitFor({ timeout: 5000 });
  const geo = await svg.evaluate((el) => {
    const box = el.getBoundingClientRect();
    const nodes = [...el.querySelectorAll('a.node')].map((a) => {
      const r = a.querySelector('rect').getBoundingClientRect();
      return { key: a.getAttribute('data-key'), left: r.left, right: r.right, top: r.top };
    });
    const back = [...el.querySelectorAll('path.edge.back')].map((p) => {
      const r = p.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, left: r.left, right: r.right };
    });
    return { box: { left: box.left, right: box.right, top: box.top }, nodes, back, view: window.innerWidth };
  });
  const cycle = geo.nodes.filter((n) => n.key.startsWith('cyc/'));
  expect(cycle.length === 3, `cycle nodes: ${JSON.stringify(geo.nodes)}`);
  for (const n of geo.nodes) expect(n.right <= geo.view, `${n.key} is off-screen (right ${n.right} > ${geo.view})`);
  // Every column holds a node: no empty column pushes the drawing wider.
  const cols = [...new Set(geo.nodes.map((n) => Math.round(n.left)))].sort((x, y) => x - y);
  for (let i = 1; i < cols.length; i++) expect(cols[i] - cols[i - 1] < 400, `gap between columns ${cols}`);
  expect(geo.back.length === 1, `back edges: ${JSON.stringify(geo.back)}`);
  const e = geo.back[0];
  expect(e.top > geo.box.top + 4, `back edge runs along the top border (${e.top} vs ${geo.box.top})`);
  expect(e.left > geo.box.left + 4 && e.right < geo.box.right - 4, `back edge runs along a side border: ${JSON.stringify(e)} in ${JSON.stringify(geo.box)}`);
  await page.locator('.graph-wrap').screenshot({ path: join(artifacts, 'webui-cycle.png') });
});

await check('the mesh topology is drawn', async () => {
  await page.getByRole('link', { name: 'Mesh topology' }).click();
  await page.getByRole('heading', { level: 1, name: 'Mesh topology' }).waitFor({ timeout: 10000 });
  const keys = await page.locator('svg a.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-key')));
  expect(keys.includes('london.hammersmith.olympia/visitors'), `nodes ${keys}`);
  await page.screenshot({ path: join(artifacts, 'webui-topology.png'), fullPage: true });
});

await check('no script or console errors so far (registered products included)', async () => {
  expect(pageErrors.length === 0, pageErrors.join('; '));
});

await check('an unknown product shows a clear not-found message', async () => {
  expect404 = true;
  await page.goto(base + '/#/product/no/such', { waitUntil: 'domcontentloaded' });
  await page.getByRole('alert').waitFor({ timeout: 5000 });
  const t = await page.getByRole('alert').textContent();
  expect(t.includes('Not found'), t);
  expect404 = false;
});

await check('no script errors and nothing fetched from elsewhere', async () => {
  expect(pageErrors.length === 0, pageErrors.join('; '));
  expect(offsite.length === 0, offsite.join(', '));
});

await ctx.close();
rmSync(profile, { recursive: true, force: true });
console.log(`ui: all ${step} steps ok`);
