/**
 * Dashboard JSON and its pages: `GET /events` (filtered, cursor-paged, newest
 * first), `GET /events/:id` and `GET /tallies`. Records are served with the
 * `date_start`/`date_end` derived from their date (`withDateInterval`). The
 * same URLs answer clients that prefer HTML with pages (the list with its
 * filter form, one record with its sources); `GET /events/<id>.json` is a
 * record's JSON for a link a browser can follow. A retracted record's URL
 * answers 410 Gone with its tombstone.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import * as v from 'valibot';
import { addDays, dateInterval } from '../domain/dates.ts';
import { EventQuerySchema, TallyQuerySchema, matchesTallyQuery } from '../domain/query.ts';
import { EventIdSchema, type Event } from '../domain/schema.ts';
import { EventPage, NEARBY_DAYS } from '../pages/event-page.tsx';
import { EventsPage, InvalidQueryPage } from '../pages/events-page.tsx';
import { ErrorPage } from '../pages/error-page.tsx';
import { queryEvents, readEvent, readTombstone } from '../store/events-store.ts';
import { conditionalGet, readIndex, recordIdOf, recordRead, talliesVersion } from './conditional.ts';
import type { ReadEnv } from './read-env.ts';
import { validationHook } from './errors.ts';
import { listEvents, listEventsJson, listRead } from './listing.ts';
import { JSON_OR_PAGE, dropEmptyParameters, htmlPage, isHtml, negotiate, negotiatedError, negotiatedValidationHook, originOf } from './negotiation.ts';

/** Most records listed as within NEARBY_DAYS of a record on its page. */
const NEARBY_LIMIT = 20;

/**
 * The answer for an id with no record: 410 Gone with the tombstone (JSON, or
 * a "retracted" page for browsers) when it was retracted, else the 404 of an
 * unknown id, as a page or as JSON.
 */
async function missingRecord(c: Context<ReadEnv>, id: string) {
  const tombstone = await readTombstone(c.env.EVENTS, id);
  if (!tombstone) return negotiatedError(c, 404, 'not_found', `No event with id "${id}"`, [{ field: 'id', message: 'no such event' }]);
  if (!isHtml(c)) return c.json(tombstone, 410);
  const message = `The record "${id}" was retracted on ${tombstone.retracted_at}${tombstone.reason ? `: ${tombstone.reason}` : ''}.`;
  return htmlPage(c, ErrorPage({ origin: originOf(c), heading: 'Retracted', message }), 410);
}

/** A record's page: the records it names as related, and others within NEARBY_DAYS of it. */
async function recordPage(c: Context<ReadEnv>, event: Event) {
  const { date_start, date_end } = dateInterval(event);
  const around = { since: addDays(date_start, -NEARBY_DAYS), until: addDays(date_end, NEARBY_DAYS) };
  const [linked, nearby] = await Promise.all([
    Promise.all(event.related.map(async (id) => ({ id, event: (await readEvent(c.env.EVENTS, id))?.record ?? null }))),
    readIndex(c, (manifest) => queryEvents(c.env.EVENTS, around, NEARBY_LIMIT, null, manifest)),
  ]);
  const shown = new Set([event.id, ...event.related]);
  return htmlPage(c, EventPage({ origin: originOf(c), event, linked, nearby: nearby.events.filter((other) => !shown.has(other.id)) }));
}

const negotiateJsonOrPage = negotiate(JSON_OR_PAGE);
const jsonOnly = negotiate(['application/json']);

/**
 * The media type of `GET /events/:id`: `<id>.json` is the record's JSON
 * whatever `Accept` says (a link a browser can follow); `<id>` is its JSON
 * or its page, by `Accept`. One route serves both, so that the app keeps
 * Hono's RegExpRouter: a second route at the same position with a pattern
 * of its own (`/:id{[a-z0-9-]+\\.json}`) made Hono fall back to its
 * TrieRouter, whose search was a tenth of the Worker's time on a repeated
 * `/events/:id` in workerd.
 */
const negotiateRecord: MiddlewareHandler<ReadEnv> = (c, next) => ((c.req.param('id') ?? '').endsWith('.json') ? jsonOnly(c, next) : negotiateJsonOrPage(c, next));

/** Routes under `/events`. */
export const eventsRoutes = new Hono<ReadEnv>()
  .get(
    '/',
    negotiate(JSON_OR_PAGE),
    dropEmptyParameters,
    vValidator('query', EventQuerySchema, negotiatedValidationHook((c, message, fields) => InvalidQueryPage({ origin: originOf(c), query: new URL(c.req.url).searchParams, message, fields }))),
    listRead(),
    async (c) => {
      if (!isHtml(c)) return c.body(await listEventsJson(c, c.req.valid('query')), 200, { 'Content-Type': 'application/json' });
      const page = await listEvents(c, c.req.valid('query'));
      return htmlPage(c, EventsPage({ origin: originOf(c), query: new URL(c.req.url).searchParams, events: page.events, nextCursor: page.nextCursor }));
    },
  )
  .get('/:id', negotiateRecord, vValidator('param', v.object({ id: v.pipe(v.string(), v.transform(recordIdOf), EventIdSchema) }), negotiatedValidationHook()), recordRead({ withIndex: ['text/html'] }), async (c) => {
    const { id } = c.req.valid('param');
    const stored = c.get('record');
    if (!stored) return missingRecord(c, id);
    return isHtml(c) ? recordPage(c, stored.record) : c.body(stored.text, 200, { 'Content-Type': 'application/json' });
  });

/** `GET /tallies`: reported running counts, newest first, filtered by `since`, `until` (the date each is as of) and `country`. */
export const talliesRoutes = new Hono<ReadEnv>().get('/', vValidator('query', TallyQuerySchema, validationHook()), conditionalGet(talliesVersion), async (c) => {
  const query = c.req.valid('query');
  const tallies = (c.get('tallies')?.data ?? []).filter((tally) => matchesTallyQuery(tally, query));
  return c.json({ data: [...tallies].sort((a, b) => (a.as_of < b.as_of ? 1 : a.as_of > b.as_of ? -1 : a.id.localeCompare(b.id))) });
});
