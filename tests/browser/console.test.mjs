// console.test.mjs - drives Debian's chromium through the hookd console.
// Run by tests/integration/test_console.py, which starts hookd (or the fake
// API) and says what Redis holds:
//   HOOKD_CONSOLE_URL  http://127.0.0.1:PORT/
//   HOOKD_API_TOKEN    the token to sign in with
//   HOOKD_EXPECT       JSON: {depths:{...}, webhooks:[id...], failing, failing_url,
//                      description, dead_id, dead_delivery, retry_id, host_state?}
//   HOOKD_SCREENSHOTS  where every page's screenshot goes
// Exits 0 when every check passed; prints each failure.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.HOOKD_CONSOLE_URL;
const token = process.env.HOOKD_API_TOKEN;
const want = JSON.parse(process.env.HOOKD_EXPECT || '{}');
const shots = process.env.HOOKD_SCREENSHOTS || 'screenshots';
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.HOOKD_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
let failures = 0;
const errors = []; // console errors and CSP violations of the pages

async function step(name, fn) {
  try {
    await fn();
    console.log('ok   ' + name);
  } catch (e) {
    failures++;
    console.log('FAIL ' + name + ': ' + (e && e.message ? e.message : e));
  }
}

async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400 && r.status() !== 401) errors.push(r.status() + ' ' + r.request().method() + ' ' + r.url()); });
  page.on('dialog', (d) => d.accept());
  return page;
}

// Waits for the page the router drew for hash.
async function open(page, hash, name) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForSelector(`main[data-page="${name}"][aria-busy="false"]`, { timeout: 15000 });
}

const shot = (page, name) => page.screenshot({ path: join(shots, name + '.png'), fullPage: true });
const text = (page, sel) => page.locator(sel).innerText();

// ---- a wrong token: back to the form, with the reason ----
await step('a wrong token shows the sign-in form with an error', async () => {
  const page = await newPage();
  await page.goto(base);
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('#token', 'not-the-token');
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => document.getElementById('login-error').textContent !== '');
  assert.equal(await page.isVisible('#login'), true);
  assert.equal(await page.isVisible('#nav'), false);
  assert.match(await text(page, '#login-error'), /refused/i);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('hookd.token')), null);
  await shot(page, 'wrong-token');
  await page.context().close();
});

const page = await newPage();

await step('sign in; the token is sent as a bearer token', async () => {
  await page.goto(base);
  await shot(page, 'login');
  const auth = page.waitForRequest((r) => r.url().includes('/v1/'));
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  assert.equal((await auth).headers().authorization, 'Bearer ' + token);
  await page.waitForSelector('main[data-page="overview"][aria-busy="false"]', { timeout: 15000 });
});

await step('overview shows the depths Redis holds, and rates after two samples', async () => {
  for (const [k, v] of Object.entries(want.depths || {}))
    assert.equal(await text(page, `[data-depth="${k}"] .value`), String(v), 'depth ' + k);
  // The second sample (2 s later) gives every counter a rate.
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('[data-counter] td:last-child')];
    return cells.length > 0 && cells.every((c) => c.textContent !== '—');
  }, null, { timeout: 10000 });
  await shot(page, 'overview');
});

await step('webhooks lists every webhook, with its host health', async () => {
  await open(page, '#/webhooks', 'webhooks');
  const ids = await page.locator('#webhooks [data-webhook]').evaluateAll((rs) => rs.map((r) => r.dataset.webhook));
  assert.deepEqual(ids.sort(), [...want.webhooks].sort());
  if (want.host_state)
    assert.equal(await text(page, `[data-webhook="${want.failing}"] td:nth-child(6)`), want.host_state);
  await shot(page, 'webhooks');
});

await step('one webhook: settings and its attempts', async () => {
  await page.click(`#webhooks a[href="#/webhook/${want.failing}"]`);
  await page.waitForSelector('main[data-page="webhooks"][aria-busy="false"] #settings');
  assert.equal(await text(page, '#webhook-id'), want.failing);
  assert.equal(await text(page, '[data-field="url"]'), want.failing_url);
  assert.equal(await text(page, '[data-field="secret"]'), '<hidden>');
  // Text from the API is shown as text, never parsed as HTML.
  assert.equal(await text(page, '[data-field="description"]'), want.description);
  assert.equal(await page.locator('#injected').count(), 0);
  if (want.dead_delivery)
    assert.ok(await page.locator(`#attempts [data-delivery="${want.dead_delivery}"]`).count() >= 1,
      'the failed attempt of ' + want.dead_delivery);
  await shot(page, 'webhook');
});

await step('one webhook: send a test shows the outcome', async () => {
  await page.click('#send-test');
  await page.waitForFunction(() => /status/.test(document.getElementById('test-out').textContent),
    null, { timeout: 15000 });
  assert.match(await text(page, '#test-out'), /^delivered, status 200/);
  await shot(page, 'webhook-test');
});

await step('retries lists what waits in the retry set', async () => {
  await open(page, '#/retries', 'retries');
  assert.equal(await page.locator(`#retries [data-retry="${want.retry_id}"]`).count(), 1);
  assert.equal(await page.locator('#retries [data-retry]').count(), want.depths.retry);
  await shot(page, 'retries');
});

await step('retries: retry now', async () => {
  await page.click(`[data-retry="${want.retry_id}"] button.retry-now`);
  await page.waitForFunction(() => /retry/.test(document.getElementById('flash').textContent));
  assert.equal(await text(page, '#flash'), 'retry queued');
});

await step('dead letters: filter, then replay the one record by its id', async () => {
  await open(page, '#/dead', 'dead');
  assert.equal(await page.locator('#dead [data-dead]').count(), want.depths.dead);
  await page.fill('#dead-filter input[name=webhook]', 'wh_nobody');
  await page.click('#dead-filter button[type=submit]');
  await page.waitForSelector('main[data-page="dead"][aria-busy="false"] #dead');
  assert.equal(await page.locator('#dead [data-dead]').count(), 0);
  await page.fill('#dead-filter input[name=webhook]', want.failing);
  await page.click('#dead-filter button[type=submit]');
  await page.waitForSelector(`main[data-page="dead"][aria-busy="false"] [data-dead="${want.dead_id}"]`);
  await shot(page, 'dead');
  await page.click(`[data-dead="${want.dead_id}"] button.replay`);
  await page.waitForFunction(() => /replayed/.test(document.getElementById('flash').textContent));
  assert.equal(await text(page, '#flash'), '1 replayed, 0 skipped');
  await page.waitForSelector('main[data-page="dead"][aria-busy="false"] #dead');
  assert.equal(await page.locator(`[data-dead="${want.dead_id}"]`).count(), 0);
  await shot(page, 'dead-replayed');
});

await step('dead letters: purge asks, then says how many went', async () => {
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); });
  await page.click('#purge');
  await page.waitForFunction(() => /purged/.test(document.getElementById('flash').textContent));
  assert.match(asked, /^Purge the dead letters matching the filter\?/);
  assert.equal(await text(page, '#flash'), '0 purged');
});

await step('no console errors and no CSP violations', async () => {
  assert.deepEqual(errors.filter((e) => !/401/.test(e)), []);
});

await browser.close();
console.log(failures ? failures + ' failed' : 'all passed');
process.exit(failures ? 1 : 0);
