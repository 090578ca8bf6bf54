/**
 * The pages in a real browser: Debian's Chromium, driven by playwright-core
 * (no browser download), against `wrangler dev` serving the curated dataset
 * (posted through `POST /events` and published). An event page shows every
 * source quote of its record, and its place on the static map (the basemap
 * SVG of this origin loads and paints, the marker sits on it); with JavaScript disabled, the list shows the
 * records the JSON API returns for the same URL, its filters are reachable
 * from the keyboard, and the filter form narrows the list to exactly what
 * the API returns for the submitted filter. Screenshots of both pages (and of the map) go to
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

/**
 * Run in the page (as text: these tests are typed without the DOM): the map's
 * <image> decodes (it rejects when its file cannot be shown), the same file as
 * an <img> has a natural size, and painted on a canvas it shows these colours
 * (RGB of every 97th pixel).
 */
const BASEMAP_PROBE = `(async () => {
  const image = document.querySelector('figure.place-map svg image');
  await image.decode();
  const probe = new Image();
  probe.src = image.href.baseVal;
  await probe.decode();
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [probe.naturalWidth, probe.naturalHeight];
  const context = canvas.getContext('2d');
  context.drawImage(probe, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  for (let at = 0; at < pixels.length; at += 4 * 97) colours.add(pixels[at] + ',' + pixels[at + 1] + ',' + pixels[at + 2]);
  return { naturalWidth: probe.naturalWidth, naturalHeight: probe.naturalHeight, colours: [...colours] };
})()`;

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

  it('shows the place on a static map whose basemap image loads from this origin, with no console errors', async () => {
    const { page, errors, requests } = await open(true);
    const basemap = page.waitForResponse((response) => new URL(response.url()).pathname === '/explorer/region.svg');
    await page.goto(`${bench!.worker.base}/events/${EVENT_ID}`);
    const served = await basemap;
    expect(served.status()).toBe(200);
    expect(served.headers()['content-type']).toMatch(/^image\/svg\+xml/);
    const map = page.getByRole('img', { name: 'Map of the region marking Erbil Air Base, Erbil, Iraq (the site itself)' });
    expect(await map.isVisible()).toBe(true);
    const loaded = (await page.evaluate(BASEMAP_PROBE)) as { naturalWidth: number; naturalHeight: number; colours: string[] };
    expect(loaded.naturalWidth).toBeGreaterThan(0);
    expect(loaded.naturalHeight).toBeGreaterThan(0);
    expect(loaded.colours).toEqual(expect.arrayContaining(['207,224,238', '244,241,234']));
    const marker = await page.locator('figure.place-map circle.place-marker').boundingBox();
    const frame = await map.boundingBox();
    expect(marker!.width).toBeGreaterThan(4);
    expect(marker!.x).toBeGreaterThan(frame!.x);
    expect(marker!.y + marker!.height).toBeLessThan(frame!.y + frame!.height);
    for (const url of requests) expect(new URL(url).origin, url).toBe(bench!.worker.base);
    await page.locator('figure.place-map').screenshot({ path: join(SCREENSHOTS, 'event-map.png') });
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
