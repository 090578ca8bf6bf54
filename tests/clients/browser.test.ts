/**
 * The pages in a real browser: Debian's Chromium, driven by playwright-core
 * (no browser download), against `wrangler dev` serving the curated dataset
 * (posted through `POST /events` and published). An event page shows every
 * source quote of its record; with JavaScript disabled, the list shows the
 * records the JSON API returns for the same URL, its filters are reachable
 * from the keyboard, and the filter form narrows the list to exactly what
 * the API returns for the submitted filter. Screenshots of both pages go to
 * the git-ignored screenshots/ folder for review.
 *
 * Needs /usr/bin/chromium (apt-get install -y chromium): without it the
 * suite is skipped with a message, or fails when CI is set.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import events from '../../data/events.json';
import { lastLines, startWranglerDev, stop, waitFor, type DevServer } from './processes.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Flags for a quiet, reproducible headless Chromium that reaches nothing but the server under test. */
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOTS = fileURLToPath(new URL('../../screenshots/', import.meta.url));
const TOKEN = 'browser-test-admin-token';
const EVENT_ID = '2023-12-25-erbil-air-base-drone-attack';

const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install -y chromium)`;
if (missing && !process.env.CI) console.warn(`Skipping the browser check: ${missing}`);

describe.skipIf(missing !== null && !process.env.CI)('pages in Chromium', () => {
  let tmp = '';
  let worker: DevServer | undefined;
  const contexts: BrowserContext[] = [];

  /** A fresh browser profile (its own --user-data-dir), with or without JavaScript, collecting console errors. */
  async function open(javaScriptEnabled: boolean): Promise<{ page: Page; errors: string[] }> {
    const context = await chromium.launchPersistentContext(mkdtempSync(join(tmp, 'profile-')), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, javaScriptEnabled });
    contexts.push(context);
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
    page.on('pageerror', (error) => void errors.push(error.message));
    return { page, errors };
  }

  /** The record ids the JSON API returns for `/events?query`. */
  async function apiIds(query: string): Promise<string[]> {
    const body = (await (await fetch(`${worker!.base}/events${query}`)).json()) as { data: Array<{ id: string }> };
    return body.data.map((event) => event.id);
  }

  /** The record ids a list page shows, in order. */
  const listedIds = (page: Page): Promise<string[]> => page.locator('ol.events li > a').evaluateAll((links) => links.map((link) => link.getAttribute('href')!.replace('/events/', '')));

  beforeAll(async () => {
    if (missing) throw new Error(missing);
    tmp = mkdtempSync(join(tmpdir(), 'strikewire-browser-'));
    mkdirSync(SCREENSHOTS, { recursive: true });
    worker = await startWranglerDev(join(tmp, 'state'), TOKEN);
    const admin = { authorization: `Bearer ${TOKEN}` };
    const posted = await fetch(`${worker.base}/events`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(events) });
    if (posted.status !== 201) throw new Error(`POST /events answered ${posted.status}: ${await posted.text()}`);
    await waitFor(
      'the dataset to be published',
      async () => ((await (await fetch(`${worker!.base}/admin/status`, { headers: admin })).json()) as { publish: { up_to_date: boolean } }).publish.up_to_date || undefined,
      () => lastLines(worker),
    );
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await stop(worker);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('shows every source quote on an event page, with no console errors', async () => {
    const { page, errors } = await open(true);
    const response = await page.goto(`${worker!.base}/events/${EVENT_ID}`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    const record = events.find((event) => event.id === EVENT_ID)!;
    const quotes = await page.locator('blockquote.quote').allInnerTexts();
    expect(quotes.map((quote) => quote.trim())).toEqual(record.sources.map((source) => source.quote));
    for (const quote of quotes) expect(await page.getByText(quote.trim(), { exact: true }).first().isVisible()).toBe(true);
    expect(await page.locator('h1').innerText()).toBe(record.title);
    await page.screenshot({ path: join(SCREENSHOTS, 'event-page.png'), fullPage: true });
    const document = await page.goto(`${worker!.base}${await page.locator('ol.sources a').first().getAttribute('href')}`);
    expect(document?.status()).toBe(200);
    expect(await page.locator('pre.document').innerText()).toContain(record.sources[0]!.quote.split('\n')[0]);
    expect(errors).toEqual([]);
  });

  it('lists and filters records with JavaScript disabled, from the keyboard too, as the API does', async () => {
    const { page, errors } = await open(false);
    await page.goto(`${worker!.base}/events`);
    expect(await listedIds(page)).toEqual(await apiIds(''));

    let reached = false;
    for (let presses = 0; presses < 12 && !reached; presses++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate('document.activeElement && document.activeElement.id')) === 'filter-q';
    }
    expect(reached, 'the first filter is reached with Tab').toBe(true);

    await page.getByLabel('Countries').fill('IQ');
    await page.getByRole('checkbox', { name: 'attack', exact: true }).check();
    await page.getByRole('button', { name: 'Show records' }).click();
    await page.waitForURL((url) => url.searchParams.has('type'));
    const url = new URL(page.url());
    expect([...url.searchParams]).toEqual([
      ['country', 'IQ'],
      ['type', 'attack'],
    ]);
    const filtered = await listedIds(page);
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered).toEqual(await apiIds(url.search));
    expect(filtered.length).toBeLessThan((await apiIds('')).length);
    await page.screenshot({ path: join(SCREENSHOTS, 'events-list.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
