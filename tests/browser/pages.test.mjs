// pages.test.mjs - every page moat shows people, measured in Chromium.
//
// Each portal page (log in, a refused log in, the account page, the logout
// question, password change, second factor, enrollment, recovery codes) and moat's error pages
// (404 sensitive path, 403 WAF block, 414 long address, 502 unreachable app) is laid out at
// 320, 390, 768 and 1440 px, in light and dark colour schemes, and checked
// programmatically: no sideways scrolling, every control at least 44 x 44 px
// (a check box: its label), text at least 16 px, WCAG AA contrast of every
// text against its background (4.5:1, 3:1 for large text), a visible focus
// ring on each control reached with Tab, the stylesheet applied, no script,
// no CSP violation. axe-core (npm axe-core) checks each layout too: any
// violation of a WCAG 2.0/2.1/2.2 level A or AA rule fails. A screenshot of
// each goes to SHOTS.
//
// Run by tests/integration/test_portal_pages.py, which sets:
//   MOAT_URL       moat (branded: site name, logo, accent, back link) in front of the echo app
//   MOAT_DOWN_URL  moat with the default look and an app that is down (502)
//   MOAT_USER, MOAT_PASSWORD   a user without a second factor
//   SHOTS          the folder for screenshots
//   CHROMIUM       the browser (default /usr/bin/chromium)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const BASE = process.env.MOAT_URL;
const DOWN = process.env.MOAT_DOWN_URL;
const USER = process.env.MOAT_USER;
const PASSWORD = process.env.MOAT_PASSWORD;
const SHOTS = process.env.SHOTS;
const TIMEOUT = 30000;
const WIDTHS = [320, 390, 768, 1440];
const SCHEMES = ['light', 'dark'];
// axe-core's source, evaluated in the page through the DevTools protocol:
// not a <script> element (the page must have none) and not subject to the
// page's CSP (which the test checks is not broken).
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

let context;
let userDataDir;
const cspErrors = [];
const checked = [];
let axeRuns = 0;

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const off = h[h.length - 1] & 0xf;
  const n = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
  return String(n % 1000000).padStart(6, '0');
}

before(async () => {
  assert.ok(BASE && DOWN && SHOTS, 'set MOAT_URL, MOAT_DOWN_URL and SHOTS');
  mkdirSync(SHOTS, { recursive: true });
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

// Runs in the page: what breaks the rules, as strings (empty: all good).
function measure() {
  const problems = [];
  const parse = (c) => {
    const m = c.match(/rgba?\(([\d.]+)[, ]+([\d.]+)[, ]+([\d.]+)(?:[, /]+([\d.]+))?\)/);
    if (!m) return null;
    return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor) || [255, 255, 255, 1];
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '');
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };

  if (document.scripts.length) problems.push('has a script');
  if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
    problems.push(`scrolls sideways: ${document.documentElement.scrollWidth} > ${document.documentElement.clientWidth}`);
  const button = document.querySelector('button, a.button');
  const h1 = document.querySelector('h1');
  if (!h1) problems.push('no h1');
  // the stylesheet applied (its rules, not the browser's defaults)
  if (getComputedStyle(document.body).margin !== '0px') problems.push('moat.css not applied');

  for (const el of document.querySelectorAll('a, button, input:not([type=hidden]), select, textarea')) {
    if (!visible(el)) continue;
    let r = el.getBoundingClientRect();
    if (el.type === 'checkbox' || el.type === 'radio') {
      const label = el.labels && el.labels[0];
      if (label) r = label.getBoundingClientRect();
    }
    if (r.height < 44 - 0.5 || r.width < 44 - 0.5)
      problems.push(`target ${name(el)} is ${r.width.toFixed(0)}x${r.height.toFixed(0)} px`);
  }
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el) || el.closest('svg')) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const field = el.matches('input:not([type=hidden]):not([type=checkbox]), button');
    if (!own && !field) continue;
    const s = getComputedStyle(el);
    const size = parseFloat(s.fontSize);
    if (size < 16 - 0.01) problems.push(`text of ${name(el)} is ${size} px`);
    const fg = parse(s.color);
    const bg = background(el);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    const need = large ? 3 : 4.5;
    const got = ratio(fg, bg);
    if (got < need) problems.push(`contrast of ${name(el)} is ${got.toFixed(2)}:1 (${s.color} on rgb(${bg.slice(0, 3)}))`);
  }
  return problems;
}

// Tab through the page: every control reached shows a focus ring that
// contrasts with the page (3:1, WCAG 2.4.11's spirit).
async function focusProblems(page) {
  const problems = [];
  await page.evaluate(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); });
  const count = await page.evaluate(() =>
    document.querySelectorAll('a[href], button, input:not([type=hidden])').length);
  for (let i = 0; i < count; i++) {
    await page.keyboard.press('Tab');
    const r = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const s = getComputedStyle(el);
      return { tag: el.tagName + (el.id ? '#' + el.id : ''), style: s.outlineStyle,
        width: parseFloat(s.outlineWidth), color: s.outlineColor };
    });
    if (!r) continue;
    if (r.style === 'none' || r.width < 2) problems.push(`no visible focus on ${r.tag}`);
  }
  return problems;
}

// axe-core's WCAG A/AA violations on the page as it is laid out now, as
// strings: rule, impact, the elements and why.
async function axeProblems(page) {
  if (!await page.evaluate(() => typeof window.axe === 'object')) await page.evaluate(AXE);
  const found = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags } });
    const out = r.violations.map((v) => `axe ${v.id} (${v.impact}): ` + v.nodes.map((n) =>
      `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join('; '));
    // a run that looked at nothing proves nothing
    const passed = new Set(r.passes.map((p) => p.id));
    if (!['color-contrast', 'document-title', 'html-has-lang', 'meta-viewport']
      .every((id) => passed.has(id)))
      out.push(`axe checked too little: ${r.passes.map((p) => p.id).join(' ')}`);
    return out;
  }, AXE_TAGS);
  return found;
}

async function check(page, label) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    for (const colorScheme of SCHEMES) {
      await page.emulateMedia({ colorScheme });
      const problems = await page.evaluate(measure);
      if (width === 390) problems.push(...await focusProblems(page));
      problems.push(...await axeProblems(page));
      axeRuns++;
      const shot = join(SHOTS, `${label}-${width}-${colorScheme}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      assert.deepEqual(problems, [], `${label} at ${width} px, ${colorScheme}`);
      checked.push(`${label}-${width}-${colorScheme}`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: 'light' });
}

function watch(page) {
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  return page;
}

test('portal pages at phone and desktop widths', async () => {
  const page = watch(await context.newPage());

  let r = await page.goto(BASE + '/.moat/login');
  assert.equal(r.status(), 200);
  assert.equal(await page.locator('img.logo').count(), 1, 'the logo is on the page');
  assert.ok(await page.locator('img.logo').evaluate((i) => i.naturalWidth > 0), 'the logo loads');
  assert.equal(await page.locator('a.back').count(), 1);
  // the code field takes recovery codes: no numeric-only keypad
  assert.notEqual(await page.locator('#code').getAttribute('inputmode'), 'numeric');
  await check(page, 'login');

  // a refused login keeps the user name and says why
  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForSelector('#error');
  assert.equal(await page.locator('#username').inputValue(), USER);
  await check(page, 'login-refused');

  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((u) => !/\/\.moat\/login/.test(u.toString()));
  r = await page.goto(BASE + '/.moat/');
  assert.equal(r.status(), 200);
  await check(page, 'account');

  // where an app's own "Log out" link sends the user: the question, one button
  r = await page.goto(BASE + '/.moat/logout');
  assert.equal(r.status(), 200);
  assert.equal(await page.locator('h1').innerText(), 'Log out');
  await check(page, 'logout');

  await page.goto(BASE + '/.moat/password');
  await check(page, 'password');

  await page.goto(BASE + '/.moat/enroll');
  assert.equal(await page.locator('svg[role=img]').count(), 1);
  await check(page, 'enroll');
  const secret = (await page.locator('#secret').innerText()).trim();
  const step = Math.floor(Date.now() / 1000 / 30);
  await page.getByLabel('Code from the app').fill(totp(secret, step));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.waitForSelector('#recovery');
  await check(page, 'recovery');

  r = await page.goto(BASE + '/.moat/mfa');
  assert.equal(r.status(), 200);
  await check(page, 'mfa');

  assert.deepEqual(cspErrors, [], 'portal pages broke the CSP');
  await page.close();
});

// The control: axe-core runs in moat's page (under its CSP) and does fail
// one that breaks a rule, here a field whose label is taken away.
test('axe-core catches a violation in a real page', async () => {
  const page = watch(await context.newPage());
  await page.goto(BASE + '/.moat/login');
  assert.deepEqual(await axeProblems(page), []);
  await page.evaluate(() => { for (const l of document.querySelectorAll('label')) l.remove(); });
  const found = await axeProblems(page);
  assert.ok(found.some((p) => /^axe label \(critical\)/.test(p)), found.join('\n'));
  await page.close();
});

test('error pages at phone and desktop widths', async () => {
  const page = watch(await context.newPage());
  let r = await page.goto(BASE + '/.git/config');
  assert.equal(r.status(), 404);
  await check(page, 'error-404');
  r = await page.goto(BASE + '/echo/?q=%7B%7B7*7%7D%7D');
  assert.equal(r.status(), 403);
  assert.match(await page.locator('code').innerText(), /\S{8,}/, 'the request id is shown');
  await check(page, 'error-403');
  r = await page.goto(BASE + '/?' + 'a'.repeat(9000));
  assert.equal(r.status(), 414);
  await check(page, 'error-414');
  r = await page.goto(DOWN + '/');
  assert.equal(r.status(), 502);
  await check(page, 'error-502');
  assert.deepEqual(cspErrors, [], 'error pages broke the CSP');
  await page.close();
  console.log(`checked ${checked.length} layouts, ${axeRuns} with axe-core`);
});
