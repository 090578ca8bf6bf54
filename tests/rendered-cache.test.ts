/**
 * The hot path: validators from the small index head and rendered bodies
 * cached per dataset revision (functions/routes/conditional.ts,
 * rendered-cache.ts). A repeated request reads only `index:head` from KV; a
 * write and publish moves every route to a new body; a body's ETag always
 * names the revision it was built from, also when a location sees a head
 * and a manifest of different revisions; HEAD and 304 stay right; bodies of
 * different media types of one URL never mix.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { app } from '../functions/app.ts';
import { HEAD_KEY, MANIFEST_KEY, eventKey, type SegmentedManifest } from '../functions/domain/layout.ts';
import { queryEvents, readEvent, readHead, readManifest } from '../functions/store/events-store.ts';
import { indexRead, readIndex } from '../functions/routes/conditional.ts';
import type { ReadEnv } from '../functions/routes/read-env.ts';
import { negotiate } from '../functions/routes/negotiation.ts';
import { simulation } from './platform/simulated-kv.ts';
import { call, getCounting, makeEvent, seed, untilCached } from './helpers.ts';

const WRITTEN_AT = '2026-04-01T10:00:00.000Z';
/** Every route whose body is cached, each with a query no other test in this file asks. */
const CACHED_ROUTES = ['/events?limit=3', '/feed.rss?limit=4', '/feed.atom?limit=4', '/feed.json?limit=4', '/events.geojson?limit=5', '/events.csv?limit=5', '/stats?country=IQ', '/actors', '/events/hot-first'];
/** What a cached body of `path` is found with: the head, or for a record its `event:<id>` (whose digest names the body), and the head too for its page. */
const cachedReads = (path: string, page = false): string[] => {
  const record = /^\/events\/([a-z0-9-]+)$/.exec(path)?.[1];
  return record === undefined ? [HEAD_KEY] : page ? [eventKey(record), HEAD_KEY] : [eventKey(record)];
};

beforeAll(async () => {
  await seed([makeEvent('hot-first', '2024-02-01'), makeEvent('hot-second', '2024-02-02', { location: { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' } })], WRITTEN_AT);
});

afterEach(() => simulation.reset());

describe('the index head', () => {
  it('is published with the manifest, naming the same revision, count and times', async () => {
    const head = await readHead(env.EVENTS);
    const { format: _format, height: _height, segments: _segments, ...manifestHead } = (await readManifest(env.EVENTS)) as SegmentedManifest;
    expect(head).toEqual(manifestHead);
    expect(head.count).toBe(2);
    expect(await env.EVENTS.get(HEAD_KEY, 'text')).not.toContain('segments');
  });

  it('answers /healthz alone', async () => {
    const { body, reads } = await getCounting('/healthz');
    expect(JSON.parse(body)).toMatchObject({ status: 'ok', events: 2 });
    expect(reads).toEqual([HEAD_KEY]);
  });
});

describe('a repeated request', () => {
  it('is served from the cache after reading only the head (a record: its event:<id>), with the body and validators of the first', async () => {
    for (const path of CACHED_ROUTES) {
      const first = await getCounting(path);
      expect(first.response.status, path).toBe(200);
      // A miss reads more than a hit, except for a record, whose body is found by the digest of the one key it is built from.
      if (cachedReads(path).includes(HEAD_KEY)) expect(first.reads.length, path).toBeGreaterThan(1);
      const repeat = await untilCached(path);
      expect(repeat.reads, path).toEqual(cachedReads(path));
      expect(repeat.response.status, path).toBe(200);
      expect(repeat.body, path).toBe(first.body);
      for (const header of ['etag', 'last-modified', 'content-type', 'cache-control']) expect(repeat.response.headers.get(header), `${path} ${header}`).toBe(first.response.headers.get(header));
    }
  });

  it('is answered 304 after reading only the head (a record: its event:<id>) when its ETag matches, and HEAD sends the validators without a body', async () => {
    for (const path of CACHED_ROUTES) {
      const { response } = await untilCached(path);
      const etag = response.headers.get('etag')!;
      const notModified = await getCounting(path, { 'If-None-Match': etag });
      expect(notModified.response.status, path).toBe(304);
      expect(notModified.body, path).toBe('');
      expect(notModified.reads, path).toEqual(cachedReads(path));
      expect(notModified.response.headers.get('etag'), path).toBe(etag);
      const head = await call(path, { method: 'HEAD' });
      expect(head.status, path).toBe(200);
      expect(head.headers.get('etag'), path).toBe(etag);
      expect(await head.text(), path).toBe('');
    }
  });

  it('gets the new body and a new ETag after a write is published, never the old one', async () => {
    const before = new Map<string, { etag: string; body: string }>();
    for (const path of CACHED_ROUTES) {
      const { response, body } = await untilCached(path);
      before.set(path, { etag: response.headers.get('etag')!, body });
    }
    await seed([makeEvent('hot-first', '2024-02-01', { title: 'Hot edit after caching' }), makeEvent('hot-third', '2024-02-03')], '2026-04-02T10:00:00.000Z');
    for (const path of CACHED_ROUTES) {
      const { response, body } = await getCounting(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('etag'), path).not.toBe(before.get(path)!.etag);
      expect(body, path).not.toBe(before.get(path)!.body);
      if (!path.startsWith('/stats') && !path.startsWith('/actors')) expect(body, path).toContain('Hot edit after caching');
      expect((await call(path, { headers: { 'If-None-Match': before.get(path)!.etag } })).status, path).toBe(200);
      const repeat = await untilCached(path);
      expect(repeat.body, path).toBe(body);
      expect(repeat.response.headers.get('etag'), path).toBe(response.headers.get('etag'));
    }
  });
});

describe("the isolate's memory tier", () => {
  it('answers a repeated request from memory, with no Cache API lookup, with the body and headers of the first', async () => {
    for (const path of ['/events?limit=2&country=SY', '/feed.atom?limit=2&country=SY', '/events/hot-second']) {
      const first = await getCounting(path);
      expect(first.response.status, path).toBe(200);
      await untilCached(path, {}, cachedReads(path).length);
      const match = vi.spyOn(caches.default, 'match');
      try {
        const repeat = await getCounting(path);
        expect(match, path).not.toHaveBeenCalled();
        expect(repeat.reads, path).toEqual(cachedReads(path));
        expect(repeat.body, path).toBe(first.body);
        for (const header of ['etag', 'last-modified', 'content-type', 'cache-control', 'vary']) expect(repeat.response.headers.get(header), `${path} ${header}`).toBe(first.response.headers.get(header));
      } finally {
        match.mockRestore();
      }
    }
  });

  it('keeps a copy no longer than its lifetime: a record body (60 s) is looked up again once that has passed, and rebuilt', async () => {
    const path = '/events/hot-first';
    const first = await getCounting(path);
    await untilCached(path, {}, 1);
    const match = vi.spyOn(caches.default, 'match');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 61_000);
      const late = await getCounting(path);
      expect(match).toHaveBeenCalled();
      expect(late.body).toBe(first.body);
    } finally {
      vi.useRealTimers();
      match.mockRestore();
    }
  });
});

describe('a location whose head and manifest are of different revisions', () => {
  /** A GET through the app with `location`'s view of KV, waiting for its cache write. */
  async function readAt(location: string, path: string): Promise<{ etag: string | null; body: string }> {
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request(`http://strikewire.test${path}`), { ...env, EVENTS: simulation.location(location) }, ctx);
    const body = await response.text();
    await waitOnExecutionContext(ctx);
    expect(response.status, path).toBe(200);
    return { etag: response.headers.get('etag'), body };
  }

  it('sends a body built from an older manifest with that manifest’s ETag, and caches it under that revision', async () => {
    const path = '/events?limit=9';
    const old = await readAt('fresh-before', path);
    simulation.configure({ staleMs: 60_000 });
    // This location keeps the manifest it read now, but has not read the head yet.
    await readManifest(simulation.location('stale-manifest'));
    await seed([makeEvent('hot-fourth', '2024-02-04')], '2026-04-03T10:00:00.000Z');
    const newer = await readHead(env.EVENTS);
    expect((await readHead(simulation.location('stale-manifest'))).revision).toBe(newer.revision);

    expect(await readAt('stale-manifest', path)).toEqual(old);
    const current = await readAt('fresh-after', path);
    expect(current.body).toContain('hot-fourth');
    expect(current.etag).not.toBe(old.etag);
  });

  it('answers from a head older than the manifest with that head’s body and ETag', async () => {
    const path = '/events?limit=11';
    const old = await readAt('fresh-before', path);
    simulation.configure({ staleMs: 60_000 });
    await readHead(simulation.location('stale-head'));
    await seed([makeEvent('hot-fifth', '2024-02-05')], '2026-04-04T10:00:00.000Z');
    expect((await readManifest(env.EVENTS)).revision).toBeGreaterThan((await readHead(simulation.location('stale-head'))).revision);

    expect(await readAt('stale-head', path)).toEqual(old);
    expect((await readAt('fresh-after', path)).body).toContain('hot-fifth');
  });
});

describe('a location whose copy of a record is older than its head', () => {
  /** A GET of the record's JSON through the app with `location`'s view of KV (or KV itself), waiting for its cache write. */
  async function titleAt(location: string | null, path: string): Promise<string> {
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request(`http://strikewire.test${path}`, { headers: { Accept: 'application/json' } }), { ...env, EVENTS: location === null ? env.EVENTS : simulation.location(location) }, ctx);
    const body = (await response.json()) as { title: string };
    await waitOnExecutionContext(ctx);
    return body.title;
  }

  it('serves that copy there, but never caches it as the body of the newer revision', async () => {
    await seed([makeEvent('hot-copy', '2024-02-07', { title: 'First version' })], '2026-04-06T10:00:00.000Z');
    simulation.configure({ staleMs: 60_000 });
    // This location keeps the record it read now, but has not read the head yet: after the edit it sees the new head and the old record.
    await readEvent(simulation.location('stale-record'), 'hot-copy');
    await seed([makeEvent('hot-copy', '2024-02-07', { title: 'Second version' })], '2026-04-07T10:00:00.000Z');
    expect((await readHead(simulation.location('stale-record'))).revision).toBe((await readHead(env.EVENTS)).revision);

    expect(await titleAt('stale-record', '/events/hot-copy')).toBe('First version');
    // The rendered-body cache is shared by every simulated location: a body keyed by the head's revision alone would be served here too.
    expect(await titleAt(null, '/events/hot-copy')).toBe('Second version');
    expect(await titleAt('fresh-location', '/events/hot-copy')).toBe('Second version');
  });
});

describe('media types of one URL', () => {
  /** A route with two representations, as an HTML page beside JSON would be. */
  const twoTypes = new Hono<ReadEnv>().get('/two-types', negotiate(['application/json', 'text/plain']), indexRead(), async (c) => {
    const page = await readIndex(c, (manifest) => queryEvents(c.env.EVENTS, {}, 2, null, manifest));
    const ids = page.events.map((event) => event.id);
    return c.get('mediaType') === 'text/plain' ? c.text(ids.join('\n')) : c.json(ids);
  });

  async function getTwoTypes(accept: string): Promise<{ response: Response; body: string; reads: string[] }> {
    const get = vi.spyOn(env.EVENTS, 'get');
    try {
      const ctx = createExecutionContext();
      const response = await twoTypes.fetch(new Request('http://strikewire.test/two-types', { headers: { Accept: accept } }), env, ctx);
      const body = await response.text();
      await waitOnExecutionContext(ctx);
      return { response, body, reads: get.mock.calls.map(([key]) => (Array.isArray(key) ? 'records' : String(key))) };
    } finally {
      get.mockRestore();
    }
  }

  it('are cached apart, each with its own ETag and Vary: Accept', async () => {
    const json = await getTwoTypes('application/json');
    const text = await getTwoTypes('text/plain');
    expect(json.reads).toContain(MANIFEST_KEY);
    expect(text.reads).toContain(MANIFEST_KEY);
    expect(JSON.parse(json.body)).toEqual(text.body.split('\n'));
    expect(json.response.headers.get('etag')).not.toBe(text.response.headers.get('etag'));
    for (const [accept, first] of [['application/json', json], ['text/plain', text]] as const) {
      const repeat = await getTwoTypes(accept);
      expect(repeat.reads, accept).toEqual([HEAD_KEY]);
      expect(repeat.body, accept).toBe(first.body);
      expect(repeat.response.headers.get('etag'), accept).toBe(first.response.headers.get('etag'));
      expect(repeat.response.headers.get('vary'), accept).toBe('Accept');
    }
    expect((await getTwoTypes('text/plain;q=0.5, application/json')).body).toBe(json.body);
  });

  it('leave a route with one representation answering it whatever the Accept header', async () => {
    const plain = await untilCached('/feed.rss?limit=6');
    const asked = await getCounting('/feed.rss?limit=6', { Accept: 'text/html' });
    expect(asked.body).toBe(plain.body);
    expect(asked.response.headers.get('content-type')).toBe(plain.response.headers.get('content-type'));
  });
});

describe('HTML pages beside the JSON of the same URL', () => {
  const BROWSER = { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

  it('are cached apart from the JSON, each with its own ETag, varying on Accept', async () => {
    for (const path of ['/events?limit=7', '/events/hot-second']) {
      const json = await untilCached(path);
      const page = await untilCached(path, BROWSER, cachedReads(path, true).length);
      expect(page.response.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(json.response.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(page.response.headers.get('etag'), path).not.toBe(json.response.headers.get('etag'));
      for (const served of [json, page]) expect(served.response.headers.get('vary'), path).toBe('Accept');
      const notModified = await getCounting(path, { ...BROWSER, 'If-None-Match': page.response.headers.get('etag')! });
      expect(notModified.response.status, path).toBe(304);
      expect(notModified.reads, path).toEqual(cachedReads(path, true));
      expect((await getCounting(path)).body, path).toBe(json.body);
    }
  });

  it('move a record page to a new body and ETag when the index changes, while the record’s JSON keeps its ETag', async () => {
    const path = '/events/hot-second';
    const json = await untilCached(path);
    const page = await untilCached(path, BROWSER, cachedReads(path, true).length);
    await seed([makeEvent('hot-nearby', '2024-02-06')], '2026-04-05T10:00:00.000Z');
    const pageAfter = await getCounting(path, BROWSER);
    expect(page.body).not.toContain('/events/hot-nearby');
    expect(pageAfter.body).toContain('/events/hot-nearby');
    expect(pageAfter.response.headers.get('etag')).not.toBe(page.response.headers.get('etag'));
    expect((await call(path, { headers: { ...BROWSER, 'If-None-Match': page.response.headers.get('etag')! } })).status).toBe(200);
    const jsonAfter = await getCounting(path);
    expect(jsonAfter.body).toBe(json.body);
    expect(jsonAfter.response.headers.get('etag')).toBe(json.response.headers.get('etag'));
    expect((await call(path, { headers: { 'If-None-Match': json.response.headers.get('etag')! } })).status).toBe(304);
  });
});

describe('a feed asked with its parameters in another order', () => {
  it('keeps the self link as requested, each order cached apart', async () => {
    for (const query of ['?country=IQ&limit=8', '?limit=8&country=IQ']) {
      const { body } = await untilCached(`/feed.atom${query}`);
      expect(body).toContain(`href="http://strikewire.test/feed.atom${query.replace('&', '&amp;')}"`);
    }
  });
});
