/**
 * `GET /feed.rss`, `/feed.atom` and `/feed.json`: the newest page of any
 * `/events` query as a feed, so readers can subscribe to exactly what they
 * follow ("attacks in Syria with casualties").
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { FEED_FORMATS, FEED_MEDIA_TYPES, FEED_PATHS, renderFeed } from '../domain/feed.ts';
import { FeedQuerySchema } from '../domain/query.ts';
import { queryEvents } from '../store/events-store.ts';
import { indexRead, readIndex } from './conditional.ts';
import type { ReadEnv } from './read-env.ts';
import { validationHook } from './errors.ts';
import { negotiate } from './negotiation.ts';

/** The three feed routes. */
export const feedRoutes = new Hono<ReadEnv>();

for (const format of FEED_FORMATS) {
  feedRoutes.get(FEED_PATHS[format], negotiate([FEED_MEDIA_TYPES[format]]), vValidator('query', FeedQuerySchema, validationHook()), indexRead(), async (c) => {
    const { limit, ...filter } = c.req.valid('query');
    const page = await readIndex(c, (manifest) => queryEvents(c.env.EVENTS, filter, limit, null, manifest));
    const body = renderFeed(format, { url: c.req.url, events: page.events, datasetUpdatedAt: page.manifest.updated_at });
    return c.body(body, 200, { 'Content-Type': `${FEED_MEDIA_TYPES[format]}; charset=utf-8` });
  });
}
