/**
 * Shared workerd test helpers: requests through the real Worker entry point,
 * writing records through the Coordinator and waiting until they are
 * published, the check of a 400 naming a parameter, GETs that count the KV
 * keys they read (and wait until a body is served from the rendered-body
 * cache), and (re-exported) the record builders.
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { expect, vi } from 'vitest';
import type { EventInput } from '../functions/domain/schema.ts';
import type { CoordinatorStatus } from '../functions/store/coordinator.ts';
import type { WriteResult } from '../functions/store/dataset-table.ts';

export { dayFrom2000, makeEvent } from './fixtures/records.ts';

/**
 * Sends a request to the Worker's default export, as an API client would:
 * with `Accept: application/json` unless the test sets its own `Accept`
 * (`null` sends none, as a feed discovery tool does).
 */
export function call(path: string, init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string | null> } = {}): Promise<Response> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(init.headers ?? {})) if (value !== null) headers.set(name, value);
  if (!Object.keys(init.headers ?? {}).some((name) => name.toLowerCase() === 'accept')) headers.set('Accept', 'application/json');
  return exports.default.fetch(new Request(`http://strikewire.test${path}`, { ...init, headers }));
}

/** A GET through the real Worker entry; the KV keys it read, by name (a bulk read is "records"). */
export async function getCounting(path: string, headers: Record<string, string> = {}): Promise<{ response: Response; body: string; reads: string[] }> {
  const get = vi.spyOn(env.EVENTS, 'get');
  try {
    const response = await call(path, { headers });
    const body = await response.text();
    return { response, body, reads: get.mock.calls.map(([key]) => (Array.isArray(key) ? 'records' : String(key))) };
  } finally {
    get.mockRestore();
  }
}

/**
 * Repeats `path` until a request reads no more than the `cachedReads` keys a
 * cached body needs (the head; a record's `event:<id>`, and the head for its
 * page): its body is cached once the first request's waitUntil has run. That request.
 */
export async function untilCached(path: string, headers: Record<string, string> = {}, cachedReads = 1): Promise<{ response: Response; body: string; reads: string[] }> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const result = await getCounting(path, headers);
    if (result.reads.length <= cachedReads) return result;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${path} was never served from the cache`);
}

/** GETs `path` and returns status and parsed JSON body. */
export async function getJson<T = any>(path: string, init?: Parameters<typeof call>[1]): Promise<{ status: number; body: T; response: Response }> {
  const response = await call(path, init);
  return { status: response.status, body: (await response.json()) as T, response };
}

/** GETs `path` and expects a 400 JSON error whose problems all name `field`. */
export async function expectInvalidParameter(path: string, field: string): Promise<void> {
  const { status, body, response } = await getJson(path);
  expect(status, path).toBe(400);
  expect(response.headers.get('content-type'), path).toMatch(/^application\/json/);
  expect(body.error.code, path).toBe('invalid_parameter');
  expect(new Set(body.error.fields.map((problem: { field: string }) => problem.field)), path).toEqual(new Set([field]));
}

/** The Coordinator instance the Worker writes through. */
export const coordinatorStub = () => env.COORDINATOR.getByName('main');

/**
 * Waits until everything committed is published to KV and the webhook
 * outbox is sent, running the Coordinator's alarm rather than waiting for it
 * (KV's one-write-per-second rule still applies: the manifest may wait up to
 * a second). Returns the final status; throws after `timeoutMs`.
 */
export async function settled(timeoutMs = 15_000): Promise<CoordinatorStatus> {
  const stub = coordinatorStub();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await stub.status();
    if (status.publish.up_to_date && status.outbox.fanout === 0 && status.outbox.pending === 0 && !status.reconciliation.pass_under_way) return status;
    if (Date.now() > deadline) throw new Error(`not settled after ${timeoutMs} ms: ${JSON.stringify(status)}`);
    await runDurableObjectAlarm(stub);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Writes records through the Coordinator at time `now` (keeping the timestamps they carry when new), then waits until they are published. */
export async function seed(records: readonly EventInput[], now: string): Promise<WriteResult[]> {
  const results = await coordinatorStub().ingest([...records], now);
  await settled();
  return results;
}
