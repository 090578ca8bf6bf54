/**
 * What the browser tests share: Debian's Chromium (no browser download)
 * driven by playwright-core, each test in a fresh profile that collects
 * console errors and every URL requested, and `wrangler dev` serving the
 * curated dataset (posted through `POST /events` and published).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startWithCuratedData, stop, type DevServer } from './processes.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Flags for a quiet, reproducible headless Chromium that reaches nothing but the server under test. */
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The git-ignored folder screenshots are written to, for review. */
export const SCREENSHOTS = fileURLToPath(new URL('../../screenshots/', import.meta.url));

/** Why the browser suites cannot run here (no Chromium), or null. */
export const chromiumMissing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install -y chromium)`;

/** A page in a fresh browser profile, with what it logged as errors and every URL it requested. */
export interface OpenedPage {
  page: Page;
  errors: string[];
  requests: string[];
}

/** A `wrangler dev` serving the curated dataset, and fresh browser profiles on it; `close` ends them all. */
export interface BrowserBench {
  worker: DevServer;
  open(options?: { javaScriptEnabled?: boolean; viewport?: { width: number; height: number } }): Promise<OpenedPage>;
  close(): Promise<void>;
}

/** Starts `wrangler dev` in a temporary folder, posts the curated dataset and waits until it is published. */
export async function startBrowserBench(): Promise<BrowserBench> {
  if (chromiumMissing) throw new Error(chromiumMissing);
  const tmp = mkdtempSync(join(tmpdir(), 'strikewire-browser-'));
  mkdirSync(SCREENSHOTS, { recursive: true });
  const contexts: BrowserContext[] = [];
  const worker = await startWithCuratedData(join(tmp, 'state')).catch((error: unknown) => {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  });
  const close = async () => {
    for (const context of contexts) await context.close();
    await stop(worker);
    rmSync(tmp, { recursive: true, force: true });
  };
  return {
    worker,
    close,
    async open({ javaScriptEnabled = true, viewport } = {}) {
      const context = await chromium.launchPersistentContext(mkdtempSync(join(tmp, 'profile-')), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, javaScriptEnabled, ...(viewport ? { viewport } : {}) });
      contexts.push(context);
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
      page.on('pageerror', (error) => void errors.push(error.message));
      page.on('request', (request) => void requests.push(request.url()));
      return { page, errors, requests };
    },
  };
}
