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
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import events from '../../data/events.json';
import { chromiumMissing, SCREENSHOTS, startBrowserBench, type BrowserBench } from './chromium.ts';

const EVENT_ID = '2023-12-25-erbil-air-base-drone-attack';

if (chromiumMissing && !process.env.CI) console.warn(`Skipping the browser check: ${chromiumMissing}`);

describe.skipIf(chromiumMissing !== null && !process.env.CI)('pages in Chromium', () => {
  let bench: BrowserBench | undefined;
  const open = (javaScriptEnabled: boolean) => bench!.open({ javaScriptEnabled });

  /** The record ids the JSON API returns for `/events?query`. */
  async function apiIds(query: string): Promise<string[]> {
    const body = (await (await fetch(`${bench!.worker.base}/events${query}`)).json()) as { data: Array<{ id: string }> };
    return body.data.map((event) => event.id);
  }

  /** The record ids a list page shows, in order. */
  const listedIds = (page: Page): Promise<string[]> => page.locator('ol.events li > a').evaluateAll((links) => links.map((link) => link.getAttribute('href')!.replace('/events/', '')));

  beforeAll(async () => {
    bench = await startBrowserBench();
  });

  afterAll(async () => {
    await bench?.close();
  });

  it('shows every source quote on an event page, with no console errors', async () => {
    const { page, errors } = await open(true);
    const response = await page.goto(`${bench!.worker.base}/events/${EVENT_ID}`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    const record = events.find((event) => event.id === EVENT_ID)!;
    const quotes = await page.locator('blockquote.quote').allInnerTexts();
    expect(quotes.map((quote) => quote.trim())).toEqual(record.sources.map((source) => source.quote));
    for (const quote of quotes) expect(await page.getByText(quote.trim(), { exact: true }).first().isVisible()).toBe(true);
    expect(await page.locator('h1').innerText()).toBe(record.title);
    await page.screenshot({ path: join(SCREENSHOTS, 'event-page.png'), fullPage: true });
    const document = await page.goto(`${bench!.worker.base}${await page.locator('ol.sources a').first().getAttribute('href')}`);
    expect(document?.status()).toBe(200);
    expect(await page.locator('pre.document').innerText()).toContain(record.sources[0]!.quote.split('\n')[0]);
    expect(errors).toEqual([]);
  });

  it('lists and filters records with JavaScript disabled, from the keyboard too, as the API does', async () => {
    const { page, errors } = await open(false);
    await page.goto(`${bench!.worker.base}/events`);
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
