/**
 * Dashboard JSON: `GET /events` (filtered, cursor-paged, newest first),
 * `GET /events/:id` and `GET /tallies`. Records are served with the
 * `date_start`/`date_end` derived from their date (`withDateInterval`).
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import * as v from 'valibot';
import { withDateInterval } from '../domain/dates.ts';
import { EventQuerySchema, TallyQuerySchema, matchesTallyQuery } from '../domain/query.ts';
import { EventIdSchema } from '../domain/schema.ts';
import { queryEvents } from '../store/events-store.ts';
import { conditionalGet, indexRead, readIndex, recordRead, talliesVersion, type ReadEnv } from './conditional.ts';
import { jsonError, validationHook } from './errors.ts';

/** Routes under `/events`. */
export const eventsRoutes = new Hono<ReadEnv>()
  .get('/', vValidator('query', EventQuerySchema, validationHook()), indexRead(), async (c) => {
    const { limit, cursor, ...filter } = c.req.valid('query');
    const page = await readIndex(c, (manifest) => queryEvents(c.env.EVENTS, filter, limit, cursor ?? null, manifest));
    return c.json({ data: page.events.map(withDateInterval), next_cursor: page.nextCursor });
  })
  .get('/:id', vValidator('param', v.object({ id: EventIdSchema }), validationHook()), recordRead(), async (c) => {
    const { id } = c.req.valid('param');
    const stored = c.get('record');
    return stored ? c.body(stored.text, 200, { 'Content-Type': 'application/json' }) : jsonError(c, 404, 'not_found', `No event with id "${id}"`, [{ field: 'id', message: 'no such event' }]);
  });

/** `GET /tallies`: reported running counts, newest first, filtered by `since`, `until` (the date each is as of) and `country`. */
export const talliesRoutes = new Hono<ReadEnv>().get('/', vValidator('query', TallyQuerySchema, validationHook()), conditionalGet(talliesVersion), async (c) => {
  const query = c.req.valid('query');
  const tallies = (c.get('tallies')?.data ?? []).filter((tally) => matchesTallyQuery(tally, query));
  return c.json({ data: [...tallies].sort((a, b) => (a.as_of < b.as_of ? 1 : a.as_of > b.as_of ? -1 : a.id.localeCompare(b.id))) });
});
