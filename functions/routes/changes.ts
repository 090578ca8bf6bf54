/**
 * `GET /changes?since=<cursor>&limit=`: every create, update and retraction
 * in commit order, from the change log's published pages in KV (never the
 * Coordinator), so a page costs one or two KV reads whatever the size of the
 * dataset. A cursor of another storage epoch is answered 410: its positions
 * mean nothing in the new log, and the client must resync from `/events`.
 *
 * Validators: a strong ETag digesting the page served (a matching
 * If-None-Match gets a 304), never one read beforehand: `changes:head` moves
 * only when a page is started, so it cannot tell a grown last page from the
 * one a client holds. No body is cached for the same reason; the client
 * may keep a page for CHANGES_CACHE_CONTROL's five seconds.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { ChangesQuerySchema, encodeChangesCursor } from '../domain/change-feed.ts';
import { ForeignEpochError, readChanges } from '../store/events-store.ts';
import { digestValidated } from './conditional.ts';
import { jsonError, validationHook } from './errors.ts';
import type { ReadEnv } from './read-env.ts';

/** A page may grow while it is the last one: clients and caches keep it briefly. */
const CHANGES_CACHE_CONTROL = 'public, max-age=5';

/** Route `GET /changes`, as `{ data, next }`. */
export const changesRoutes = new Hono<ReadEnv>().get('/', vValidator('query', ChangesQuerySchema, validationHook()), digestValidated(CHANGES_CACHE_CONTROL), async (c) => {
  const { since, limit } = c.req.valid('query');
  try {
    const page = await readChanges(c.env.EVENTS, since ?? null, limit);
    return c.json({ data: page.changes, next: page.next ? encodeChangesCursor(page.next) : null });
  } catch (error) {
    if (!(error instanceof ForeignEpochError)) throw error;
    const message = `The cursor is from another storage epoch (${error.cursorEpoch}; the change log is now in ${error.currentEpoch}), so its position means nothing any more: resync by reading every record from /events, then follow /changes from the start (no since)`;
    return jsonError(c, 410, 'cursor_expired', message, [{ field: 'since', message: 'is from another storage epoch; resync from /events and start /changes again without since' }]);
  }
});
