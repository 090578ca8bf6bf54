/**
 * `POST /events`: authentication, validation with nothing written on bad
 * input, size limits, idempotent upserts with revisions, and 50 concurrent
 * ingests through the Coordinator losing nothing.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { app } from '../functions/app.ts';
import { MAX_INGEST_RECORDS, recordsPerPost } from '../functions/routes/ingest.ts';
import { call, coordinatorStub, getJson, makeEvent, settled } from './helpers.ts';

const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

/** POSTs to /events; after a success, waits until the write is published so that reads see it. */
async function post(body: unknown, headers: Record<string, string> = ADMIN): Promise<Response> {
  const response = await call('/events', { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  if (response.ok) await settled();
  return response;
}

const datasetState = async () => (await coordinatorStub().status()).dataset;

/** POSTs `body` through the Hono app with MAX_RECORDS_PER_POST set to `maxRecordsPerPost`. */
const postConfigured = (maxRecordsPerPost: string, body: unknown) =>
  app.fetch(new Request('http://strikewire.test/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(body) }), { ...env, MAX_RECORDS_PER_POST: maxRecordsPerPost });

type ErrorJson = { error: { code: string; message: string; fields?: { field: string; message: string }[] } };

describe('POST /events', () => {
  it('rejects requests without a valid admin token with 401 JSON and writes nothing', async () => {
    const record = makeEvent('unauthorised-write', '2020-01-01');
    for (const headers of [{ 'content-type': 'application/json' }, { ...ADMIN, authorization: 'Bearer wrong-token' }, { ...ADMIN, authorization: 'Basic dGVzdA==' }]) {
      const response = await post(record, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = (await response.json()) as { error: { code: string; fields: { field: string }[] } };
      expect(body.error.code).toBe('unauthorized');
      expect(JSON.stringify(body)).not.toContain('test-admin-token');
    }
    expect((await call('/events/unauthorised-write')).status).toBe(404);
  });

  it('creates a record (201), then treats the same record as unchanged (200)', async () => {
    const record = makeEvent('ingest-created', '2020-02-02');
    const first = await post(record);
    expect(first.status).toBe(201);
    const created = (await first.json()) as { results: { id: string; change: string; revision: number }[] };
    expect(created.results).toEqual([expect.objectContaining({ id: 'ingest-created', change: 'created', revision: 1 })]);
    const again = await post(record);
    expect(again.status).toBe(200);
    expect(((await again.json()) as typeof created).results[0]).toMatchObject({ change: 'unchanged', revision: 1 });
    const stored = await getJson('/events/ingest-created');
    expect(stored.body.title).toBe(record.title);
  });

  it('bumps revision and updated_at on a change, keeping created_at; ignores submitted bookkeeping', async () => {
    const record = makeEvent('ingest-updated', '2020-03-03');
    await post(record);
    const before = (await getJson('/events/ingest-updated')).body;
    const response = await post({ ...record, title: 'Edited title', revision: 99, created_at: '1990-01-01T00:00:00.000Z' });
    expect(response.status).toBe(200);
    const after = (await getJson('/events/ingest-updated')).body;
    expect(after).toMatchObject({ title: 'Edited title', revision: 2, created_at: before.created_at });
    expect(after.updated_at > before.updated_at).toBe(true);
    const listed = await getJson('/events?q=edited%20title');
    expect(listed.body.data.map((event: { id: string }) => event.id)).toEqual(['ingest-updated']);
  });

  it('accepts an array and answers per record', async () => {
    const response = await post([makeEvent('ingest-batch-a', '2020-04-01'), makeEvent('ingest-batch-b', '2020-04-02')]);
    expect(response.status).toBe(201);
    const body = (await response.json()) as { results: { id: string }[] };
    expect(body.results.map((result) => result.id)).toEqual(['ingest-batch-a', 'ingest-batch-b']);
  });

  it('answers 400 naming each bad field and writes nothing of the batch', async () => {
    const revisionBefore = (await datasetState()).revision;
    const good = makeEvent('ingest-good-in-bad-batch', '2020-05-01');
    const bad = { ...makeEvent('ingest-bad', '2020-05-02'), date: '2020-02-31', type: 'massacre', location: { ...good.location, lat: 123 } };
    const response = await post([good, bad]);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; fields: { field: string; message: string }[] } };
    expect(body.error.code).toBe('invalid_body');
    expect(body.error.fields.map((problem) => problem.field)).toEqual(expect.arrayContaining(['1.date', '1.type', '1.location.lat']));
    expect((await call('/events/ingest-good-in-bad-batch')).status).toBe(404);
    expect((await datasetState()).revision).toBe(revisionBefore);
  });

  it.each([
    ['an unknown field', { ...makeEvent('x-unknown', '2020-01-01'), colour: 'red' }, 'colour'],
    ['a missing field', (({ title: _t, ...rest }) => rest)(makeEvent('x-missing', '2020-01-01')), 'title'],
    ['a bad id', makeEvent('Not A Slug', '2020-01-01'), 'id'],
    ['no sources', { ...makeEvent('x-no-sources', '2020-01-01'), sources: [] }, 'sources'],
    ['a repeated id', [makeEvent('x-twice', '2020-01-01'), makeEvent('x-twice', '2020-01-02')], 'body'],
    ['an empty array', [], 'body'],
  ])('answers 400 for %s, naming %s', async (_what, body, field) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    const error = ((await response.json()) as { error: { fields: { field: string }[] } }).error;
    expect(error.fields.map((problem) => problem.field)).toContain(field);
  });

  it('answers 400 naming the field for an absurd casualty count, and writes nothing', async () => {
    const record = makeEvent('absurd-casualties', '2020-02-02', { casualties: [{ group: 'civilians', killed: 1e308, injured: 0 }] });
    const response = await post(record);
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorJson).error.fields).toEqual([{ field: 'casualties.0.killed', message: 'must be at most 100000 (got 1e+308)' }]);
    expect((await call('/events/absurd-casualties')).status).toBe(404);
  });

  it('answers 400 for malformed JSON and 415 for a non-JSON body', async () => {
    const malformed = await post('{"id": ');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as ErrorJson).error).toMatchObject({ code: 'invalid_body', fields: [{ field: 'body', message: 'is not valid JSON' }] });
    const text = await post('id=1', { authorization: ADMIN.authorization, 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
  });

  it('answers 413 for a body over the size limit', async () => {
    const huge = JSON.stringify({ ...makeEvent('x-huge', '2020-01-01'), summary: 'x'.repeat(1_100_000) });
    const response = await post(huge);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('reads MAX_RECORDS_PER_POST: 1 to the hard cap of 500, unset means 500, anything else is a configuration error', () => {
    expect(MAX_INGEST_RECORDS).toBe(500);
    expect(recordsPerPost(undefined)).toEqual({ maxRecords: 500 });
    expect(recordsPerPost('500')).toEqual({ maxRecords: 500 });
    expect(recordsPerPost(' 50 ')).toEqual({ maxRecords: 50 });
    expect(recordsPerPost(1)).toEqual({ maxRecords: 1 });
    for (const bad of ['0', '501', '-3', '2.5', '1e2', '050', 'ten', '', 600]) {
      expect(recordsPerPost(bad), String(bad)).toEqual({ problem: `MAX_RECORDS_PER_POST must be a whole number from 1 to 500, got ${JSON.stringify(bad)}` });
    }
  });

  it('answers 400 naming body beyond MAX_RECORDS_PER_POST, before validating the records, and writes nothing', async () => {
    const batch = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => makeEvent(`${prefix}-${i}`, '2020-06-01'));
    const over = await postConfigured('3', batch('configured-over', 4));
    expect(over.status).toBe(400);
    const body = (await over.json()) as ErrorJson;
    expect(body.error.code).toBe('invalid_body');
    expect(body.error.fields).toEqual([{ field: 'body', message: 'must hold at most 3 records (got 4)' }]);
    expect((await call('/events/configured-over-0')).status).toBe(404);

    const invalidAndOver = await postConfigured('3', batch('configured-bad', 4).map((record) => ({ ...record, type: 'massacre' })));
    expect(((await invalidAndOver.json()) as ErrorJson).error.fields?.map((problem) => problem.field)).toEqual(['body']);

    const within = await postConfigured('3', batch('configured-within', 3));
    expect(within.status).toBe(201);
    expect(((await within.json()) as { results: unknown[] }).results).toHaveLength(3);
  });

  it('holds the hard cap of 500 records by default', async () => {
    const records = Array.from({ length: MAX_INGEST_RECORDS + 1 }, (_, i) => makeEvent(`hard-cap-${i}`, '2020-07-01'));
    const response = await post(records);
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorJson).error.fields).toEqual([{ field: 'body', message: 'must hold at most 500 records (got 501)' }]);
    expect((await call('/events/hard-cap-0')).status).toBe(404);
  });

  it('closes writes with 503 and a log line while MAX_RECORDS_PER_POST is not usable', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      for (const bad of ['0', '501', 'fifty']) {
        const response = await postConfigured(bad, makeEvent('misconfigured-write', '2020-08-01'));
        expect(response.status, bad).toBe(503);
        const body = (await response.json()) as ErrorJson;
        expect(body.error.code).toBe('misconfigured');
        expect(body.error.message).toBe(`Writes are disabled: MAX_RECORDS_PER_POST must be a whole number from 1 to 500, got ${JSON.stringify(bad)}`);
      }
      expect(logged).toHaveBeenCalledTimes(3);
      expect(String(logged.mock.calls[0])).toContain('MAX_RECORDS_PER_POST');
    } finally {
      logged.mockRestore();
    }
    expect((await call('/events/misconfigured-write')).status).toBe(404);
  });

  it('loses nothing under 50 concurrent ingests of distinct records', async () => {
    const before = (await datasetState()).records;
    const ids = Array.from({ length: 50 }, (_, i) => `concurrent-${String(i).padStart(2, '0')}`);
    const responses = await Promise.all(ids.map((id, i) => post(makeEvent(id, `2021-01-${String((i % 28) + 1).padStart(2, '0')}`))));
    expect(responses.map((response) => response.status)).toEqual(ids.map(() => 201));
    expect((await datasetState()).records).toBe(before + 50);
    const listed = await getJson(`/events?since=2021-01-01&until=2021-01-31&limit=500`);
    expect(listed.body.data.map((event: { id: string }) => event.id).sort()).toEqual(ids);
  });
});
