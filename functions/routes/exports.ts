/**
 * `GET /events.geojson` and `GET /events.csv`: a page of any `/events` query
 * (same filters, `limit` and `cursor`) for maps and spreadsheets. The next
 * page is announced in a `Link: <…>; rel="next"` header.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { CSV_MEDIA_TYPE, toCsv } from '../domain/csv.ts';
import { GEOJSON_MEDIA_TYPE, toFeatureCollection } from '../domain/geojson.ts';
import { EventQuerySchema } from '../domain/query.ts';
import type { Event } from '../domain/schema.ts';
import type { ReadEnv } from './read-env.ts';
import { validationHook } from './errors.ts';
import { listEvents, listRead } from './listing.ts';
import { negotiate } from './negotiation.ts';

/** How each export is rendered and labelled. */
const EXPORTS: Record<string, { mediaType: string; headers: Record<string, string>; render(events: readonly Event[], origin: string): string }> = {
  '/events.geojson': { mediaType: GEOJSON_MEDIA_TYPE, headers: { 'Content-Type': GEOJSON_MEDIA_TYPE }, render: (events, origin) => JSON.stringify(toFeatureCollection(events, origin)) },
  '/events.csv': { mediaType: CSV_MEDIA_TYPE, headers: { 'Content-Type': CSV_MEDIA_TYPE, 'Content-Disposition': 'attachment; filename="strikewire-events.csv"' }, render: toCsv },
};

/** The export routes. */
export const exportRoutes = new Hono<ReadEnv>();

for (const [path, format] of Object.entries(EXPORTS)) {
  exportRoutes.get(path, negotiate([format.mediaType]), vValidator('query', EventQuerySchema, validationHook()), listRead(), async (c) => {
    const page = await listEvents(c, c.req.valid('query'));
    const url = new URL(c.req.url);
    const headers = { ...format.headers };
    if (page.nextCursor) {
      url.searchParams.set('cursor', page.nextCursor);
      headers.Link = `<${url.href}>; rel="next"`;
    }
    return c.body(format.render(page.events, url.origin), 200, headers);
  });
}
