/**
 * `POST /events`: validated, idempotent upserts of one record or an array,
 * written through the Coordinator so that concurrent writes are serialised
 * and every new record revision is alerted once. The answer comes once the
 * write is committed to the Coordinator's storage; reads see it once it is
 * published to KV (see store/publisher.ts).
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import { EventInputSchema, type EventInput } from '../domain/schema.ts';
import type { Env } from '../env.ts';
import { coordinator } from '../store/coordinator-stub.ts';
import { requireAdmin, requireJsonBody } from './admin-auth.ts';
import { jsonError, validationHook } from './errors.ts';

/** Largest accepted request body. */
export const MAX_INGEST_BYTES = 1024 * 1024;
/** Most records in one request. */
export const MAX_INGEST_RECORDS = 500;

const uniqueIds = (records: { id: string }[]) => new Set(records.map((record) => record.id)).size === records.length;

const BatchSchema = v.pipe(
  v.array(EventInputSchema),
  v.minLength(1, 'must hold at least one record'),
  v.maxLength(MAX_INGEST_RECORDS, `must hold at most ${MAX_INGEST_RECORDS} records`),
  v.check((records: EventInput[]) => uniqueIds(records), 'must not repeat an id'),
);

/** One record, or a non-empty array of records with distinct ids; issues name fields as `title` or `3.title`. */
const IngestBodySchema = v.lazy((body) => (Array.isArray(body) ? BatchSchema : EventInputSchema));

/** Route `POST /events`. */
export const ingestRoutes = new Hono<{ Bindings: Env }>().post(
  '/',
  requireAdmin,
  bodyLimit({ maxSize: MAX_INGEST_BYTES, onError: (c) => jsonError(c, 413, 'payload_too_large', `The body must be at most ${MAX_INGEST_BYTES} bytes`, [{ field: 'body', message: 'too large' }]) }),
  requireJsonBody,
  vValidator('json', IngestBodySchema, validationHook('body')),
  async (c) => {
    const body = c.req.valid('json');
    // revision and timestamps are the server's to keep; submitted values are ignored.
    const records = (Array.isArray(body) ? body : [body]).map(({ revision: _r, created_at: _c, updated_at: _u, ...record }) => record);
    const results = await coordinator(c.env).ingest(records, new Date().toISOString());
    const created = results.some((result) => result.change === 'created');
    return c.json(
      { results: results.map(({ record, change }) => ({ id: record.id, change, revision: record.revision, updated_at: record.updated_at, url: `/events/${record.id}` })) },
      created ? 201 : 200,
    );
  },
);
