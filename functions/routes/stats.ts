/**
 * `GET /stats`: counts and casualty sums by month, type, country and actor
 * over every record matching the `/events` filters, for dashboard charts.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { FilterQuerySchema } from '../domain/query.ts';
import { summarize } from '../domain/stats.ts';
import { scanEntries } from '../store/events-store.ts';
import { indexRead, readIndex } from './conditional.ts';
import type { ReadEnv } from './read-env.ts';
import { validationHook } from './errors.ts';

/** Route `GET /stats`, as `{ data: EventStats }`. */
export const statsRoutes = new Hono<ReadEnv>().get('/', vValidator('query', FilterQuerySchema, validationHook()), indexRead(), async (c) =>
  c.json({ data: summarize(await readIndex(c, (manifest) => scanEntries(c.env.EVENTS, c.req.valid('query'), manifest))) }),
);
