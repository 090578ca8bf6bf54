/**
 * One page of records for `/events`, the feeds and the exports, in the
 * order asked for: by date from the index (the default), or with
 * `order=updated` by the time of each record's last change from the change
 * log. A cursor belongs to its order: one of the other order, or of another
 * storage epoch, is a 400 naming `cursor`. `listRead` gives each order its
 * validators and body cache (routes/conditional.ts).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { DEFAULT_LIMIT, filtersNothing, updatedPosition, type EventQuery } from '../domain/query.ts';
import { withDateInterval } from '../domain/dates.ts';
import { eventsPageJson } from '../domain/page-json.ts';
import type { Event } from '../domain/schema.ts';
import { ForeignEpochError, queryByUpdate, queryEvents, queryServedEvents, readPublishedBody } from '../store/events-store.ts';
import { changeLogRead, indexRead, readIndex } from './conditional.ts';
import { jsonError } from './errors.ts';
import type { ReadEnv } from './read-env.ts';

/**
 * Middleware for the routes that list with `listEvents`, placed after input
 * validation: `order=updated` reads the change log (`changeLogRead`),
 * anything else the index (`indexRead`). Body cache keys carry the query as
 * requested, so each order and `updated_since` has its own entries.
 */
export function listRead(): MiddlewareHandler<ReadEnv> {
  const byIndex = indexRead();
  const byChangeLog = changeLogRead();
  return (c, next) => (new URL(c.req.url).searchParams.get('order') === 'updated' ? byChangeLog(c, next) : byIndex(c, next));
}

/** A 400 naming `cursor`, thrown to the app's error handler. */
function badCursor(c: Context<ReadEnv>, message: string): never {
  throw new HTTPException(400, { res: jsonError(c, 400, 'invalid_parameter', `Invalid parameter: cursor ${message}`, [{ field: 'cursor', message }]) });
}

/** Reads the page of `query` (a feed passes no cursor: its first page). */
export async function listEvents(c: Context<ReadEnv>, query: Omit<EventQuery, 'cursor'> & { cursor?: string }): Promise<{ events: Event[]; nextCursor: string | null }> {
  const { limit, cursor, order, ...filter } = query;
  if (order === 'updated') return listByUpdate(c, query);
  const after = dateCursor(c, cursor);
  return readIndex(c, (manifest) => queryEvents(c.env.EVENTS, filter, limit, after, manifest));
}

/**
 * The JSON body of `/events` for `query`: `{ data, next_cursor }`, the
 * same bytes as `c.json` would write for `listEvents`'s page. By date, the
 * records' stored texts are spliced in (queryServedEvents) rather than
 * parsed and written again; the front page (no filter, no cursor, the
 * default limit) is the one the writer published for the head's revision,
 * where this location can read it.
 */
export async function listEventsJson(c: Context<ReadEnv>, query: EventQuery): Promise<string> {
  const { limit, cursor, order, ...filter } = query;
  if (order === 'updated') {
    const page = await listByUpdate(c, query);
    return JSON.stringify({ data: page.events.map(withDateInterval), next_cursor: page.nextCursor });
  }
  const frontPage = c.get('head')?.front_page;
  if (frontPage !== undefined && cursor === undefined && limit === DEFAULT_LIMIT && filtersNothing(filter)) {
    const published = await readPublishedBody(c.env.EVENTS, frontPage);
    if (published !== null) {
      c.set('publishedBody', published);
      return published;
    }
  }
  const after = dateCursor(c, cursor);
  const page = await readIndex(c, (manifest) => queryServedEvents(c.env.EVENTS, filter, limit, after, manifest));
  return eventsPageJson(page.texts, page.nextCursor);
}

/** The sort key of an `order=date` cursor; null without one; a 400 for a cursor of `order=updated`. */
function dateCursor(c: Context<ReadEnv>, cursor: string | undefined): string | null {
  if (cursor !== undefined && updatedPosition(cursor)) badCursor(c, 'belongs to order=updated: pass order=updated with it, or start again without cursor');
  return cursor ?? null;
}

/** Reads the `order=updated` page of `query` from the change log. */
async function listByUpdate(c: Context<ReadEnv>, query: Omit<EventQuery, 'cursor'> & { cursor?: string }): Promise<{ events: Event[]; nextCursor: string | null }> {
  const { limit, cursor, order: _order, ...filter } = query;
  const position = cursor === undefined ? null : updatedPosition(cursor);
  if (cursor !== undefined && !position) badCursor(c, 'belongs to order=date: start again without cursor');
  try {
    return await queryByUpdate(c.env.EVENTS, filter, limit, position);
  } catch (error) {
    if (error instanceof ForeignEpochError) badCursor(c, 'is from another storage epoch: start again without cursor');
    throw error;
  }
}
