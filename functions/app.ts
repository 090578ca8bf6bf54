/**
 * The HTTP application: shared middleware, then the sub-apps composed with
 * `app.route`.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { Env } from './env.ts';
import { HTTPException } from 'hono/http-exception';
import { bundleIsPublished } from './jobs/publish-bundle.ts';
import { jsonError } from './routes/errors.ts';
import { eventsRoutes, talliesRoutes } from './routes/events.ts';
import { exportRoutes } from './routes/exports.ts';
import { feedRoutes } from './routes/feeds.ts';
import { coordinator, ingestRoutes } from './routes/ingest.ts';
import { metaRoutes } from './routes/meta.ts';
import { subscriptionsRoutes } from './routes/subscriptions.ts';
import { statsRoutes } from './routes/stats.ts';

/** The strikewire HTTP app. */
export const app = new Hono<{ Bindings: Env }>();

app.use('*', cors({ origin: '*', allowMethods: ['GET', 'HEAD', 'OPTIONS'], exposeHeaders: ['ETag', 'Last-Modified', 'Link'], maxAge: 86_400 }));
app.use('*', async (c, next) => {
  if (c.env.SEED_FROM_BUNDLE === 'true' && !(await bundleIsPublished(c.env.EVENTS))) await coordinator(c.env).publishBundle(new Date().toISOString());
  await next();
});

app.route('/', metaRoutes);
app.route('/events', eventsRoutes);
app.route('/events', ingestRoutes);
app.route('/subscriptions', subscriptionsRoutes);
app.route('/tallies', talliesRoutes);
app.route('/', feedRoutes);
app.route('/', exportRoutes);
app.route('/stats', statsRoutes);

app.notFound((c) => jsonError(c, 404, 'not_found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}`));
app.onError((error, c) => {
  if (error instanceof HTTPException && error.res) return error.res;
  if (error instanceof HTTPException) return jsonError(c, error.status, error.status === 400 ? 'invalid_body' : 'http_error', error.message || 'Request failed');
  console.error('unhandled error', c.req.method, new URL(c.req.url).pathname, error instanceof Error ? error.message : String(error));
  return jsonError(c, 500, 'internal_error', 'Internal error');
});
