// token.mjs -- the web UI against a server that requires authentication (dmp serve
// --tokens): the page and its assets load without a token, an API call without one
// says to enter a token, and after entering one in the labelled "API token" field the
// search finds a product by one of its schema fields. The token never shows in the page
// or the address.
//
//   node e2e/token.mjs BASE_URL ARTIFACT_DIR TOKEN
//
// Prints one line per step and exits non-zero at the first failure.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, artifacts, token] = process.argv.slice(2);
if (!base || !artifacts || !token) {
  console.error('usage: node e2e/token.mjs BASE_URL ARTIFACT_DIR TOKEN');
  process.exit(64);
}
mkdirSync(artifacts, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'dmp-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  viewport: { width: 1280, height: 900 },
});
const page = ctx.pages()[0] || (await ctx.newPage());
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));

let step = 0;
async function check(name, fn) {
  step++;
  try {
    await fn();
    console.log(`ok   ${step} ${name}`);
  } catch (e) {
    console.log(`FAIL ${step} ${name}: ${e.message}`);
    await page.screenshot({ path: join(artifacts, `failure-token-${step}.png`), fullPage: true }).catch(() => {});
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
    process.exit(1);
  }
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

await check('the page loads without a token and asks for one', async () => {
  const res = await page.goto(base + '/', { waitUntil: 'domcontentloaded' });
  expect(res.status() === 200, `GET / answered ${res.status()}`);
  await page.getByLabel('Search data products').waitFor({ timeout: 10000 });
  await page.getByRole('alert').waitFor({ timeout: 10000 });
  const t = await page.getByRole('alert').textContent();
  expect(t.includes('token'), `alert: ${t}`);
});

await check('after entering a token, search finds a product by a schema field', async () => {
  const field = page.getByLabel('API token');
  await field.fill(token);
  await page.getByRole('button', { name: 'Use token' }).click();
  const box = page.getByLabel('Search data products');
  await box.fill('gate_id');
  await page.locator('#results a', { hasText: 'gate-sensors' }).waitFor({ timeout: 10000 });
  await page.screenshot({ path: join(artifacts, 'webui-token.png'), fullPage: true });
});

await check('the token is kept for the tab, and never shown', async () => {
  const stored = await page.evaluate(() => sessionStorage.getItem('dmp-token'));
  expect(stored === token, 'not in sessionStorage');
  const html = await page.content();
  expect(!html.includes(token) && !page.url().includes(token), 'token visible in the page or address');
  expect(pageErrors.length === 0, pageErrors.join('; '));
});

await ctx.close();
rmSync(profile, { recursive: true, force: true });
console.log(`token: all ${step} steps ok`);
