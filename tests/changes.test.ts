/**
 * `GET /changes`: every create, update and retraction in commit order, from
 * the change log's pages in KV; resumable from `next` after any gap, with an
 * empty page and the same cursor when up to date; gapless and without
 * repeats while 50 POSTs commit concurrently with the paging and across page
 * boundaries; a cursor of another storage epoch is a 410 telling the client
 * to resync; bad parameters are 400s naming them. A page has a strong ETag
 * digesting it: a 304 while it is what the client holds, a new one once it
 * grows.
 */
import { describe, expect, it } from 'vitest';
import { CHANGES_PAGE_SIZE, encodeChangesCursor, type ChangeEntry } from '../functions/domain/change-feed.ts';
import { call, coordinatorStub, dayFrom2000, expectInvalidParameter, getJson, makeEvent, seed, settled } from './helpers.ts';

const NOW = '2026-12-01T12:00:00.000Z';
const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

/** Pages from `since` until an empty page; every change seen and the final cursor. */
async function drain(since: string | null, limit = CHANGES_PAGE_SIZE): Promise<{ changes: ChangeEntry[]; next: string; pages: number }> {
  const changes: ChangeEntry[] = [];
  let cursor = since;
  for (let pages = 1; ; pages++) {
    const { status, body } = await getJson<{ data: ChangeEntry[]; next: string }>(`/changes?limit=${limit}${cursor ? `&since=${cursor}` : ''}`);
    expect(status).toBe(200);
    changes.push(...body.data);
    if (body.data.length === 0) {
      if (cursor) expect(body.next, 'an empty page keeps the cursor').toBe(cursor);
      return { changes, next: body.next, pages };
    }
    cursor = body.next;
  }
}

describe('GET /changes', () => {
  it('lists creates, updates and retractions in commit order, each with its record or tombstone, resuming from next', { timeout: 15_000 }, async () => {
    await seed([makeEvent('feed-warmup', '2021-03-01')], NOW);
    const start = (await drain(null)).next;
    await seed([makeEvent('feed-one', '2021-03-02'), makeEvent('feed-two', '2021-03-03')], NOW);
    await seed([makeEvent('feed-one', '2021-03-02', { title: 'Feed one, edited' })], NOW);
    expect((await call('/events/feed-two', { method: 'DELETE', headers: ADMIN, body: JSON.stringify({ reason: 'duplicate of feed-one' }) })).status).toBe(200);
    await settled();

    const { changes, next, pages } = await drain(start, 2);
    expect(pages).toBe(3);
    expect(changes.map(({ kind, id, revision }) => `${kind} ${id} ${revision}`)).toEqual(['created feed-one 1', 'created feed-two 1', 'updated feed-one 2', 'retracted feed-two 2']);
    expect(changes[2]).toMatchObject({ record: { id: 'feed-one', title: 'Feed one, edited', revision: 2, date_start: '2021-03-02' }, tombstone: null });
    expect(changes[3]).toMatchObject({ record: null, tombstone: { id: 'feed-two', revision: 2, reason: 'duplicate of feed-one' } });
    for (const change of changes) expect(Date.parse(change.changed_at)).not.toBeNaN();

    // Up to date: an empty page with the same cursor; later changes come from it.
    expect((await getJson(`/changes?since=${next}`)).body).toEqual({ data: [], next });
    await seed([makeEvent('feed-three', '2021-03-04')], NOW);
    expect((await drain(next)).changes.map((change) => change.id)).toEqual(['feed-three']);
  });

  it('pages across published pages without gaps or repeats', async () => {
    const start = (await drain(null)).next;
    const records = Array.from({ length: CHANGES_PAGE_SIZE * 2 + 30 }, (_, i) => makeEvent(`feed-bulk-${String(i).padStart(3, '0')}`, dayFrom2000(7000 + i)));
    await seed(records, NOW);
    for (const limit of [CHANGES_PAGE_SIZE, 37]) {
      const { changes } = await drain(start, limit);
      expect(changes.map((change) => change.id)).toEqual(records.map((record) => record.id));
    }
  });

  it('stays gapless and without repeats while 50 POSTs commit during the paging', async () => {
    const start = (await drain(null)).next;
    const ids = Array.from({ length: 50 }, (_, i) => `feed-concurrent-${i}`);
    const seen: ChangeEntry[] = [];
    let cursor = start;
    let writing = true;
    const posts = Promise.all(ids.map((id, i) => call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(makeEvent(id, dayFrom2000(7500 + i))) }))).finally(() => {
      writing = false;
    });
    while (writing) {
      const { body } = await getJson<{ data: ChangeEntry[]; next: string }>(`/changes?limit=7&since=${cursor}`);
      seen.push(...body.data);
      cursor = body.next;
      await coordinatorStub().status();
    }
    for (const response of await posts) expect(response.status).toBe(201);
    await settled();
    seen.push(...(await drain(cursor, 7)).changes);
    expect(seen.map((change) => change.id).sort()).toEqual([...ids].sort());
    expect(seen.every((change) => change.kind === 'created' && change.revision === 1)).toBe(true);
    // Commit order: the time of each change never goes back.
    expect(seen.map((change) => change.changed_at)).toEqual([...seen.map((change) => change.changed_at)].sort());
  });

  it('answers 410 for a cursor of another storage epoch, telling the client to resync', async () => {
    await seed([makeEvent('feed-epoch', '2021-04-01')], NOW);
    const { status, body } = await getJson(`/changes?since=${encodeChangesCursor({ epoch: 'feedfeed', seq: 3 })}`);
    expect(status).toBe(410);
    expect(body.error).toMatchObject({ code: 'cursor_expired', fields: [{ field: 'since' }] });
    expect(body.error.message).toMatch(/resync .*\/events/);
  });

  it('answers 400 naming the parameter', async () => {
    await expectInvalidParameter('/changes?since=not-a-cursor', 'since');
    await expectInvalidParameter(`/changes?since=${btoa('{"e":"ab","s":-1}')}`, 'since');
    await expectInvalidParameter('/changes?limit=0', 'limit');
    await expectInvalidParameter(`/changes?limit=${CHANGES_PAGE_SIZE + 1}`, 'limit');
    await expectInvalidParameter('/changes?limit=ten', 'limit');
    await expectInvalidParameter('/changes?cursor=abc', 'cursor');
  });

  it('sends an ETag of the page served, answers 304 for it, and a new body and ETag once the page grows', async () => {
    await seed([makeEvent('etag-warmup', '2021-05-01')], NOW);
    const { next } = await drain(null);
    await seed([makeEvent('etag-one', '2021-05-02')], NOW);
    const page = await getJson<{ data: ChangeEntry[] }>(`/changes?since=${next}`);
    expect(page.body.data.map((change) => change.id)).toEqual(['etag-one']);
    const etag = page.response.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);
    expect(page.response.headers.get('cache-control')).toBe('public, max-age=5');
    const same = await call(`/changes?since=${next}`, { headers: { 'if-none-match': etag! } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    expect(await same.text()).toBe('');
    await seed([makeEvent('etag-two', '2021-05-03')], NOW);
    const grown = await getJson<{ data: ChangeEntry[] }>(`/changes?since=${next}`, { headers: { 'if-none-match': etag! } });
    expect(grown.status).toBe(200);
    expect(grown.body.data.map((change) => change.id)).toEqual(['etag-one', 'etag-two']);
    expect(grown.response.headers.get('etag')).not.toBe(etag);
  });
});
