import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium (infra/scripts/setup.sh installs it); CHROMIUM_PATH points elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Real Chromium for page tests, headless and quiet: no sandbox (tests run as root in CI), no GPU,
 * and none of the background traffic (updates, sync, QUIC probes) a test must not depend on.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
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
  });
}
