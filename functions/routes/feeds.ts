/**
 * `GET /feed.rss`, `/feed.atom` and `/feed.json`: the newest page of any
 * `/events` query as a feed, so readers can subscribe to exactly what they
 * follow ("attacks in Syria with casualties").
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { FEED_FORMATS, FEED_MEDIA_TYPES, FEED_PATHS, renderFeed } from '../domain/feed.ts';
import { FeedQuerySchema } from '../domain/query.ts';
import type { ReadEnv } from './read-env.ts';
import { validationHook } from './errors.ts';
import { listEvents, listRead } from './listing.ts';
import { negotiate } from './negotiation.ts';

/** The three feed routes. */
export const feedRoutes = new Hono<ReadEnv>();

for (const format of FEED_FORMATS) {
  feedRoutes.get(FEED_PATHS[format], negotiate([FEED_MEDIA_TYPES[format]]), vValidator('query', FeedQuerySchema, validationHook()), listRead(), async (c) => {
    const page = await listEvents(c, c.req.valid('query'));
    const body = renderFeed(format, { url: c.req.url, events: page.events, datasetUpdatedAt: c.get('manifest')?.updated_at ?? null });
    return c.body(body, 200, { 'Content-Type': `${FEED_MEDIA_TYPES[format]}; charset=utf-8` });
  });
}
