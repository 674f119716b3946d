/**
 * A real browser for tests: Debian's headless chromium (/usr/bin/chromium, installed by .ci/run)
 * driven by playwright-core; no browser is downloaded. Every page a test opens records its page
 * errors (uncaught exceptions) and console errors, and `assertClean` fails the test on any of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './server.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where the screenshots of every run go (git-ignored). */
export const SCREENSHOTS = path.join(ROOT, 'test', 'screenshots');

export function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--disable-gpu', '--disable-dev-shm-usage'] });
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Page errors and console errors seen so far. */
  problems: string[];
  /**
   * Declares one console error the test provokes on purpose (Chromium logs every HTTP error status a
   * fetch gets, e.g. the 400 of a push the test makes fail): it must appear, and is then no failure.
   */
  expectError(pattern: RegExp): void;
  /** Throws if the page threw or logged an error it was not expected to, or an expected one never came. */
  assertClean(): void;
  close(): Promise<void>;
}

/** A page in a fresh context (its own session storage), watched for errors. */
export async function openPage(browser: Browser, viewport = { width: 1280, height: 860 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  const expected: RegExp[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  return {
    context,
    page,
    problems,
    expectError(pattern) {
      expected.push(pattern);
    },
    assertClean() {
      const unexpected = problems.filter((p) => !expected.some((re) => re.test(p)));
      if (unexpected.length > 0) throw new Error(`the page reported errors:\n${unexpected.join('\n')}`);
      const missing = expected.filter((re) => !problems.some((p) => re.test(p)));
      if (missing.length > 0) throw new Error(`expected console errors that never came: ${missing.join(', ')}`);
    },
    close: () => context.close(),
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
