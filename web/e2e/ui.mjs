// ui.mjs -- drives the catalog web UI in Debian's chromium through playwright-core:
// search for a product by one of its schema fields, open it with the keyboard, see its
// ports and its upstream product in the lineage graph, then the mesh topology.
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
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => {
  if (m.type() === 'error') pageErrors.push(m.text());
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

await check('the mesh topology is drawn', async () => {
  await page.getByRole('link', { name: 'Mesh topology' }).click();
  await page.getByRole('heading', { level: 1, name: 'Mesh topology' }).waitFor({ timeout: 10000 });
  const keys = await page.locator('svg a.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-key')));
  expect(keys.includes('london.hammersmith.olympia/visitors'), `nodes ${keys}`);
  await page.screenshot({ path: join(artifacts, 'webui-topology.png'), fullPage: true });
});

await check('an unknown product shows a clear not-found message', async () => {
  await page.goto(base + '/#/product/no/such', { waitUntil: 'domcontentloaded' });
  await page.getByRole('alert').waitFor({ timeout: 5000 });
  const t = await page.getByRole('alert').textContent();
  expect(t.includes('Not found'), t);
});

await check('no script errors and nothing fetched from elsewhere', async () => {
  expect(pageErrors.filter((e) => !e.includes('404')).length === 0, pageErrors.join('; '));
  expect(offsite.length === 0, offsite.join(', '));
});

await ctx.close();
rmSync(profile, { recursive: true, force: true });
console.log(`ui: all ${step} steps ok`);
