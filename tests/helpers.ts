/**
 * Shared workerd test helpers: requests through the real Worker entry point,
 * the check of a 400 naming a parameter, and (re-exported) the record builders.
 */
import { exports } from 'cloudflare:workers';
import { expect } from 'vitest';

export { dayFrom2000, makeEvent } from './fixtures/records.ts';

/** Sends a request to the Worker's default export, as a client would. */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`http://strikewire.test${path}`, init));
}

/** GETs `path` and returns status and parsed JSON body. */
export async function getJson<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T; response: Response }> {
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
