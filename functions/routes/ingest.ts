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
/** Most records one request may hold: the hard cap, and the default of MAX_RECORDS_PER_POST. */
export const MAX_INGEST_RECORDS = 500;

/** The batch limit in force, or why the configured one is unusable. */
export type RecordsPerPost = { maxRecords: number } | { problem: string };

/**
 * Reads MAX_RECORDS_PER_POST: unset means MAX_INGEST_RECORDS; a whole number
 * from 1 to MAX_INGEST_RECORDS (a TOML string or number) is the limit; any
 * other value is a configuration error, never silently widened to the hard cap.
 */
export function recordsPerPost(configured: string | number | undefined): RecordsPerPost {
  if (configured === undefined) return { maxRecords: MAX_INGEST_RECORDS };
  const text = String(configured).trim();
  if (/^[1-9]\d*$/.test(text) && Number(text) <= MAX_INGEST_RECORDS) return { maxRecords: Number(text) };
  return { problem: `MAX_RECORDS_PER_POST must be a whole number from 1 to ${MAX_INGEST_RECORDS}, got ${JSON.stringify(configured)}` };
}

const uniqueIds = (records: { id: string }[]) => new Set(records.map((record) => record.id)).size === records.length;

/** A non-empty array of at most `maxRecords` records with distinct ids; the count is checked before any record is validated. */
export const batchSchema = (maxRecords: number) =>
  v.pipe(
    v.array(v.unknown()),
    v.minLength(1, 'must hold at least one record'),
    v.maxLength(maxRecords, `must hold at most ${maxRecords} records`),
    v.array(EventInputSchema),
    v.check((records: EventInput[]) => uniqueIds(records), 'must not repeat an id'),
  );

/** One record, or a batch of at most `maxRecords`; issues name fields as `title` or `3.title`, and `body` for the batch as a whole. */
const ingestBodySchema = (maxRecords: number) => v.lazy((body) => (Array.isArray(body) ? batchSchema(maxRecords) : EventInputSchema));

/** The body validator for a batch limit of `maxRecords`. */
const bodyValidator = (maxRecords: number) => vValidator('json', ingestBodySchema(maxRecords), validationHook('body'));

/**
 * Validates the body under the configured MAX_RECORDS_PER_POST. A configured
 * value that is not usable closes writes (503, logged) until it is fixed.
 */
const validateBody: ReturnType<typeof bodyValidator> = (c, next) => {
  const env: Env = c.env;
  const limit = recordsPerPost(env.MAX_RECORDS_PER_POST);
  if ('problem' in limit) {
    console.error('POST /events refused:', limit.problem);
    return jsonError(c, 503, 'misconfigured', `Writes are disabled: ${limit.problem}`);
  }
  return bodyValidator(limit.maxRecords)(c, next);
};

/** Route `POST /events`. */
export const ingestRoutes = new Hono<{ Bindings: Env }>().post(
  '/',
  requireAdmin,
  bodyLimit({ maxSize: MAX_INGEST_BYTES, onError: (c) => jsonError(c, 413, 'payload_too_large', `The body must be at most ${MAX_INGEST_BYTES} bytes`, [{ field: 'body', message: 'too large' }]) }),
  requireJsonBody,
  validateBody,
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
