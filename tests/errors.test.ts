/**
 * The error contract, walked over every kind of 4xx the Worker answers:
 * each is `{ error: { status, code, message, fields } }` with `fields`
 * naming what was wrong, whatever layer refused the request (routing, admin
 * auth, body limits, content type, JSON parsing, validation, lookups).
 */
import { describe, expect, it } from 'vitest';
import { makeEventInput } from './fixtures/records.ts';
import { call } from './helpers.ts';

const TOKEN = { authorization: 'Bearer test-admin-token' };
const ADMIN = { ...TOKEN, 'content-type': 'application/json' };
const NO_SUBSCRIPTION = 'sub_00000000000000000000000000000000';

/** One request that must be refused: what is sent, the status, and the field the error must name (with its message when given). */
interface Refusal {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  status: number;
  field: string;
  message?: string;
}

const REFUSALS: Refusal[] = [
  // routing
  { path: '/no-such-route', status: 404, field: 'path' },
  { method: 'PUT', path: '/events', status: 404, field: 'path' },
  { method: 'DELETE', path: '/stats', status: 404, field: 'path' },
  // query and path parameters of the read API
  { path: '/events?colour=red', status: 400, field: 'colour' },
  { path: '/events?limit=0', status: 400, field: 'limit' },
  { path: '/events?cursor=garbage', status: 400, field: 'cursor' },
  { path: '/events/Not_A_Slug', status: 400, field: 'id' },
  { path: '/events/no-such-event', status: 404, field: 'id' },
  { path: '/feed.atom?type=massacre', status: 400, field: 'type' },
  { path: '/events.csv?bbox=1,2', status: 400, field: 'bbox' },
  { path: '/events.geojson?since=2023-02-30', status: 400, field: 'since' },
  { path: '/events?updated_since=2026-02-30T00:00:00Z', status: 400, field: 'updated_since' },
  { path: '/feed.rss?updated_since=2026-13-01T00:00:00Z', status: 400, field: 'updated_since' },
  { path: '/stats?limit=5', status: 400, field: 'limit' },
  // admin authentication
  { method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: '{}', status: 401, field: 'authorization' },
  { method: 'POST', path: '/events', headers: { ...ADMIN, authorization: 'Basic dGVzdA==' }, body: '{}', status: 401, field: 'authorization' },
  { method: 'POST', path: '/events', headers: { ...ADMIN, authorization: 'Bearer wrong' }, body: '{}', status: 401, field: 'authorization' },
  { path: '/admin/status', status: 401, field: 'authorization' },
  { path: '/subscriptions', status: 401, field: 'authorization' },
  // request bodies
  { method: 'POST', path: '/events', headers: { ...TOKEN, 'content-type': 'text/plain' }, body: '{}', status: 415, field: 'content-type' },
  { method: 'POST', path: '/events', headers: ADMIN, body: '{"id": "half', status: 400, field: 'body', message: 'is not valid JSON' },
  { method: 'POST', path: '/events', headers: ADMIN, body: '', status: 400, field: 'body', message: 'is not valid JSON' },
  { method: 'POST', path: '/events', headers: ADMIN, body: `[${'1,'.repeat(600_000)}1]`, status: 413, field: 'body' },
  { method: 'POST', path: '/events', headers: ADMIN, body: '[]', status: 400, field: 'body' },
  { method: 'POST', path: '/events', headers: ADMIN, body: JSON.stringify({ ...makeEventInput('bad-title', '2023-01-01'), title: '' }), status: 400, field: 'title' },
  { method: 'POST', path: '/subscriptions', headers: ADMIN, body: '{url: https://hooks.example.com}', status: 400, field: 'body', message: 'is not valid JSON' },
  { method: 'POST', path: '/subscriptions', headers: { ...TOKEN, 'content-type': 'application/x-www-form-urlencoded' }, body: 'url=x', status: 415, field: 'content-type' },
  { method: 'POST', path: '/subscriptions', headers: ADMIN, body: JSON.stringify({ url: 'https://hooks.example.com/', description: 'x'.repeat(20_000) }), status: 413, field: 'body' },
  { method: 'POST', path: '/subscriptions', headers: ADMIN, body: JSON.stringify({ url: 'https://hooks.example.com:25/' }), status: 400, field: 'url' },
  // subscriptions by id
  { path: '/subscriptions/not-an-id', headers: TOKEN, status: 400, field: 'id' },
  { path: `/subscriptions/${NO_SUBSCRIPTION}`, headers: TOKEN, status: 404, field: 'id' },
  { method: 'DELETE', path: `/subscriptions/${NO_SUBSCRIPTION}`, headers: TOKEN, status: 404, field: 'id' },
  { method: 'POST', path: `/subscriptions/${NO_SUBSCRIPTION}/test`, headers: TOKEN, status: 404, field: 'id' },
  { method: 'POST', path: `/subscriptions/${NO_SUBSCRIPTION}/enable`, headers: TOKEN, status: 404, field: 'id' },
  { method: 'POST', path: `/subscriptions/${NO_SUBSCRIPTION}/redeliver`, headers: TOKEN, status: 404, field: 'id' },
  { path: `/subscriptions/${NO_SUBSCRIPTION}/deliveries`, headers: TOKEN, status: 404, field: 'id' },
  { path: `/subscriptions/${NO_SUBSCRIPTION}/deliveries?limit=0`, headers: TOKEN, status: 400, field: 'limit' },
  { path: `/subscriptions/${NO_SUBSCRIPTION}/dead-letters`, headers: TOKEN, status: 404, field: 'id' },
];

describe('every 4xx names what was wrong', () => {
  it.each(REFUSALS.map((refusal) => [`${refusal.method ?? 'GET'} ${refusal.path.slice(0, 70)} → ${refusal.status} ${refusal.field}`, refusal] as const))('%s', async (_name, refusal) => {
    const response = await call(refusal.path, { method: refusal.method ?? 'GET', headers: refusal.headers, body: refusal.body });
    expect(response.status).toBe(refusal.status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const { error } = (await response.json()) as { error: { status: number; code: string; message: string; fields?: { field: string; message: string }[] } };
    expect(error).toMatchObject({ status: refusal.status, code: expect.any(String), message: expect.any(String) });
    expect(error.fields, 'fields').toBeDefined();
    expect(error.fields!.length).toBeGreaterThan(0);
    for (const problem of error.fields!) expect(problem).toEqual({ field: expect.any(String), message: expect.any(String) });
    const named = error.fields!.find((problem) => problem.field === refusal.field);
    expect(named, JSON.stringify(error.fields)).toBeDefined();
    if (refusal.message) expect(named!.message).toBe(refusal.message);
  });
});
