/**
 * Chunk patches (functions/domain/chunk-patch.ts): a batch backfilling the
 * past touches many chunks, one or two records each; each touched chunk
 * gets a small patch instead of a rewritten copy, patches are folded into
 * new chunks once they pass `patchMax` (within a budget per revision), and
 * every read (pages, cursors, filters, search) sees the patched index
 * exactly. The Coordinator is given a tiny shape so that a few hundred
 * records make dozens of chunks.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChunkPatch } from '../functions/domain/chunk-patch.ts';
import { chunkEntries } from '../functions/domain/chunk-text.ts';
import type { IndexShape } from '../functions/domain/index-tree.ts';
import { keyRange } from '../functions/domain/query.ts';
import { chunkRefsInRange, readManifest } from '../functions/store/events-store.ts';
import { simulation } from './platform/simulated-kv.ts';
import { coordinatorStub, dayFrom2000, getJson, makeEvent, seed } from './helpers.ts';

const NOW = '2026-11-29T12:00:00.000Z';
const SHAPE: IndexShape = { chunkTarget: 8, chunkMax: 16, segmentTarget: 4, segmentMax: 8, chunksPerRevision: 100_000, patchMax: 4, compactionsPerRevision: 3 };
const DAYS = 3650;
/** Record i of a series, on a day spread across ten years by a stride. */
const spread = (series: string, i: number) => makeEvent(`${series}-${String(i).padStart(4, '0')}`, dayFrom2000((i * 7919 + series.length * 131) % DAYS));

/** Every record written so far, by id: what the index must list. */
const written = new Map<string, { id: string; date: string }>();

async function write(series: string, count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => spread(series, i));
  await seed(records, NOW);
  for (const { id, date } of records) written.set(id, { id, date });
}

/** Every record `/events?<query>` lists, as `date|id`, page by page. */
async function listed(query: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { data: { id: string; date: string }[]; next_cursor: string | null } } = await getJson(`/events?limit=37&${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    keys.push(...page.body.data.map(({ id, date }) => `${date}|${id}`));
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  return keys;
}

/** The published chunk refs, newest first. */
const chunkRefs = async () => chunkRefsInRange(env.EVENTS, await readManifest(env.EVENTS), keyRange(null, {}));

beforeAll(async () => {
  await runInDurableObject(coordinatorStub(), (_instance, state) => {
    state.storage.sql.exec("INSERT INTO meta (key, value) VALUES ('index_shape', ?)", JSON.stringify(SHAPE));
  });
  await write('base', 400);
}, 60_000);

describe('a batch backfilling the past', () => {
  it('writes small patches of the chunks it touches, not rewritten chunks', async () => {
    const before = new Map((await chunkRefs()).map((ref) => [ref.key, ref]));
    simulation.reset();
    await write('back1', 30);
    const puts = [...simulation.stats().keys].filter(([, counts]) => counts.puts > 0).map(([key]) => key);
    const patchKeys = puts.filter((key) => key.startsWith('index:patch:'));
    const chunkPuts = puts.filter((key) => key.startsWith('index:chunk:'));
    expect(patchKeys.length).toBeGreaterThanOrEqual(15);
    expect(chunkPuts.length).toBeLessThan(patchKeys.length / 2);
    // The patched chunks are the ones the segments named before, under the same keys.
    const patched = (await chunkRefs()).filter((ref) => ref.patch !== undefined && patchKeys.includes(ref.patch));
    expect(patched.length).toBe(patchKeys.length);
    for (const ref of patched) expect(before.has(ref.key), ref.key).toBe(true);
    const bytes = async (keys: string[]) => (await Promise.all(keys.map(async (key) => (await env.EVENTS.get(key, 'text'))!.length))).reduce((a, b) => a + b, 0);
    expect(await bytes(patchKeys)).toBeLessThan((await bytes(patched.map((ref) => ref.key))) / 4);
  });

  it('keeps patches small through many batches, folding them into new chunks within the budget', async () => {
    const keysBefore = new Set((await chunkRefs()).map((ref) => ref.key));
    for (let batch = 2; batch <= 8; batch++) await write(`back${batch}`, 30);
    const refs = await chunkRefs();
    const sizes = await Promise.all(refs.filter((ref) => ref.patch).map(async (ref) => {
      const patch = (await env.EVENTS.get<ChunkPatch>(ref.patch!, 'json'))!;
      return patch.remove.length + patch.upsert.length;
    }));
    expect(sizes.length).toBeGreaterThan(0);
    // A batch of 30 over some 40 chunks adds a change or two to a chunk; compactions take the rest out.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3 * SHAPE.patchMax);
    expect(refs.filter((ref) => !keysBefore.has(ref.key)).length).toBeGreaterThan(SHAPE.compactionsPerRevision);
    for (const ref of refs) expect(ref.count).toBeLessThanOrEqual(SHAPE.chunkMax);
  }, 60_000);

  it('leaves every read exact: pages and cursors, dates, search', async () => {
    const expected = [...written.values()].map(({ id, date }) => `${date}|${id}`).sort().reverse();
    expect(await listed('')).toEqual(expected);
    const inRange = [...written.values()].filter(({ date }) => date >= '2003-01-01' && date <= '2006-12-31').map(({ id, date }) => `${date}|${id}`).sort().reverse();
    expect(await listed('since=2003-01-01&until=2006-12-31')).toEqual(inRange);
    const back3 = [...written.values()].filter(({ id }) => id.startsWith('back3-')).map(({ id, date }) => `${date}|${id}`).sort().reverse();
    expect(await listed('q=back3')).toEqual(back3);
    const { body } = await getJson<{ events: number }>('/healthz');
    expect(body.events).toBe(written.size);
  });

  it('patches a chunk stored before key lines (its entries on one line) as any other', async () => {
    // A live chunk rewritten in SQLite as chunks were stored before key lines, and a record dated in its middle.
    const chunk = await runInDurableObject(coordinatorStub(), (_instance, state) => {
      const { key, entries } = state.storage.sql.exec<{ key: string; entries: string }>('SELECT key, entries FROM chunks ORDER BY key LIMIT 1').one();
      const parsed = chunkEntries(entries);
      state.storage.sql.exec('UPDATE chunks SET entries = ? WHERE key = ?', JSON.stringify(parsed), key);
      return { key, date: parsed[Math.floor(parsed.length / 2)]!.date };
    });
    const before = (await chunkRefs()).find((ref) => ref.key === chunk.key)!;
    const record = makeEvent('oneline-0001', chunk.date);
    await seed([record], NOW);
    written.set(record.id, { id: record.id, date: chunk.date });
    // Patched, its count worked out from its one-line text: what it held and the new entry.
    const after = (await chunkRefs()).find((ref) => ref.key === chunk.key)!;
    expect(after.patch).toBeDefined();
    expect(after.count).toBe(before.count + 1);
    expect(await listed('')).toEqual([...written.values()].map(({ id, date }) => `${date}|${id}`).sort().reverse());
  });
});
