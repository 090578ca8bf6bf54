/**
 * Operations endpoints (admin token): `GET /admin/status` shows the dataset
 * revision, how far publishing to KV has got (queued keys, KV puts, deletes
 * and failures, the next attempt), the webhook outbox and the quarantine;
 * `GET /admin/quarantine` lists invalid values found under `event:` keys.
 */
import { Hono } from 'hono';
import type { Env } from '../env.ts';
import { coordinator } from '../store/coordinator-stub.ts';
import { requireAdmin } from './admin-auth.ts';

/** Routes under `/admin`. */
export const adminRoutes = new Hono<{ Bindings: Env }>()
  .use('*', requireAdmin)
  .use('*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  })
  .get('/status', async (c) => c.json(await coordinator(c.env).status()))
  .get('/quarantine', async (c) => c.json({ data: await coordinator(c.env).quarantined() }));
