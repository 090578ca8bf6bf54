/**
 * The HTTP application: shared middleware, then the sub-apps composed with
 * `app.route`.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import type { Env } from './env.ts';
import { bundlePublishedIn, ensureBundlePublished } from './jobs/publish-bundle.ts';
import { actorsRoutes } from './routes/actors.ts';
import { adminRoutes } from './routes/admin.ts';
import { changesRoutes } from './routes/changes.ts';
import { jsonError } from './routes/errors.ts';
import { eventsRoutes, talliesRoutes } from './routes/events.ts';
import { exportRoutes } from './routes/exports.ts';
import { feedRoutes } from './routes/feeds.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { metaRoutes } from './routes/meta.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { retractionRoutes } from './routes/retractions.ts';
import { sourcesRoutes } from './routes/sources.ts';
import { subscriptionsRoutes } from './routes/subscriptions.ts';
import { statsRoutes } from './routes/stats.ts';
import { websubRoutes } from './routes/websub.ts';
import { StaleIndexError } from './store/events-store.ts';

/** Seconds a client should wait after a 503 caused by an index this location cannot read consistently yet. */
const STALE_INDEX_RETRY_AFTER_SECONDS = 5;

/** The strikewire HTTP app. */
export const app = new Hono<{ Bindings: Env }>();

app.use('*', cors({ origin: '*', allowMethods: ['GET', 'HEAD', 'OPTIONS'], exposeHeaders: ['ETag', 'Last-Modified', 'Link'], maxAge: 86_400 }));
app.use('*', async (c, next) => {
  if (c.env.SEED_FROM_BUNDLE === 'true' && !bundlePublishedIn(c.env.EVENTS)) await ensureBundlePublished(c.env, new Date().toISOString());
  await next();
});

app.route('/', metaRoutes);
app.route('/events', eventsRoutes);
app.route('/events', ingestRoutes);
app.route('/events', retractionRoutes);
app.route('/changes', changesRoutes);
app.route('/subscriptions', subscriptionsRoutes);
app.route('/tallies', talliesRoutes);
app.route('/actors', actorsRoutes);
app.route('/sources', sourcesRoutes);
app.route('/', feedRoutes);
app.route('/', exportRoutes);
app.route('/stats', statsRoutes);
app.route('/admin', adminRoutes);
app.route('/', openApiRoutes);
app.route('/', websubRoutes);

app.notFound((c) => {
  const route = `${c.req.method} ${new URL(c.req.url).pathname}`;
  return jsonError(c, 404, 'not_found', `No route for ${route}`, [{ field: 'path', message: `no route for ${route}; GET / lists the endpoints` }]);
});
app.onError((error, c) => {
  if (error instanceof HTTPException && error.res) return error.res;
  if (error instanceof StaleIndexError) {
    console.warn('stale index read', new URL(c.req.url).pathname, error.message);
    c.header('Retry-After', String(STALE_INDEX_RETRY_AFTER_SECONDS));
    return jsonError(c, 503, 'index_unavailable', 'The index is being updated at this location; retry shortly');
  }
  if (error instanceof HTTPException) {
    // Routes answer their own refusals; this is a middleware's exception without a response of its own.
    const message = error.message || 'Request failed';
    return jsonError(c, error.status, error.status === 400 ? 'invalid_request' : 'http_error', message, [{ field: 'request', message }]);
  }
  console.error('unhandled error', c.req.method, new URL(c.req.url).pathname, error instanceof Error ? error.message : String(error));
  return jsonError(c, 500, 'internal_error', 'Internal error');
});
