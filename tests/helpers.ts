/**
 * Shared test helpers: requests through the real Worker entry point, record
 * builders for synthetic datasets, and the check of a 400 naming a parameter.
 */
import { exports } from 'cloudflare:workers';
import { expect } from 'vitest';
import type { Event } from '../functions/domain/schema.ts';

/** Sends a request to the Worker's default export, as a client would. */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`http://strikewire.test${path}`, init));
}

/** GETs `path` and returns status and parsed JSON body. */
export async function getJson<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T; response: Response }> {
  const response = await call(path, init);
  return { status: response.status, body: (await response.json()) as T, response };
}

/** A valid synthetic record; `overrides` replace top-level fields. */
export function makeEvent(id: string, date: string, overrides: Partial<Event> = {}): Event {
  return {
    id,
    type: 'attack',
    title: `Synthetic event ${id}`,
    summary: 'A synthetic record used by the tests.',
    date,
    date_precision: 'day',
    location: { name: 'Al-Asad Air Base', country: 'IQ', lat: 33.7856, lon: 42.4412, precision: 'site' },
    actors: { perpetrator: ['Test Militia'], target: ['US forces'], claimed_by: [] },
    weapons: ['rocket'],
    casualties: [],
    sources: [{ document: '000_47b8be4f10ca94f1.txt', publisher: 'Test', quote: 'Last Friday' }],
    related: [],
    revision: 1,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** The date `days` days after 2000-01-01, as YYYY-MM-DD. */
export function dayFrom2000(days: number): string {
  return new Date(Date.UTC(2000, 0, 1 + days)).toISOString().slice(0, 10);
}

/** GETs `path` and expects a 400 JSON error whose problems all name `field`. */
export async function expectInvalidParameter(path: string, field: string): Promise<void> {
  const { status, body, response } = await getJson(path);
  expect(status, path).toBe(400);
  expect(response.headers.get('content-type'), path).toMatch(/^application\/json/);
  expect(body.error.code, path).toBe('invalid_parameter');
  expect(new Set(body.error.fields.map((problem: { field: string }) => problem.field)), path).toEqual(new Set([field]));
}
