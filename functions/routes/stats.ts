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
 * every request scans the index, as before.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { encodeCursor, StatsQuerySchema } from '../domain/query.ts';
import { summarize } from '../domain/stats.ts';
import { HEAD_KEY } from '../domain/layout.ts';
import { StaleIndexError, readHead, readStats, scanAllEntries, scanEntries, withFreshHead } from '../store/events-store.ts';
import { indexRead, readIndex } from './conditional.ts';
import type { ReadEnv } from './read-env.ts';
import { validationHook } from './errors.ts';

/** Route `GET /stats`, as `{ data: EventStats }` (with `partial` and `next_cursor` when scanned: `q`, `bbox`, `cursor`). */
export const statsRoutes = new Hono<ReadEnv>().get('/', vValidator('query', StatsQuerySchema, validationHook()), indexRead(), async (c) => {
  const { cursor, ...filter } = c.req.valid('query');
  const kv = c.env.EVENTS;
  if (cursor !== undefined || filter.q !== undefined || filter.bbox !== undefined) {
    const scan = await readIndex(c, (manifest) => scanEntries(kv, filter, cursor ?? null, manifest));
    return c.json({ data: summarize(scan.entries), partial: scan.next !== null, next_cursor: scan.next === null ? null : encodeCursor(scan.next) });
  }
  const head = c.get('head') ?? (await readHead(kv));
  if (head.stats === undefined) return c.json({ data: summarize(await readIndex(c, (manifest) => scanAllEntries(kv, filter, manifest))) });
  const { value, head: used } = await withFreshHead(kv, head, (named) => (named.stats ? readStats(kv, named.stats, filter) : Promise.reject(new StaleIndexError(HEAD_KEY))));
  c.set('head', used);
  return c.json({ data: value });
});
