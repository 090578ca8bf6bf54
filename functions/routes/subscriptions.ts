/**
 * The webhook subscriptions API: create (the `whsec_` secret and the scoped
 * `swt_` token are shown once) and list with the admin token; read, delete,
 * ping, re-enable, rotate the secret or the token, the delivery log, dead
 * letters and their redelivery, and replays of past alerts, with the admin
 * token or the subscription's own scoped token. State lives in the
 * Coordinator.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import { Limit } from '../domain/query.ts';
import { MAX_REPLAYS_UNDER_WAY, replayRequestSchema } from '../domain/replay.ts';
import { RotateSecretSchema } from '../domain/subscriber-credentials.ts';
import { subscriptionInputSchema } from '../domain/subscription.ts';
import type { Env } from '../env.ts';
import { optionalJsonBody, requireAdmin, requireAdminOrSubscriber, requireJsonBody } from './admin-auth.ts';
import { invalidInput, jsonError, validationHook } from './errors.ts';
import { coordinator } from '../store/coordinator-stub.ts';

/** Largest accepted subscription body. */
const MAX_SUBSCRIPTION_BYTES = 16 * 1024;

/** The `:id` of a subscription route. */
export const IdParam = v.object({ id: v.pipe(v.string(), v.regex(/^sub_[0-9a-f]{32}$/, 'must be a subscription id (sub_ and 32 hex digits)')) });

/** `GET /subscriptions/:id/deliveries?limit=` (and `/replays`): how many entries, newest first (default 100). */
export const LogQuery = v.strictObject({ limit: v.optional(Limit, '100') });

/** `?replay=true` also sends the alerts held while the subscription was disabled. */
export const EnableQuery = v.strictObject({ replay: v.optional(v.picklist(['true', 'false'], 'must be true or false')) });

const missing = (c: Parameters<typeof jsonError>[0], id: string) => jsonError(c, 404, 'not_found', `No subscription with id "${id}"`, [{ field: 'id', message: 'no such subscription' }]);

const limitBody = bodyLimit({ maxSize: MAX_SUBSCRIPTION_BYTES, onError: (c) => jsonError(c, 413, 'payload_too_large', `The body must be at most ${MAX_SUBSCRIPTION_BYTES} bytes`, [{ field: 'body', message: 'too large' }]) });

/** Routes under `/subscriptions`. */
export const subscriptionsRoutes = new Hono<{ Bindings: Env }>()
  .use('/', requireAdmin)
  .use('/:id', requireAdminOrSubscriber)
  .use('/:id/*', requireAdminOrSubscriber)
  .post(
    '/',
    limitBody,
    requireJsonBody,
    vValidator('json', v.unknown(), validationHook('body')),
    async (c) => {
      const schema = subscriptionInputSchema({ allowLoopbackHttp: c.env.ALLOW_LOOPBACK_WEBHOOKS === 'true' });
      const result = v.safeParse(schema, c.req.valid('json'));
      if (!result.success) return invalidInput(c, result.issues, 'body');
      const { subscription, secret, token } = await coordinator(c.env).createSubscription(result.output, new Date().toISOString());
      c.header('Location', `/subscriptions/${subscription.id}`);
      return c.json({ ...subscription, secret, token }, 201);
    },
  )
  .get('/', async (c) => c.json({ data: await coordinator(c.env).listSubscriptions() }))
  .get('/:id', vValidator('param', IdParam, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    const subscription = await coordinator(c.env).getSubscription(id);
    return subscription ? c.json(subscription) : missing(c, id);
  })
  .delete('/:id', vValidator('param', IdParam, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    return (await coordinator(c.env).deleteSubscription(id)) ? c.body(null, 204) : missing(c, id);
  })
  .post('/:id/test', vValidator('param', IdParam, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    const msgId = await coordinator(c.env).pingSubscription(id, new Date().toISOString());
    return msgId ? c.json({ msg_id: msgId, status: 'queued' }, 202) : missing(c, id);
  })
  .post('/:id/enable', vValidator('param', IdParam, validationHook()), vValidator('query', EnableQuery, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    const replay = c.req.valid('query').replay === 'true';
    const enabled = await coordinator(c.env).enableSubscription(id, new Date().toISOString(), replay);
    if (!enabled) return missing(c, id);
    return c.json(replay ? { ...enabled.subscription, replayed: enabled.replayed } : enabled.subscription);
  })
  .get('/:id/deliveries', vValidator('param', IdParam, validationHook()), vValidator('query', LogQuery, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    const log = await coordinator(c.env).deliveries(id, c.req.valid('query').limit);
    return log ? c.json({ data: log }) : missing(c, id);
  })
  .get('/:id/dead-letters', vValidator('param', IdParam, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    const letters = await coordinator(c.env).deadLetters(id);
    return letters ? c.json({ data: letters }) : missing(c, id);
  })
  .post('/:id/redeliver', vValidator('param', IdParam, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    const count = await coordinator(c.env).redeliver(id, new Date().toISOString());
    return count === null ? missing(c, id) : c.json({ queued: count }, 202);
  })
  .post('/:id/rotate-secret', vValidator('param', IdParam, validationHook()), limitBody, optionalJsonBody, async (c) => {
    const { id } = c.req.valid('param');
    const result = v.safeParse(RotateSecretSchema, (await c.req.text()).trim() === '' ? {} : await c.req.json());
    if (!result.success) return invalidInput(c, result.issues, 'body');
    const rotation = await coordinator(c.env).rotateSubscriptionSecret(id, result.output.grace_seconds, new Date().toISOString());
    return rotation ? c.json({ ...rotation.subscription, secret: rotation.secret }) : missing(c, id);
  })
  .post('/:id/replay', vValidator('param', IdParam, validationHook()), limitBody, requireJsonBody, async (c) => {
    const { id } = c.req.valid('param');
    const result = v.safeParse(replayRequestSchema(new Date()), await c.req.json());
    if (!result.success) return invalidInput(c, result.issues, 'body');
    const started = await coordinator(c.env).replay(id, result.output, new Date().toISOString());
    switch (started.outcome) {
      case 'started':
        return c.json(started.replay, 202);
      case 'not_found':
        return missing(c, id);
      case 'disabled':
        return jsonError(c, 409, 'subscription_disabled', 'The subscription is disabled: enable it first', [{ field: 'id', message: 'is a disabled subscription (POST /subscriptions/:id/enable turns it back on)' }]);
      case 'too_many':
        return jsonError(c, 409, 'replays_under_way', `The subscription has ${MAX_REPLAYS_UNDER_WAY} replays under way`, [{ field: 'id', message: `has ${MAX_REPLAYS_UNDER_WAY} replays under way: ask again once one has finished` }]);
      case 'no_event_types':
        return jsonError(c, 400, 'invalid_body', 'Invalid body: event_types names no type the subscription takes', [{ field: 'event_types', message: `names no type this subscription takes (it takes ${started.subscribed.join(', ')})` }]);
    }
  })
  .get('/:id/replays', vValidator('param', IdParam, validationHook()), vValidator('query', LogQuery, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    const replays = await coordinator(c.env).listReplays(id, c.req.valid('query').limit);
    return replays ? c.json({ data: replays }) : missing(c, id);
  })
  .post('/:id/rotate-token', vValidator('param', IdParam, validationHook()), async (c) => {
    const { id } = c.req.valid('param');
    const token = await coordinator(c.env).rotateSubscriptionToken(id, new Date().toISOString());
    return token ? c.json({ id, token }) : missing(c, id);
  });
