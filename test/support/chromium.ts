// Debian's Chromium, driven by playwright-core: how the suites that look at the dashboard launch it.
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
// What works on these machines as root with no network beyond loopback.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** A headless Chromium; Playwright gives it a fresh temporary profile and ends it in `close()`. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}
