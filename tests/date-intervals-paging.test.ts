/**
 * Date intervals across many index chunks: chunks, and the segments that
 * list them, are pruned by the days their entries span, not by their sort keys, so a record dated by month (keyed
 * by the 1st) or with a long approximate window is found by `since`/`until`
 * ranges that start after its key, page after page, and `/stats` agrees.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChunkRef, SegmentRef } from '../functions/domain/layout.ts';
import { keyRange, refsInRange } from '../functions/domain/query.ts';
import { chunkRefsInRange, readManifest } from '../functions/store/events-store.ts';
import { dayFrom2000, getJson, makeEvent, seed } from './helpers.ts';

const NOW = '2026-11-28T12:00:00.000Z';
const DAYS = 1200;
/** The months whose records are dated by month (keyed by their 1st). */
const MONTHS = ['2000-03', '2000-11', '2001-06', '2002-02', '2003-01'];
const monthId = (month: string) => `month-${month}`;
/** Approximate, keyed on 2000-02-01, possibly as late as 2003-03-31. */
const LONG_WINDOW = 'long-window';

const records = [
  ...Array.from({ length: DAYS }, (_, i) => makeEvent(`day-${String(i).padStart(4, '0')}`, dayFrom2000(i))),
  ...MONTHS.map((month) => makeEvent(monthId(month), `${month}-01`, { date_precision: 'month', date_note: 'Known to the month.' })),
  makeEvent(LONG_WINDOW, '2000-02-01', { date_precision: 'approximate', date_note: 'A long window.', date_window: { start: '2000-01-15', end: '2003-03-31' } }),
];

async function pageThrough(query: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 500; pages++) {
    const { status, body }: { status: number; body: { data: { id: string }[]; next_cursor: string | null } } = await getJson(`/events?limit=${limit}&${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(status, query).toBe(200);
    ids.push(...body.data.map((event) => event.id));
    cursor = body.next_cursor;
    if (!cursor) return ids;
  }
  throw new Error('too many pages');
}

/** The ids of the day records from `first` to `last`, inclusive, newest first. */
const daysBetween = (first: string, last: string): string[] =>
  Array.from({ length: DAYS }, (_, i) => i)
    .filter((i) => dayFrom2000(i) >= first && dayFrom2000(i) <= last)
    .reverse()
    .map((i) => `day-${String(i).padStart(4, '0')}`);

beforeAll(async () => {
  for (let start = 0; start < records.length; start += 250) await seed(records.slice(start, start + 250), NOW);
}, 60_000);

describe('since/until over many chunks', () => {
  it('holds the records in many chunks, the long window in a chunk whose keys all precede the ranges it overlaps', async () => {
    const manifest = await readManifest(env.EVENTS);
    expect(manifest.count).toBe(records.length);
    const chunks = await chunkRefsInRange(env.EVENTS, manifest, keyRange(null, {}));
    expect(chunks.length).toBeGreaterThan(6);
    const key = `2000-02-01|${LONG_WINDOW}`;
    const holding = chunks.find((ref) => ref.last <= key && ref.first >= key)!;
    // Pruning by sort key would skip this chunk for since=2003-01-15: its newest key is years older.
    expect(holding.first < '2001-01-01|').toBe(true);
    expect(holding.end).toBe('2003-03-31');
    // The segment listing it spans those days too.
    expect(manifest.format === 3 && manifest.segments.find((ref) => ref.last <= key && ref.first >= key)!.end! >= '2003-03-31').toBe(true);
  });

  it.each(MONTHS)('finds the %s month record from the middle of its month, on one page or many', async (month) => {
    const query = `since=${month}-15&until=${month}-20`;
    const expected = [...daysBetween(`${month}-15`, `${month}-20`), monthId(month), ...(month <= '2003-03' ? [LONG_WINDOW] : [])];
    expect(await pageThrough(query, 500)).toEqual(expected);
    expect(await pageThrough(query, 2)).toEqual(expected);
    expect(await pageThrough(`${query}&date_match=within`, 500)).toEqual(daysBetween(`${month}-15`, `${month}-20`));
  });

  it('finds the long approximate window years after its key, and /stats counts it', async () => {
    const found = await pageThrough('since=2003-03-31&until=2003-04-05', 3);
    expect(found).toEqual([...daysBetween('2003-03-31', '2003-04-05'), LONG_WINDOW]);
    const stats = await getJson<{ data: { total: { events: number } } }>('/stats?since=2003-03-31&until=2003-04-05');
    expect(stats.body.data.total.events).toBe(found.length);
    expect(await pageThrough('since=2003-04-01&until=2003-04-05', 3)).toEqual(daysBetween('2003-04-01', '2003-04-05'));
  });

  it('prunes chunks written before intervals by their sort keys', () => {
    const old: ChunkRef = { key: 'old', first: '2001-01-31|b', last: '2001-01-01|a', count: 2 };
    expect(refsInRange([old], keyRange(null, { since: '2001-02-01' }))).toEqual([]);
    expect(refsInRange([old], keyRange(null, { since: '2001-01-31' }))).toEqual([old]);
    const widened: ChunkRef = { ...old, start: '2001-01-01', end: '2001-02-28' };
    expect(refsInRange([widened], keyRange(null, { since: '2001-02-15', until: '2001-02-20' }))).toEqual([widened]);
    expect(refsInRange([widened], keyRange('2001-01-01|a', { since: '2001-02-15' }))).toEqual([]);
  });

  it('prunes segments by the days their chunks span, as chunks', () => {
    const segment: SegmentRef = { key: 'segment', first: '2001-01-31|b', last: '2000-12-01|a', count: 300, chunks: 2, start: '2000-12-01', end: '2001-03-31' };
    expect(refsInRange([segment], keyRange(null, { since: '2001-03-15' }))).toEqual([segment]);
    expect(refsInRange([segment], keyRange(null, { since: '2001-04-01' }))).toEqual([]);
    expect(refsInRange([segment], keyRange(null, { until: '2000-11-30' }))).toEqual([]);
  });
});
