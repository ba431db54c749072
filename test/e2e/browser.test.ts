// The dashboard in a real browser: Debian's Chromium, driven by playwright-core, through HAProxy over
// TLS. It adds a note, sees it read back and listed, and sees the topology panel filled in.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.js';
import { NOTES_APP } from '../support/notes-app.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

let cluster: Cluster;
let browser: Browser;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 2, replicas: 1, app: NOTES_APP });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

describe('dashboard in Chromium through HAProxy', () => {
  it('adds a note, reads it back, lists it, and shows the topology', async () => {
    // The LB's certificate comes from a CA made for this run; the browser context trusts it for this test only.
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1366, height: 900 },
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // Not the page's: Chromium drops requests in flight when this machine's addresses change, which the
      // netns suites do (their lab bridge) while this one runs; the page repeats a dropped GET once.
      if (message.type() === 'error' && !message.text().includes('ERR_NETWORK_CHANGED')) {
        pageErrors.push(message.text());
      }
    });
    // Everything the page's Content-Security-Policy blocks, as the browser reports it.
    await page.addInitScript({
      content: `window.cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`,
    });
    try {
      const response = await page.goto(`${cluster.lb.httpsUrl}/`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      expect(await response?.headerValue('content-security-policy')).toMatch(/script-src 'self'/);
      expect(await response?.headerValue('x-served-by')).toMatch(/^server-[12]$/);

      // The topology panel fills from /api/status: the primary and the replica, by name.
      await page.locator('#topology [data-node="db-primary"]').waitFor({ timeout: 10_000 });
      await page.locator('#topology [data-node="db-replica-1"]').waitFor({ timeout: 10_000 });
      await expect
        .poll(() => page.locator('#served-by').textContent(), { timeout: 10_000 })
        .toMatch(/server-[12]/);
      // Firing alerts are internal (their labels name hosts): through the LB the panel says where to look.
      await expect
        .poll(() => page.locator('#alerts').textContent(), { timeout: 10_000 })
        .toMatch(/Alerts are internal/);

      // A blank title (spaces pass the input's `required`) comes back as the API's 400, shown by the form.
      await page.fill('#note-title', '   ');
      await page.click('#add-note');
      const formError = page.locator('#form-error');
      await formError.waitFor({ state: 'visible', timeout: 10_000 });
      const errorText = (await formError.textContent()) ?? '';
      expect(errorText.length).toBeGreaterThan(0);
      expect(errorText).not.toContain('null');
      expect(await page.inputValue('#note-title')).toBe('   ');

      const title = `browser note ${Date.now()} <b>not bold</b>`;
      await page.fill('#note-title', title);
      await page.fill('#note-body', 'written by Chromium through HAProxy');
      await page.click('#add-note');

      // Read back with the node that served it, then listed (the title shown as text, not as markup).
      const readback = page.locator('#readback');
      await expect.poll(() => readback.textContent(), { timeout: 10_000 }).toMatch(/read back/i);
      const readbackText = (await readback.textContent()) ?? '';
      // The write is credited to the node that took the insert, the primary, whichever node read it back.
      expect(readbackText).toMatch(
        /written via server-[12] \(db-primary\), read back via server-[12] from db-(primary|replica-1)/,
      );
      await page.locator('#notes-list li', { hasText: title }).first().waitFor({ timeout: 10_000 });
      expect(await page.locator('#notes-list b').count()).toBe(0);

      // The lag chart drew the replica's line (or a dot, with a single sample) and named it in the legend.
      await page.locator('#lag-legend [data-series="db-replica-1"]').waitFor({ timeout: 10_000 });
      await expect
        .poll(() => page.locator('#lag-chart path.line, #lag-chart circle.point').count(), {
          timeout: 10_000,
        })
        .toBeGreaterThan(0);
      // The routing counters of the server that answered: its replica reads include the read-back above.
      const counters = page.locator('#routing table.counters');
      await counters.waitFor({ timeout: 10_000 });
      expect(await counters.locator('th', { hasText: /server-[12]/ }).count()).toBeGreaterThan(0);

      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
      expect(pageErrors).toEqual([]);
      // The dashboard runs under its CSP: no inline script or style, nothing from elsewhere. Control: an
      // inline style the page did not bring is reported, so an empty list means none of its own was.
      const violations = () => page.evaluate<string[]>('window.cspViolations');
      expect(await violations()).toEqual([]);
      await page.evaluate(
        "document.body.append(Object.assign(document.createElement('div'), { id: 'csp-probe' })); document.getElementById('csp-probe').setAttribute('style', 'color: red')",
      );
      await expect.poll(async () => (await violations()).length).toBe(1);
    } catch (error) {
      // What the page looked like when it went wrong, and what it said, beside the failure.
      await page
        .screenshot({ path: join(ARTIFACTS, 'dashboard-failed.png'), fullPage: true })
        .catch(() => {});
      throw new Error(`${String(error)}\npage errors: ${JSON.stringify(pageErrors)}`, { cause: error });
    } finally {
      await context.close();
    }
  });
});
