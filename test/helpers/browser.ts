// Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by
// playwright-core (never a downloaded browser). Each launch gets its own
// temporary profile from Playwright; each context is a separate visitor
// (own localStorage). Page errors and console errors are collected so a test
// can assert the page ran clean (no CSP violations, no uncaught exceptions).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

export const chromiumAvailable = () => existsSync(CHROMIUM);

/** `fakeMedia`: a generated camera and microphone that need no permission prompt (WebRTC publishing). */
export async function launchBrowser(opts: { fakeMedia?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // the player starts muted, but a headless run should never depend on a gesture
      '--autoplay-policy=no-user-gesture-required',
      ...(opts.fakeMedia ? ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] : []),
    ],
  });
}

export interface Visitor {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions and console errors seen on the page. */
  errors: string[];
}

/** A new visitor (own cookies and storage); with `token`, already signed in. */
export async function visitor(browser: Browser, opts: { token?: string; lang?: 'en' | 'zh'; viewport?: { width: number; height: number } } = {}): Promise<Visitor> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 }, locale: 'en-US' });
  await context.addInitScript(
    ([token, lang]) => {
      // only on the first load of the context: later reloads keep what the page stored
      if (sessionStorage.getItem('test-init')) return;
      sessionStorage.setItem('test-init', '1');
      if (token) localStorage.setItem('liveroom.token', token);
      if (lang) localStorage.setItem('liveroom.lang', lang);
    },
    [opts.token ?? '', opts.lang ?? 'en'] as const,
  );
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return { context, page, errors };
}

export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  // a full page starts at the top (a sticky header otherwise lands mid-image); passing notices are left out
  // (hidden through the attribute: Playwright's `style` option is an inline style, which the page's CSP refuses)
  const full = opts.fullPage ?? false;
  await page.evaluate((top) => {
    if (top) window.scrollTo(0, 0);
    document.getElementById('toasts')?.setAttribute('hidden', '');
  }, full);
  await page.screenshot({ path: file, fullPage: full });
  await page.evaluate(() => document.getElementById('toasts')?.removeAttribute('hidden'));
  return file;
}
