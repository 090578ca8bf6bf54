/**
 * `DELETE /events/:id` (admin token): retracts a record, with an optional
 * JSON body `{ "reason": "…" }`. The record leaves every list, feed, export
 * and stat once published; `GET /events/:id` answers 410 with the tombstone;
 * `/changes` carries it; subscribers whose filters matched the record get one
 * `event.deleted`. Retracting again answers the same tombstone and alerts
 * nobody; writing the id again with `POST /events` restores it.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import { RetractionBodySchema } from '../domain/change-feed.ts';
import { EventIdSchema } from '../domain/schema.ts';
import type { Env } from '../env.ts';
import { coordinator } from '../store/coordinator-stub.ts';
import { requireAdmin, requireJsonBody } from './admin-auth.ts';
import { invalidInput, jsonError, validationHook } from './errors.ts';

/** Largest accepted retraction body. */
const MAX_RETRACTION_BYTES = 4 * 1024;

/** The body is optional: an empty one is no reason; anything else must be JSON. */
const optionalJsonBody: MiddlewareHandler = async (c, next) => ((await c.req.text()).trim() === '' ? next() : requireJsonBody(c, next));

/** Route `DELETE /events/:id`. */
export const retractionRoutes = new Hono<{ Bindings: Env }>().delete(
  '/:id',
  requireAdmin,
  vValidator('param', v.object({ id: EventIdSchema }), validationHook()),
  bodyLimit({ maxSize: MAX_RETRACTION_BYTES, onError: (c) => jsonError(c, 413, 'payload_too_large', `The body must be at most ${MAX_RETRACTION_BYTES} bytes`, [{ field: 'body', message: 'too large' }]) }),
  optionalJsonBody,
  async (c) => {
    const { id } = c.req.valid('param');
    const text = await c.req.text();
    const body = v.safeParse(RetractionBodySchema, text.trim() === '' ? {} : await c.req.json());
    if (!body.success) return invalidInput(c, body.issues, 'body');
    const retraction = await coordinator(c.env).retract(id, body.output.reason ?? null, new Date().toISOString());
    if (!retraction) return jsonError(c, 404, 'not_found', `No event with id "${id}"`, [{ field: 'id', message: 'no such event' }]);
    return c.json(retraction.tombstone, 200);
  },
);
