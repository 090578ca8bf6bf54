/**
 * `GET /feed.rss`, `/feed.atom` and `/feed.json`: the newest page of any
 * `/events` query as a feed, so readers can subscribe to exactly what they
 * follow ("attacks in Syria with casualties"). Every feed names its WebSub
 * hub and itself in a `Link` header (and in its body), 304s included.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono, type MiddlewareHandler } from 'hono';
import { FEED_FORMATS, FEED_MEDIA_TYPES, FEED_PATHS, renderFeed } from '../domain/feed.ts';
import { hubLinkHeader } from '../domain/websub.ts';
import { FeedQuerySchema } from '../domain/query.ts';
import type { ReadEnv } from './read-env.ts';
import { validationHook } from './errors.ts';
import { listEvents, listRead } from './listing.ts';
import { negotiate } from './negotiation.ts';

/** The three feed routes. */
export const feedRoutes = new Hono<ReadEnv>();

/** Adds `Link: <hub>; rel="hub", <the feed as requested>; rel="self"` to every answer of a feed but errors. */
const hubLinks: MiddlewareHandler<ReadEnv> = async (c, next) => {
  await next();
  if (c.res.status === 200 || c.res.status === 304) c.res.headers.set('Link', hubLinkHeader(new URL(c.req.url).origin, c.req.url));
};

for (const format of FEED_FORMATS) {
  feedRoutes.get(FEED_PATHS[format], hubLinks, negotiate([FEED_MEDIA_TYPES[format]]), vValidator('query', FeedQuerySchema, validationHook()), listRead(), async (c) => {
    const page = await listEvents(c, c.req.valid('query'));
    const body = renderFeed(format, { url: c.req.url, events: page.events, datasetUpdatedAt: c.get('manifest')?.updated_at ?? null });
    return c.body(body, 200, { 'Content-Type': `${FEED_MEDIA_TYPES[format]}; charset=utf-8` });
  });
}
