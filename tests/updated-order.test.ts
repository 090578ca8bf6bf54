/**
 * `updated_since` and `order=updated` on `/events`, the feeds and the
 * exports: records changed at or after a time (by the commit of their last
 * change, whatever `updated_at` a curated record brings), and records listed
 * by their last change, newest first, each once at its latest revision,
 * retracted ones left out, paged with a cursor of that order; strict 400s.
 * Both are cached per query: an `order=updated` body under the head's
 * revision with an ETag digesting it, an `updated_since` body like any index
 * read; a write moves both to new bodies.
 */
import { describe, expect, it } from 'vitest';
import { HEAD_KEY } from '../functions/domain/layout.ts';
import { call, expectInvalidParameter, getJson, makeEvent, seed, untilCached } from './helpers.ts';

const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
const WINDOW = 'since=2019-02-01&until=2019-02-28';
const ids = (body: { data: { id: string }[] }) => body.data.map((event) => event.id);

describe('updated_since and order=updated', () => {
  it('selects and orders records by their last change', async () => {
    await seed([makeEvent('upd-a', '2019-02-01'), makeEvent('upd-b', '2019-02-02'), makeEvent('upd-c', '2019-02-03')], '2027-01-01T00:00:00.000Z');
    await seed([makeEvent('upd-a', '2019-02-01', { title: 'A, edited' })], '2027-01-02T00:00:00.000Z');
    await seed([makeEvent('upd-d', '2019-02-04')], '2027-01-03T00:00:00.000Z');
    expect((await call('/events/upd-c', { method: 'DELETE', headers: ADMIN })).status).toBe(200);
    await seed([makeEvent('upd-b', '2019-02-02', { title: 'B, edited' })], '2027-01-04T00:00:00.000Z');

    expect(ids((await getJson(`/events?${WINDOW}`)).body)).toEqual(['upd-d', 'upd-b', 'upd-a']);
    // The curated records carry updated_at 2026-01-01; what counts is when strikewire committed their last change.
    expect(ids((await getJson(`/events?${WINDOW}&updated_since=2027-01-02T00:00:00Z`)).body)).toEqual(['upd-d', 'upd-b', 'upd-a']);
    expect(ids((await getJson(`/events?${WINDOW}&updated_since=2027-01-03T00:00:00%2B00:00`)).body)).toEqual(['upd-d', 'upd-b']);
    expect(ids((await getJson(`/events?${WINDOW}&updated_since=2027-01-05T00:00:00Z`)).body)).toEqual([]);

    const updated = await getJson(`/events?${WINDOW}&order=updated`);
    expect(ids(updated.body)).toEqual(['upd-b', 'upd-d', 'upd-a']);
    expect(updated.body.data[0]).toMatchObject({ title: 'B, edited', revision: 2, date_start: '2019-02-02' });
    expect(ids((await getJson(`/events?${WINDOW}&order=updated&updated_since=2027-01-03T00:00:00Z`)).body)).toEqual(['upd-b', 'upd-d']);

    const first = await getJson(`/events?${WINDOW}&order=updated&limit=2`);
    expect(ids(first.body)).toEqual(['upd-b', 'upd-d']);
    const second = await getJson(`/events?${WINDOW}&order=updated&limit=2&cursor=${first.body.next_cursor}`);
    expect(ids(second.body)).toEqual(['upd-a']);

    const feed = await getJson(`/feed.json?${WINDOW}&order=updated&limit=2`);
    expect(feed.body.items.map((item: { url: string }) => item.url.split('/').pop())).toEqual(['upd-b', 'upd-d']);
    const csv = await (await call(`/events.csv?${WINDOW}&updated_since=2027-01-03T00:00:00Z`)).text();
    expect(csv).toContain('upd-d');
    expect(csv).not.toContain('upd-a');

    // A cursor belongs to its order.
    await expectInvalidParameter(`/events?${WINDOW}&cursor=${first.body.next_cursor}`, 'cursor');
    const dated = await getJson(`/events?${WINDOW}&limit=1`);
    await expectInvalidParameter(`/events?${WINDOW}&order=updated&cursor=${dated.body.next_cursor}`, 'cursor');
  });

  it('caches each query apart, validates order=updated by its body, and moves both with a write', async () => {
    const window = 'since=2019-03-01&until=2019-03-31';
    const byUpdate = `/events?${window}&order=updated`;
    const sinceEdit = `/events?${window}&updated_since=2027-02-01T12:00:00Z`;
    await seed([makeEvent('cache-a', '2019-03-01'), makeEvent('cache-b', '2019-03-02')], '2027-02-01T00:00:00.000Z');
    const first = await getJson(byUpdate);
    expect(ids(first.body).sort()).toEqual(['cache-a', 'cache-b']);
    const etag = first.response.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);
    expect(first.response.headers.get('last-modified')).toBeNull();
    const repeat = await untilCached(byUpdate);
    expect(repeat.reads).toEqual([HEAD_KEY]);
    expect(JSON.parse(repeat.body)).toEqual(first.body);
    expect(repeat.response.headers.get('etag')).toBe(etag);
    const notModified = await call(byUpdate, { headers: { 'if-none-match': etag! } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe(etag);
    expect((await untilCached(sinceEdit)).body).toBe('{"data":[],"next_cursor":null}');

    await seed([makeEvent('cache-a', '2019-03-01', { title: 'A, edited later' })], '2027-02-02T00:00:00.000Z');
    const moved = await getJson(byUpdate, { headers: { 'if-none-match': etag! } });
    expect(moved.status).toBe(200);
    expect(ids(moved.body)).toEqual(['cache-a', 'cache-b']);
    expect(moved.response.headers.get('etag')).not.toBe(etag);
    expect(ids((await getJson(sinceEdit)).body)).toEqual(['cache-a']);
  });

  it('answers 400 naming the parameter', async () => {
    for (const value of ['2027-01-01', 'yesterday', '2027-13-01T00:00:00Z', '2027-01-01 00:00:00Z']) await expectInvalidParameter(`/events?updated_since=${encodeURIComponent(value)}`, 'updated_since');
    await expectInvalidParameter('/events?order=newest', 'order');
    await expectInvalidParameter('/feed.atom?order=relevance', 'order');
    await expectInvalidParameter('/events.geojson?updated_since=now', 'updated_since');
    await expectInvalidParameter('/stats?updated_since=2027-01-01T00:00:00Z', 'updated_since');
  });
});
