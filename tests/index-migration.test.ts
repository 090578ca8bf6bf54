/**
 * A store published with the flat manifest of the design before segments
 * (every chunk listed in `index:manifest`): readers read it as it is, and
 * the Coordinator, when it starts, lists the same chunks in segments under a
 * manifest of the same revision, which readers of either shape agree with.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { HEAD_KEY, MANIFEST_KEY, headOf, type FlatManifest, type SegmentedManifest } from '../functions/domain/layout.ts';
import { keyRange } from '../functions/domain/query.ts';
import { chunkRefsInRange, queryEvents, readManifest } from '../functions/store/events-store.ts';
import { Coordinator } from './platform/worker.ts';
import { coordinatorStub, dayFrom2000, getCounting, getJson, makeEvent, seed, settled } from './helpers.ts';

const NOW = '2026-11-28T12:00:00.000Z';
const TOTAL = 700;

/** The kinds of the KV reads of a GET (a bulk read is "records"). */
const kinds = (reads: string[]) => reads.map((key) => key.replace(/:[0-9a-f]+-\d.*$/, ''));

async function allIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const { body }: { body: { data: { id: string }[]; next_cursor: string | null } } = await getJson(`/events?limit=300${cursor ? `&cursor=${cursor}` : ''}`);
    ids.push(...body.data.map((event) => event.id));
    cursor = body.next_cursor;
  } while (cursor);
  return ids;
}

describe('a store published with a flat manifest', () => {
  let flat: FlatManifest;
  let headBefore: string;
  let idsBefore: string[];

  beforeAll(async () => {
    for (let start = 0; start < TOTAL; start += 250) await seed(Array.from({ length: Math.min(250, TOTAL - start) }, (_, i) => makeEvent(`flat-${String(start + i).padStart(4, '0')}`, dayFrom2000(start + i))), NOW);
    // Turn the store back into what the design before segments left: the flat manifest in the truth and in KV, no segments.
    const segmented = await readManifest(env.EVENTS);
    flat = { ...headOf(segmented), format: 2, chunks: await chunkRefsInRange(env.EVENTS, segmented, keyRange(null, {})) };
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      state.storage.sql.exec("UPDATE meta SET value = ? WHERE key = 'manifest'", JSON.stringify(flat));
      state.storage.sql.exec('DELETE FROM segments');
    });
    await env.EVENTS.put(MANIFEST_KEY, JSON.stringify(flat));
    headBefore = (await env.EVENTS.get(HEAD_KEY, 'text'))!;
  }, 60_000);

  it('is read as it is: every record, a page from the manifest, a chunk and the records', async () => {
    expect(flat.chunks.length).toBeGreaterThan(2);
    idsBefore = await allIds();
    expect(idsBefore).toHaveLength(TOTAL);
    const { response, reads } = await getCounting('/events?limit=7');
    expect(response.status).toBe(200);
    expect(kinds(reads)).toEqual(['index:head', MANIFEST_KEY, 'index:chunk', 'records']);
  });

  it('is segmented when the Coordinator starts: the same chunks and revision, the same head, the same pages', async () => {
    // A restart of the Coordinator over the same storage.
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      new Coordinator(state, env);
      const stored = JSON.parse(state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'manifest'").one().value) as SegmentedManifest;
      expect(stored).toMatchObject({ format: 3, revision: flat.revision, count: TOTAL, height: 1 });
    });
    await settled();
    const published = await readManifest(env.EVENTS);
    expect(published.format).toBe(3);
    expect(headOf(published)).toEqual(headOf(flat));
    expect(await env.EVENTS.get(HEAD_KEY, 'text')).toBe(headBefore);
    expect(await chunkRefsInRange(env.EVENTS, published, keyRange(null, {}))).toEqual(flat.chunks);
    expect(await allIds()).toEqual(idsBefore);
    const { reads } = await getCounting('/events?limit=8');
    expect(kinds(reads)).toEqual(['index:head', MANIFEST_KEY, 'index:segment', 'index:chunk', 'records']);
  });

  it('leaves a location still holding the flat manifest served the same page, and writes go on from the segmented one', async () => {
    const fromFlat = await queryEvents(env.EVENTS, {}, 20, null, flat);
    const fromSegmented = await queryEvents(env.EVENTS, {}, 20, null, await readManifest(env.EVENTS));
    expect(fromFlat.events).toEqual(fromSegmented.events);
    expect(fromFlat.nextCursor).toBe(fromSegmented.nextCursor);

    await seed([makeEvent('after-migration', dayFrom2000(5))], NOW);
    const manifest = await readManifest(env.EVENTS);
    expect(manifest).toMatchObject({ format: 3, revision: flat.revision + 1, count: TOTAL + 1 });
    expect((await getJson('/events?since=2000-01-06&until=2000-01-06')).body.data.map((event: { id: string }) => event.id)).toContain('after-migration');
    // Starting again changes nothing once segmented.
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      new Coordinator(state, env);
    });
    expect((await coordinatorStub().status()).publish.up_to_date).toBe(true);
  });
});
