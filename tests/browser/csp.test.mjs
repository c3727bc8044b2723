// csp.test.mjs - moat's default Content-Security-Policy in a real browser.
//
// The page (tests/integration/apps/flask_hardening.py, /csp-test) has an
// inline <script> (standing for an injected one) and a <script src> from
// the site itself. Through moat, with its default CSP, the browser must run
// the second and block the first, and say so on the console. A control run
// through a moat that sends no CSP shows the inline script does run when
// nothing stops it.
//
// Run by tests/integration/test_browser.py, which starts the app and the
// moats and sets:
//   MOAT_CSP_URL     the page through moat with the default headers
//   MOAT_NOCSP_URL   the page through moat with headers.csp = "" (control)
//   MOAT_APPCSP_URL  the page with the app's own loose CSP (default-src *
//                    'unsafe-inline' 'unsafe-eval') through the default moat
//   APPCSP_DIRECT_URL the same page straight from the app (control)
//   CHROMIUM         the browser (default /usr/bin/chromium)
//
//   cd tests/browser && npm ci && MOAT_CSP_URL=... MOAT_NOCSP_URL=... node --test csp.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CSP_URL = process.env.MOAT_CSP_URL;
const NOCSP_URL = process.env.MOAT_NOCSP_URL;
const APPCSP_URL = process.env.MOAT_APPCSP_URL;
const APPCSP_DIRECT_URL = process.env.APPCSP_DIRECT_URL;
const TIMEOUT = 30000; // every browser wait is bounded

let context;
let userDataDir;

before(async () => {
  assert.ok(CSP_URL, 'set MOAT_CSP_URL');
  userDataDir = mkdtempSync(join(tmpdir(), 'moat-chromium-'));
  // A fresh profile each run; Playwright adds --headless and --user-data-dir.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: TIMEOUT,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  context.setDefaultTimeout(TIMEOUT);
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

// Loads url; returns what the page and the console reported.
async function load(url) {
  const page = await context.newPage();
  const messages = [];
  page.on('console', (msg) => messages.push(`${msg.type()}: ${msg.text()}`));
  // securitypolicyviolation events, recorded before any page script runs
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push({ directive: e.violatedDirective, blocked: e.blockedURI });
    });
  });
  const resp = await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT });
  // the external script has run once its marker is set (bounded wait)
  await page.waitForFunction(() => document.body && document.body.hasAttribute('data-self-ran'),
    null, { timeout: TIMEOUT });
  const result = {
    status: resp.status(),
    headers: await resp.allHeaders(),
    selfRan: await page.evaluate(() => document.body.getAttribute('data-self-ran')),
    inlineRan: await page.evaluate(() => document.body.getAttribute('data-inline-ran')),
    violations: await page.evaluate(() => window.__violations),
    console: messages,
  };
  await page.close();
  return result;
}

test('default CSP: the script from self runs, the inline one is blocked', async () => {
  const r = await load(CSP_URL);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-security-policy'] || '', /default-src 'none'; script-src 'self'/);
  assert.equal(r.selfRan, 'yes', 'the <script src="/static/app.js"> from self ran');
  assert.equal(r.inlineRan, null, 'the inline <script> must not run');
  assert.ok(
    r.console.some((m) => /Content Security Policy/.test(m) && /inline script/i.test(m)),
    `a CSP violation on the console, got: ${JSON.stringify(r.console)}`,
  );
  assert.ok(r.violations.some((v) => v.blocked === 'inline'),
    `a securitypolicyviolation for the inline script, got: ${JSON.stringify(r.violations)}`);
});

test('control: without a CSP the inline script runs', { skip: !NOCSP_URL }, async () => {
  const r = await load(NOCSP_URL);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-security-policy'], undefined);
  assert.equal(r.selfRan, 'yes');
  assert.equal(r.inlineRan, 'yes', 'the inline script runs when no CSP stops it');
  assert.deepEqual(r.violations, []);
});

// The app's own policy allows inline scripts; moat's goes beside it and the
// browser enforces both: the inline script stays blocked.
test('an app CSP allowing inline scripts does not lift moat\'s', { skip: !APPCSP_URL },
  async () => {
    const r = await load(APPCSP_URL);
    assert.equal(r.status, 200);
    const csp = r.headers['content-security-policy'] || '';
    assert.match(csp, /'unsafe-inline'/, `the app's policy is sent, got: ${csp}`);
    assert.match(csp, /default-src 'none'; script-src 'self'/, `moat's policy too, got: ${csp}`);
    assert.equal(r.selfRan, 'yes');
    assert.equal(r.inlineRan, null, 'moat\'s policy still blocks the inline <script>');
    assert.ok(r.violations.some((v) => v.blocked === 'inline'),
      `a securitypolicyviolation for the inline script, got: ${JSON.stringify(r.violations)}`);
  });

test('control: the app\'s CSP alone lets the inline script run', { skip: !APPCSP_DIRECT_URL },
  async () => {
    const r = await load(APPCSP_DIRECT_URL);
    assert.equal(r.status, 200);
    assert.equal(r.inlineRan, 'yes', 'without moat the app\'s loose policy allows it');
  });
