/**
 * `GET /stats`: counts and casualty sums by month, type, country and actor
 * over every record matching the `/events` filters, for dashboard charts.
 *
 * Filters on dates, type, country, precision, actors, weapons and casualties
 * are answered exactly from the aggregates kept at write time
 * (domain/stats-cells.ts), named by the index head: a few KV reads whatever
 * the size of the dataset. `q` and `bbox` look at what no aggregate keeps
 * (text, coordinates): they are answered from a scan of at most
 * MAX_STATS_SCAN_CHUNKS index chunks, newest first, with `partial: true`
 * and a `next_cursor` when chunks remain; the same request with `cursor`
 * gives the stats of the next records, and the sum of the parts is the
 * whole. Until the aggregates of a store published before them are built,
 * every request scans the index, as before. With no filter at all, the
 * answer is the body the writer published with the aggregates
 * (`statsAnswerKey`), sent as it is where this location can read it.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono, type Context } from 'hono';
import { encodeCursor, filtersNothing, StatsQuerySchema, type EventFilter } from '../domain/query.ts';
import { statsAnswerKey } from '../domain/stats-cells.ts';
import { summarize, type EventStats } from '../domain/stats.ts';
import { HEAD_KEY } from '../domain/layout.ts';
import { StaleIndexError, readHead, readPublishedBody, readStats, scanAllEntries, scanEntries, withFreshHead } from '../store/events-store.ts';
import { indexRead, readIndex } from './conditional.ts';
import type { ReadEnv } from './read-env.ts';
import { validationHook } from './errors.ts';

/**
 * The stats of the records matching `filter` (without `q` and `bbox`): from
 * the aggregates the index head names (moving to a fresher head once if this
 * location cannot read them yet, and keeping the head used for the body's
 * validators), or, before they are built, from a scan of the whole index.
 * Placed after `indexRead`.
 */
export async function matchingStats(c: Context<ReadEnv>, filter: EventFilter): Promise<EventStats> {
  const kv = c.env.EVENTS;
  const head = c.get('head') ?? (await readHead(kv));
  if (head.stats === undefined) return summarize(await readIndex(c, (manifest) => scanAllEntries(kv, filter, manifest)));
  const { value, head: used } = await withFreshHead(kv, head, (named) => (named.stats ? readStats(kv, named.stats, filter) : Promise.reject(new StaleIndexError(HEAD_KEY))));
  c.set('head', used);
  return value;
}

/**
 * The body of `/stats` with no filter the writer published with the
 * aggregates the head names, kept to be sent as it is; null where the head
 * names none or this location cannot read it. Placed after `indexRead`.
 */
async function publishedAnswer(c: Context<ReadEnv>): Promise<string | null> {
  const directory = c.get('head')?.stats;
  if (directory === undefined) return null;
  const published = await readPublishedBody(c.env.EVENTS, statsAnswerKey(directory));
  if (published !== null) c.set('publishedBody', published);
  return published;
}

/** Route `GET /stats`, as `{ data: EventStats }` (with `partial` and `next_cursor` when scanned: `q`, `bbox`, `cursor`). */
export const statsRoutes = new Hono<ReadEnv>().get('/', vValidator('query', StatsQuerySchema, validationHook()), indexRead(), async (c) => {
  const { cursor, ...filter } = c.req.valid('query');
  if (cursor === undefined && filtersNothing(filter)) {
    const published = await publishedAnswer(c);
    if (published !== null) return c.body(published, 200, { 'Content-Type': 'application/json' });
  }
  if (cursor === undefined && filter.q === undefined && filter.bbox === undefined) return c.json({ data: await matchingStats(c, filter) });
  const scan = await readIndex(c, (manifest) => scanEntries(c.env.EVENTS, filter, cursor ?? null, manifest));
  return c.json({ data: summarize(scan.entries), partial: scan.next !== null, next_cursor: scan.next === null ? null : encodeCursor(scan.next) });
});
