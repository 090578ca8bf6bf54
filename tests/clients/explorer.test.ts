/**
 * The explorer (`GET /` for browsers) in Debian's Chromium against
 * `wrangler dev` serving the curated dataset: it loads with no console error
 * and requests nothing from another origin; its map and list show as many
 * markers and rows as the JSON API returns records for the same filter (every
 * page of it), its timeline and counts what `/stats` returns; changing a
 * filter updates map, timeline, counts, list and URL, and going back
 * restores the previous view; loading a filtered URL restores the filter; the
 * filters are reachable from the keyboard; without JavaScript its form opens
 * the `/events` list. A screenshot goes to the git-ignored screenshots/.
 *
 * Needs /usr/bin/chromium (apt-get install -y chromium): without it the
 * suite is skipped with a message, or fails when CI is set.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, SCREENSHOTS, startBrowserBench, type BrowserBench, type OpenedPage } from './chromium.ts';

/** What the explorer shows, read from the page. */
interface Shown {
  markers: number;
  /** Markers drawn as a site or city (filled), and as a region or country (hollow). */
  exactMarkers: number;
  coarseMarkers: number;
  listed: string[];
  months: number;
  timelineRecords: number;
  types: string[];
  status: string;
}

/** What the JSON API returns for a filter: every record id over all pages, and `/stats`. */
interface Expected {
  ids: string[];
  exact: number;
  coarse: number;
  months: number;
  types: string[];
}

if (chromiumMissing && !process.env.CI) console.warn(`Skipping the explorer check: ${chromiumMissing}`);

describe.skipIf(chromiumMissing !== null && !process.env.CI)('the explorer in Chromium', () => {
  let bench: BrowserBench | undefined;
  const base = () => bench!.worker.base;

  beforeAll(async () => {
    bench = await startBrowserBench();
  });

  afterAll(async () => {
    await bench?.close();
  });

  /** What the API gives for `filter`, as an outside client reads it. */
  async function expected(filter: string): Promise<Expected> {
    const records: Array<{ id: string; location: { precision: string } }> = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams(filter);
      query.set('limit', '7'); // several pages, so the explorer's paging is checked too
      if (cursor) query.set('cursor', cursor);
      const page = (await (await fetch(`${base()}/events?${query}`)).json()) as { data: typeof records; next_cursor: string | null };
      records.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    const stats = (await (await fetch(`${base()}/stats${filter ? `?${filter}` : ''}`)).json()) as { data: { by_month: unknown[]; by_type: Array<{ key: string }> } };
    const count = (precisions: string[]) => records.filter((record) => precisions.includes(record.location.precision)).length;
    return {
      ids: records.map((record) => record.id),
      exact: count(['site', 'city']),
      coarse: count(['region', 'country']),
      months: stats.data.by_month.length,
      types: stats.data.by_type.map((bucket) => bucket.key.replace(/_/g, ' ')),
    };
  }

  /** Waits until the explorer has shown its filter (status set, nothing loading), then reads what it shows. */
  async function shown(page: Page): Promise<Shown> {
    await page.waitForFunction(`!document.body.hasAttribute('aria-busy') && /\\d+ records?/.test(document.getElementById('explorer-status').textContent)`);
    const count = (selector: string) => page.locator(selector).count();
    return {
      markers: await count('#map path.event-marker'),
      exactMarkers: await count('#map path.precision-site, #map path.precision-city'),
      coarseMarkers: await count('#map path.precision-region, #map path.precision-country'),
      listed: await page.locator('#records li > a').evaluateAll((links) => links.map((link) => decodeURIComponent(link.getAttribute('href')!.replace('/events/', '')))),
      months: await count('#timeline-table tbody tr'),
      timelineRecords: Number(await page.locator('#timeline').getAttribute('data-records')),
      types: await page.locator('#counts-type tbody th').allInnerTexts(),
      status: await page.locator('#explorer-status').innerText(),
    };
  }

  /** Checks that the explorer shows exactly what the API returns for `filter`. */
  async function expectShowing(page: Page, filter: string): Promise<Shown> {
    const view = await shown(page);
    const api = await expected(filter);
    expect(view.listed, `list for "${filter}"`).toEqual(api.ids);
    expect(view.markers, `markers for "${filter}"`).toBe(api.ids.length);
    expect(view.exactMarkers).toBe(api.exact);
    expect(view.coarseMarkers).toBe(api.coarse);
    expect(view.months, `timeline months for "${filter}"`).toBe(api.months);
    expect(view.timelineRecords, `timeline total for "${filter}"`).toBe(api.ids.length);
    expect(view.types).toEqual(api.types);
    expect(view.status).toContain(`${api.ids.length} record`);
    return view;
  }

  /** Requests made to anything but the server under test (data: URLs aside). */
  const foreign = ({ requests }: OpenedPage) => requests.filter((url) => !url.startsWith(`${base()}/`) && !url.startsWith('data:'));

  it('loads with no console error and nothing from another origin, showing every record on the map, the timeline and the list', async () => {
    const opened = await bench!.open({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = opened;
    const response = await page.goto(`${base()}/`);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    const view = await expectShowing(page, '');
    expect(view.listed.length).toBe(16);
    expect(view.coarseMarkers, 'the dataset has records placed at a country centroid').toBeGreaterThan(0);
    await page.waitForFunction(`document.querySelectorAll('#map path').length > ${view.markers}`); // the basemap's outlines too
    expect(await page.locator('#timeline canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#counts-role tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#counts-group tbody tr').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'explorer.png'), fullPage: true });
    expect(foreign(opened)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('updates map, timeline, counts, list and URL when a filter changes, and goes back', async () => {
    const opened = await bench!.open();
    const { page, errors } = opened;
    await page.goto(`${base()}/`);
    const all = await shown(page);

    await page.getByRole('checkbox', { name: 'attack', exact: true }).check();
    await page.waitForURL((url) => url.searchParams.get('type') === 'attack');
    const attacks = await expectShowing(page, 'type=attack');
    expect(attacks.listed.length).toBeLessThan(all.listed.length);
    expect(attacks.types).toEqual(['attack']);

    await page.getByLabel('Countries').fill('SY');
    await page.waitForURL((url) => url.searchParams.get('country') === 'SY'); // applied after a pause in typing
    expect(new URL(page.url()).search).toBe('?country=SY&type=attack'); // in the form's order, as the list's form gives it
    const syria = await expectShowing(page, 'type=attack&country=SY');
    expect(syria.listed.length).toBeLessThan(attacks.listed.length);

    await page.getByLabel('From (date)').fill('2024-01-01');
    await page.waitForURL((url) => url.searchParams.has('since'));
    await expectShowing(page, 'type=attack&country=SY&since=2024-01-01');

    await page.goBack();
    await page.waitForURL((url) => !url.searchParams.has('since'));
    await expectShowing(page, 'type=attack&country=SY');
    expect(await page.getByLabel('From (date)').inputValue()).toBe('');
    expect(await page.getByLabel('Countries').inputValue()).toBe('SY');
    expect(foreign(opened)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('restores the filter of a shared URL, and shows the API\'s message for a filter it refuses', async () => {
    const { page, errors } = await bench!.open();
    await page.goto(`${base()}/?type=attack,strike&country=IQ&has_casualties=true`);
    await expectShowing(page, 'type=attack,strike&country=IQ&has_casualties=true');
    expect(await page.getByRole('checkbox', { name: 'attack', exact: true }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: 'strike', exact: true }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: 'incident', exact: true }).isChecked()).toBe(false);
    expect(await page.getByLabel('Countries').inputValue()).toBe('IQ');
    expect(await page.getByLabel('Casualties').inputValue()).toBe('true');

    await page.goto(`${base()}/?since=2024-02-01&until=2024-01-01`);
    await page.waitForFunction(`!document.getElementById('explorer-error').hidden`);
    expect(await page.locator('#explorer-error').innerText()).toContain('until must not be before since');
    expect(errors.filter((error) => !/status of 400/.test(error))).toEqual([]); // Chromium logs the API's 400 itself
  });

  it('reaches its filters from the keyboard, and without JavaScript its form opens the list', async () => {
    const { page } = await bench!.open({ javaScriptEnabled: false });
    await page.goto(`${base()}/`);
    let reached = false;
    for (let presses = 0; presses < 12 && !reached; presses++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate('document.activeElement && document.activeElement.id')) === 'filter-q';
    }
    expect(reached, 'the first filter is reached with Tab').toBe(true);
    expect(await page.locator('#dashboard').isVisible()).toBe(false);
    await page.getByLabel('Countries').fill('IQ');
    await page.getByRole('button', { name: 'Show records' }).click();
    await page.waitForURL((url) => url.pathname === '/events');
    expect(new URL(page.url()).search).toBe('?country=IQ');
    expect(await page.locator('ol.events li').count()).toBe((await expected('country=IQ')).ids.length);
  });
});
