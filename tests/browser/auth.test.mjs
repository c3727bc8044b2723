// auth.test.mjs - moat's login portal in a real browser, end to end.
//
// Through moat (config in tests/integration/test_browser_auth.py): log in
// with the form, set up TOTP by reading the secret off the enrollment page,
// log out, log in with password and code, reach a role-protected page, be
// refused another, log out, and be refused with the old cookie. Every portal
// page must load without a Content-Security-Policy violation (no inline
// script or style) under moat's default CSP.
//
// Run by tests/integration/test_browser_auth.py, which sets:
//   MOAT_URL     moat in front of the echo app
//   MOAT_USER, MOAT_PASSWORD   a user with role admin (and not ops)
//   CHROMIUM     the browser (default /usr/bin/chromium)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const BASE = process.env.MOAT_URL;
const USER = process.env.MOAT_USER;
const PASSWORD = process.env.MOAT_PASSWORD;
const TIMEOUT = 30000; // every browser wait is bounded

let context;
let userDataDir;
const cspErrors = [];

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    assert.ok(i >= 0, `not base32: ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

// RFC 6238 with SHA-1, 30 s steps, 6 digits.
function totp(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const off = h[h.length - 1] & 0xf;
  const n = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
  return String(n % 1000000).padStart(6, '0');
}

before(async () => {
  assert.ok(BASE, 'set MOAT_URL');
  userDataDir = mkdtempSync(join(tmpdir(), 'moat-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: TIMEOUT,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  context.setDefaultTimeout(TIMEOUT);
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

async function sessionCookie() {
  const cookies = await context.cookies(BASE);
  return cookies.find((c) => c.name.endsWith('moat_session'));
}

test('log in, enroll TOTP, log out, log in with a code, roles, old cookie refused', async () => {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text());
  });

  // 1. A protected page sends the browser to the portal, which sends it back.
  await page.goto(BASE + '/echo/private');
  assert.match(page.url(), /\/\.moat\/login\?rd=%2Fecho%2Fprivate|\/\.moat\/login\?rd=\/echo\/private/);
  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(BASE + '/echo/private');
  const seen = JSON.parse(await page.locator('body').innerText());
  const headers = Object.fromEntries(seen.headers.map(([k, v]) => [k.toLowerCase(), v]));
  assert.equal(headers['remote-user'], USER);
  const first = await sessionCookie();
  assert.ok(first && first.httpOnly && first.sameSite === 'Lax');

  // 2. Enroll TOTP: the secret is on the page (and the QR code beside it).
  await page.goto(BASE + '/.moat/enroll');
  assert.equal(await page.locator('svg[role=img]').count(), 1);
  const secret = (await page.locator('#secret').innerText()).trim();
  const step = Math.floor(Date.now() / 1000 / 30);
  await page.getByLabel('Code from the app').fill(totp(secret, step));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.waitForSelector('#recovery');
  assert.equal(await page.locator('#recovery li').count(), 10);

  // 3. Log out.
  await page.goto(BASE + '/.moat/');
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await page.waitForURL(/\/\.moat\/login/);
  assert.equal(await sessionCookie(), undefined);

  // 4. Log in with password and code (the next step's: this one was used).
  await page.goto(BASE + '/echo/mfa');
  await page.waitForURL(/\/\.moat\/login/);
  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel(/Authenticator code/).fill(totp(secret, step + 1));
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(BASE + '/echo/mfa');
  assert.match(await page.locator('body').innerText(), /"path":\s*"\/echo\/mfa"/);

  // 5. A page for role admin opens; one for role ops is refused.
  let r = await page.goto(BASE + '/echo/admin');
  assert.equal(r.status(), 200);
  r = await page.goto(BASE + '/echo/ops');
  assert.equal(r.status(), 403);

  // 6. Log out; the old cookie no longer opens anything.
  const old = await sessionCookie();
  assert.ok(old);
  await page.goto(BASE + '/.moat/');
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await page.waitForURL(/\/\.moat\/login/);
  const replay = await context.request.get(BASE + '/echo/private', {
    headers: { Cookie: `${old.name}=${old.value}`, Accept: 'application/json' },
    maxRedirects: 0,
  });
  assert.equal(replay.status(), 401);

  assert.deepEqual(cspErrors, [], 'portal pages broke the CSP');
  await page.close();
});
