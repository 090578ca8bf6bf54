/**
 * Conditional GET and caching headers on the read endpoints: strong ETags
 * from the dataset revision and the query (a record's digest for
 * `/events/:id`), Last-Modified from the last index change (the record's
 * `updated_at`), 304s for If-None-Match and If-Modified-Since, validators that
 * change with writes (events and tallies), and the headers of `/` and `/healthz`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import tallies from '../data/tallies.json';
import type { Tally } from '../functions/domain/schema.ts';
import { call, coordinatorStub, makeEvent, seed, settled } from './helpers.ts';

const NEWEST_CHANGE = '2026-02-10T08:00:30.500Z';
const WRITTEN_AT = '2026-02-10T09:00:00.900Z';
const READ_ENDPOINTS = ['/events', '/events/first', '/feed.rss', '/feed.atom', '/feed.json', '/events.geojson', '/events.csv', '/stats', '/stats?country=IQ'];

/** Publishes `collection` as the bundled tallies at `now` (through the Coordinator, as data/ is). */
async function publishTallies(collection: Tally[], now: string): Promise<void> {
  await coordinatorStub().publishBundle({ fingerprint: `tallies-${now}`, events: [], tallies: collection }, now);
  await settled();
}

const get = (path: string, headers: Record<string, string> = {}) => call(path, { headers });

async function validators(path: string): Promise<{ etag: string; lastModified: string }> {
  const response = await get(path);
  expect(response.status, path).toBe(200);
  return { etag: response.headers.get('etag')!, lastModified: response.headers.get('last-modified')! };
}

beforeAll(async () => {
  await seed([makeEvent('first', '2024-01-01', { updated_at: NEWEST_CHANGE }), makeEvent('second', '2024-01-02')], WRITTEN_AT);
  await publishTallies(tallies as Tally[], '2026-02-11T00:00:00.000Z');
});

describe('read endpoints', () => {
  it('send a strong ETag, Last-Modified of the last index change and a polling Cache-Control', async () => {
    for (const path of READ_ENDPOINTS) {
      const response = await get(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('etag'), path).toMatch(/^"[0-9a-f]{40}"$/);
      // A record's own change time for /events/:id, the index's last change for everything else.
      expect(response.headers.get('last-modified'), path).toBe(path === '/events/first' ? 'Tue, 10 Feb 2026 08:00:30 GMT' : 'Tue, 10 Feb 2026 09:00:00 GMT');
      expect(response.headers.get('cache-control'), path).toBe('public, max-age=60, stale-while-revalidate=300');
    }
  });

  it('answer a matching If-None-Match with 304 and no body, keeping the validators', async () => {
    for (const path of READ_ENDPOINTS) {
      const { etag } = await validators(path);
      for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const response = await get(path, { 'If-None-Match': ifNoneMatch });
        expect(response.status, `${path} ${ifNoneMatch}`).toBe(304);
        expect(await response.text()).toBe('');
        expect(response.headers.get('etag')).toBe(etag);
        expect(response.headers.get('cache-control')).toBe('public, max-age=60, stale-while-revalidate=300');
      }
      expect((await get(path, { 'If-None-Match': '"other"' })).status, path).toBe(200);
    }
  });

  it('answer If-None-Match: * for a record that does not exist with its 404, not a 304 (RFC 9110: * matches only a current representation)', async () => {
    for (const path of ['/events/no-such-record', '/events/no-such-record.json']) {
      const response = await get(path, { 'If-None-Match': '*', Accept: 'application/json' });
      expect(response.status, path).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code, path).toBe('not_found');
    }
  });

  it('answer If-Modified-Since with 304 unless the data changed after it; If-None-Match takes precedence', async () => {
    const { lastModified, etag } = await validators('/feed.rss');
    expect((await get('/feed.rss', { 'If-Modified-Since': lastModified })).status).toBe(304);
    expect((await get('/feed.rss', { 'If-Modified-Since': 'Wed, 11 Feb 2026 00:00:00 GMT' })).status).toBe(304);
    expect((await get('/feed.rss', { 'If-Modified-Since': 'Tue, 10 Feb 2026 08:59:59 GMT' })).status).toBe(200);
    expect((await get('/feed.rss', { 'If-Modified-Since': 'not a date' })).status).toBe(200);
    expect((await get('/feed.rss', { 'If-Modified-Since': lastModified, 'If-None-Match': '"other"' })).status).toBe(200);
    expect((await get('/feed.rss', { 'If-Modified-Since': 'Tue, 10 Feb 2026 08:59:59 GMT', 'If-None-Match': etag })).status).toBe(304);
  });

  it('answer HEAD like GET, without a body', async () => {
    const { etag } = await validators('/feed.atom');
    const head = await call('/feed.atom', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(etag);
    expect(await head.text()).toBe('');
    expect((await call('/feed.atom', { method: 'HEAD', headers: { 'If-None-Match': etag } })).status).toBe(304);
  });

  it('give each query its own ETag, the same for the same parameters in any order', async () => {
    const { etag: a } = await validators('/events?type=attack&country=IQ');
    const { etag: b } = await validators('/events?country=IQ&type=attack');
    const { etag: c } = await validators('/events?country=IQ');
    const { etag: d } = await validators('/events.csv?country=IQ');
    expect(a).toBe(b);
    expect(new Set([a, c, d]).size).toBe(3);
  });

  it('change ETag and Last-Modified when a record changes', async () => {
    const before = await validators('/feed.json');
    await seed([makeEvent('second', '2024-01-02', { title: 'Edited' })], '2026-03-01T00:00:00.000Z');
    const after = await validators('/feed.json');
    expect(after.etag).not.toBe(before.etag);
    expect(after.lastModified).toBe('Sun, 01 Mar 2026 00:00:00 GMT');
    expect((await get('/feed.json', { 'If-None-Match': before.etag })).status).toBe(200);
    expect((await get('/feed.json', { 'If-Modified-Since': before.lastModified })).status).toBe(200);
  });

  it('move Last-Modified when a record arrives with an older updated_at (curated data)', async () => {
    const before = await validators('/feed.rss');
    await seed([makeEvent('backdated', '2024-01-03', { created_at: '2020-01-01T00:00:00.000Z', updated_at: '2020-01-01T00:00:00.000Z' })], '2026-03-02T00:00:00.000Z');
    const after = await validators('/feed.rss');
    expect(after.lastModified).toBe('Mon, 02 Mar 2026 00:00:00 GMT');
    expect((await get('/feed.rss', { 'If-Modified-Since': before.lastModified })).status).toBe(200);
  });

  it('do not answer 304 or send validators for invalid requests', async () => {
    const { etag } = await validators('/events');
    const response = await get('/events?type=bogus', { 'If-None-Match': '*', 'If-Modified-Since': 'Fri, 01 Jan 2100 00:00:00 GMT' });
    expect(response.status).toBe(400);
    expect(response.headers.get('etag')).toBeNull();
    const missing = await get('/events/no-such-event', { 'If-None-Match': etag });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('etag')).toBeNull();
  });

  it('expose ETag, Last-Modified and Link to cross-origin scripts', async () => {
    const response = await get('/events.geojson?limit=1', { Origin: 'https://dashboard.example' });
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-expose-headers')?.split(/,\s*/)).toEqual(expect.arrayContaining(['ETag', 'Last-Modified', 'Link']));
  });
});

describe('GET /tallies', () => {
  it('changes its ETag when the tallies change, and only then', async () => {
    const first = await validators('/tallies');
    expect(first.lastModified).toBe('Wed, 11 Feb 2026 00:00:00 GMT');
    expect((await get('/tallies', { 'If-None-Match': first.etag })).status).toBe(304);

    await publishTallies(tallies as Tally[], '2026-03-01T00:00:00.000Z');
    expect(await validators('/tallies')).toEqual(first);

    const changed = (tallies as Tally[]).map((tally, index) => (index === 0 ? { ...tally, value: tally.value + 1 } : tally));
    await publishTallies(changed, '2026-03-02T00:00:00.000Z');
    const second = await validators('/tallies');
    expect(second.etag).not.toBe(first.etag);
    expect(second.lastModified).toBe('Mon, 02 Mar 2026 00:00:00 GMT');
    expect((await get('/tallies', { 'If-None-Match': first.etag })).status).toBe(200);
  });
});

describe('GET /healthz', () => {
  it('is never cached and has no validators', async () => {
    const response = await get('/healthz');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('etag')).toBeNull();
  });
});
