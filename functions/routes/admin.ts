/**
 * Operations endpoints (admin token): `GET /admin/status` shows the dataset
 * revision, how far publishing to KV has got (queued keys, KV puts, deletes
 * and failures, the next attempt), the webhook outbox and the quarantine;
 * `GET /admin/quarantine` lists invalid values found under `event:` keys;
 * `GET /admin/websub` lists the hub's verified WebSub subscriptions and
 * `GET /admin/websub/:id/deliveries` one's delivery log (WebSub subscribers
 * hold no token, so their log is the operator's to read).
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import * as v from 'valibot';
import type { Env } from '../env.ts';
import { coordinator } from '../store/coordinator-stub.ts';
import { requireAdmin } from './admin-auth.ts';
import { jsonError, validationHook } from './errors.ts';
import { LogQuery } from './subscriptions.ts';

/** The `:id` of a WebSub subscription route. */
export const WebSubIdParam = v.object({ id: v.pipe(v.string(), v.regex(/^ws_[0-9a-f]{24}$/, 'must be a WebSub subscription id (ws_ and 24 hex digits)')) });

/** Routes under `/admin`. */
export const adminRoutes = new Hono<{ Bindings: Env }>()
  .use('*', requireAdmin)
  .use('*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  })
  .get('/status', async (c) => c.json(await coordinator(c.env).status()))
  .get('/quarantine', async (c) => c.json({ data: await coordinator(c.env).quarantined() }))
  .get('/websub', async (c) => c.json({ data: await coordinator(c.env).listWebSub() }))
  .get('/websub/:id/deliveries', vValidator('param', WebSubIdParam, validationHook()), vValidator('query', LogQuery, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    const log = await coordinator(c.env).webSubDeliveries(id, c.req.valid('query').limit);
    return log ? c.json({ data: log }) : jsonError(c, 404, 'not_found', `No WebSub subscription with id "${id}"`, [{ field: 'id', message: 'no such WebSub subscription' }]);
  });
