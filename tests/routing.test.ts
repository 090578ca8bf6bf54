/**
 * The app's routing: Hono's SmartRouter keeps its RegExpRouter (every route
 * matched by one regular expression a request) only while no two routes put
 * different patterns at the same position of a path; otherwise it falls back
 * to its TrieRouter, which walks the routes' tree on every request and was a
 * tenth of the Worker's time on a repeated `/events/:id` in workerd (a CPU
 * profile through `wrangler dev --inspector-port`). Both forms of a record's
 * URL still answer as before.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { app } from '../functions/app.ts';
import { call, seed, makeEvent } from './helpers.ts';

describe('routing', () => {
  it('keeps Hono on its RegExpRouter', async () => {
    await app.request('/healthz', {}, env);
    expect(app.router.name).toBe('SmartRouter + RegExpRouter');
  });

  it('answers /events/<id>.json with JSON whatever Accept asks, and /events/<id> by Accept', async () => {
    await seed([makeEvent('routing-json-link', '2024-02-02')], '2026-03-01T00:00:00.000Z');
    const link = await call('/events/routing-json-link.json', { headers: { accept: 'text/html' } });
    expect(link.status).toBe(200);
    expect(link.headers.get('content-type')).toMatch(/^application\/json/);
    expect(link.headers.get('vary')).toBeNull();
    expect((await link.json<{ id: string }>()).id).toBe('routing-json-link');
    const page = await call('/events/routing-json-link', { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('vary')).toBe('Accept');
    const json = await call('/events/routing-json-link', { headers: { accept: 'application/json' } });
    expect(await json.text()).toBe(await (await call('/events/routing-json-link.json')).text());
    const invalid = await call('/events/Not-An-Id.json', { headers: { accept: 'text/html' } });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await invalid.json<{ error: { fields: { field: string }[] } }>()).error.fields.map((field) => field.field)).toContain('id');
  });
});
