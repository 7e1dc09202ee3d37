// Drives zashboard, served by xypro-stack at /ui/, in headless Debian Chromium: logs in with the
// secret, then checks from the rendered pages that the proxies page lists the real outbounds, a
// live download shows on the connections page with growing byte counts, closing it there ends
// the download, and switching a `select` group there moves the next connection.
//
// tests/dashboard.rs sets the environment and runs this; it exits non-zero on any failure.
// Nothing leaves the machine: Chromium resolves no names and every request to a host other
// than 127.0.0.1 is aborted.

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const admin = env('XYPRO_ADMIN');
const secret = env('XYPRO_SECRET');
const shots = env('XYPRO_SHOTS');
const outbounds = env('XYPRO_OUTBOUNDS').split(',');
const download = { socks: env('XYPRO_DL_SOCKS'), url: env('XYPRO_DL_URL') };
const pick = { socks: env('XYPRO_PICK_SOCKS'), url: env('XYPRO_PICK_URL') };
const base = `http://${admin}/ui/`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const step = (text) => console.log(`step: ${text}`);

/** Polls `check` until it returns something truthy, or fails after `limit` ms. */
async function until(what, check, limit = 15000) {
  const deadline = Date.now() + limit;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Runs curl through a SOCKS5 proxy; resolves with its exit code and output. */
function curl(socks, url, extra = []) {
  const child = spawn('curl', ['-sS', '--max-time', '60', '--socks5-hostname', socks, url, ...extra]);
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => process.stderr.write(`curl: ${chunk}`));
  const done = new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
  return { child, done };
}

/** Bytes from a size as zashboard prints it ("7.21 MB", "131 kB", "82 B", "1.5 KiB"). */
function bytes(text) {
  const match = /([\d.]+)\s*([kmgt]?i?b)/i.exec(text);
  if (!match) throw new Error(`not a size: ${text}`);
  const units = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3 };
  const unit = units[match[2].toUpperCase()];
  if (!unit) throw new Error(`unknown unit in ${text}`);
  return Number(match[1]) * unit;
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'xypro-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1440, height: 900 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  ],
});
// Only the proxy under test is reached; latency tests may only target local servers.
await context.route('**/*', (route) => {
  const url = new URL(route.request().url());
  const target = url.searchParams.get('url');
  const local = url.hostname === '127.0.0.1' && (!target || new URL(target).hostname === '127.0.0.1');
  return local ? route.continue() : route.abort('blockedbyclient');
});
const page = context.pages()[0] ?? (await context.newPage());
const shot = async (name) => {
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
  console.log(`screenshot: ${name}.png`);
};

try {
  step('log in with the secret');
  await page.goto(base, { waitUntil: 'networkidle' });
  await page.locator('input[type=text]').nth(0).fill(admin.split(':')[0]);
  await page.locator('input[type=text]').nth(1).fill(admin.split(':')[1]);
  await page.locator('input[type=password]').fill(secret);
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForURL(/#\/proxies/, { timeout: 15000 });
  // The "Backend switched" notice would cover the top right corner of the screenshots.
  const notice = page.getByText('Backend switched');
  if (await notice.waitFor({ timeout: 3000 }).then(() => true, () => false)) {
    await notice.locator('xpath=ancestor::*[.//button][1]').locator('button').first().click();
    await until('the notice to close', async () => (await notice.count()) === 0);
  }

  step('the proxies page lists the real outbounds');
  const global = page.locator('[data-group-name="GLOBAL"]');
  await global.waitFor();
  await global.getByText('GLOBAL', { exact: true }).click();
  for (const name of outbounds) {
    await global.locator('span', { hasText: new RegExp(`^${name}$`) }).first().waitFor();
  }
  await sleep(500);
  await shot('proxies');

  step('a live download appears with growing byte counts');
  const transfer = curl(download.socks, download.url, ['-o', '/dev/null', '-w', '%{size_download}']);
  await page.goto(`${base}#/connections`);
  const host = new URL(download.url).host;
  const row = page.locator('tbody tr', { has: page.locator('td', { hasText: host }) });
  await row.waitFor({ timeout: 15000 });
  const seen = [];
  while (seen.length < 3) {
    const size = bytes(await row.locator('td').nth(7).innerText());
    if (!seen.length || size > seen[seen.length - 1]) seen.push(size);
    await sleep(400);
  }
  console.log(`download as the page shows it: ${seen.join(' < ')} bytes`);
  await shot('connections');

  step('closing it on the page ends the download');
  await row.locator('td').first().locator('button').click();
  const ended = await Promise.race([transfer.done, sleep(10000).then(() => null)]);
  if (!ended) throw new Error('the download went on after it was closed');
  const got = Number(ended.stdout);
  console.log(`curl ended with code ${ended.code} after ${got} bytes`);
  if (ended.code === 0) throw new Error('the download finished instead of being cut');
  await until('the row to leave the active list', async () => (await row.count()) === 0);
  await shot('connections-closed');

  step('switching the select group moves the next connection');
  const before = await curl(pick.socks, pick.url).done;
  if (before.stdout !== 'site-a') throw new Error(`before the switch: ${before.stdout}`);
  await page.goto(`${base}#/proxies`);
  const group = page.locator('[data-group-name="group"]');
  await group.waitFor();
  await group.getByText('group', { exact: true }).first().click();
  await group.locator('span', { hasText: /^site_b$/ }).first().click();
  await until('site_b to be the active card', async () => {
    const active = group.locator('.proxy-active-card');
    return (await active.count()) > 0 && (await active.first().innerText()).includes('site_b');
  });
  const after = await curl(pick.socks, pick.url).done;
  if (after.stdout !== 'site-b') throw new Error(`after the switch: ${after.stdout}`);
  await sleep(500);
  await shot('proxies-switched');

  step('the other pages render');
  for (const name of ['overview', 'logs']) {
    await page.goto(`${base}#/${name}`);
    await sleep(1500);
    await shot(name);
  }
  console.log('dashboard: all checks passed');
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
