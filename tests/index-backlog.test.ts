/**
 * Writes that touch more chunks than one index revision rewrites (a batch
 * backfilling the past lands a record in each chunk): the records are
 * committed whole, the index takes them in revisions of at most
 * `chunksPerRevision` chunks, each published before the next is made, and
 * once the backlog is empty the index holds exactly the live records, also
 * when a waiting record was changed or retracted meanwhile. The Coordinator
 * is given a tiny shape (`index_shape` in its meta table) so that a few
 * hundred records make dozens of chunks.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupByChunks, type IndexShape, type RecordIndexChange } from '../functions/domain/index-tree.ts';
import { MANIFEST_KEY, type IndexEntry, type IndexRef, type SegmentedManifest } from '../functions/domain/layout.ts';
import { coordinatorStub, dayFrom2000, getJson, makeEvent, seed, settled } from './helpers.ts';

const NOW = '2026-11-29T12:00:00.000Z';
const SHAPE: IndexShape = { chunkTarget: 8, chunkMax: 16, segmentTarget: 4, segmentMax: 8, chunksPerRevision: 6, patchMax: 4, compactionsPerRevision: 2 };
/** Records are spread over this many days. */
const DAYS = 3650;
/** Record i of a series, on a day spread across ten years by a stride. */
const spread = (series: string, i: number) => makeEvent(`${series}-${String(i).padStart(4, '0')}`, dayFrom2000((i * 7919 + series.length * 31) % DAYS));

/** The chunk keys of the manifest KV holds now, walked through its segments. */
async function publishedChunks(): Promise<{ revision: number; chunks: Set<string> }> {
  const manifest = (await env.EVENTS.get<SegmentedManifest>(MANIFEST_KEY, 'json'))!;
  const chunks = new Set<string>();
  const walk = async (refs: readonly IndexRef[], level: number): Promise<void> => {
    for (const ref of refs) {
      if (level === 0) chunks.add(ref.key);
      else await walk((await env.EVENTS.get<IndexRef[]>(ref.key, 'json'))!, level - 1);
    }
  };
  await walk(manifest.segments, manifest.height);
  return { revision: manifest.revision, chunks };
}

/** Every record `/events` lists, newest first, as id and date, page by page. */
async function listed(): Promise<{ id: string; date: string }[]> {
  const records: { id: string; date: string }[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { data: { id: string; date: string }[]; next_cursor: string | null } } = await getJson(`/events?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    records.push(...page.body.data.map(({ id, date }) => ({ id, date })));
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  return records;
}

beforeAll(async () => {
  await runInDurableObject(coordinatorStub(), (_instance, state) => {
    state.storage.sql.exec("INSERT INTO meta (key, value) VALUES ('index_shape', ?)", JSON.stringify(SHAPE));
  });
  await seed(Array.from({ length: 400 }, (_, i) => spread('base', i)), NOW);
});

describe('a batch spread over the past', () => {
  it('is committed whole, then indexed in revisions of at most chunksPerRevision rewritten chunks, each published before the next', async () => {
    const stub = coordinatorStub();
    let published = await publishedChunks();
    expect(published.chunks.size).toBeGreaterThan(30);
    const batch = Array.from({ length: 24 }, (_, i) => spread('backfill', i));
    const results = await stub.ingest(batch, NOW);
    expect(results.map((result) => result.change)).toEqual(batch.map(() => 'created'));
    expect((await stub.status()).dataset.index_backlog).toBeGreaterThan(0);

    const steps: { revision: number; replaced: number }[] = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const status = await stub.status();
      if (status.publish.up_to_date && status.dataset.index_backlog === 0) break;
      expect(Date.now(), 'the backlog drains').toBeLessThan(deadline);
      await runDurableObjectAlarm(stub);
      const now = await publishedChunks();
      if (now.revision !== published.revision) {
        steps.push({ revision: now.revision, replaced: [...published.chunks].filter((key) => !now.chunks.has(key)).length });
        published = now;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Several revisions, published one at a time (none skipped), each rewriting at most six chunks.
    expect(steps.length).toBeGreaterThanOrEqual(3);
    for (let index = 1; index < steps.length; index++) expect(steps[index]!.revision).toBe(steps[index - 1]!.revision + 1);
    for (const step of steps) expect(step.replaced, `revision ${step.revision}`).toBeLessThanOrEqual(SHAPE.chunksPerRevision);

    const ids = (await listed()).map((record) => record.id);
    expect(ids).toHaveLength(424);
    expect(new Set(ids).size).toBe(424);
    for (const record of batch) expect(ids).toContain(record.id);
    const stats = await getJson<{ data: { total: { events: number } } }>('/stats');
    expect(stats.body.data.total.events).toBe(424);
  });

  it('leaves the index exact when a waiting record is moved to another date or retracted before its turn', async () => {
    const stub = coordinatorStub();
    const batch = Array.from({ length: 24 }, (_, i) => spread('moved', i));
    await stub.ingest(batch, NOW);
    expect((await stub.status()).dataset.index_backlog).toBeGreaterThan(0);
    const moved = { ...batch.at(-1)!, date: '2001-01-01' };
    await stub.ingest([moved], NOW);
    const gone = batch.at(-2)!;
    expect(await stub.retract(gone.id, 'test: retracted while waiting', NOW)).not.toBeNull();
    await settled(60_000);

    const records = await listed();
    const ids = records.map((record) => record.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(424 + 23);
    expect(ids).not.toContain(gone.id);
    expect(records.find((record) => record.id === moved.id)?.date).toBe('2001-01-01');
    // Newest first throughout.
    const dates = records.map((record) => record.date);
    expect(dates).toEqual([...dates].sort().reverse());
  });
});

describe('groupByChunks', () => {
  /** A change of record `id` removing the keys `remove` and adding an entry under `k` (null: none); a key's chunk is its first letter. */
  const change = (id: string, remove: string[], k: string | null): RecordIndexChange => ({ id, remove, upsert: k === null ? null : ({ k } as IndexEntry) });
  const chunkOf = (k: string) => k[0]!;

  it('keeps each group within the chunk limit, in order, a record moving between chunks whole in one group', () => {
    const changes = [change('1', [], 'a1'), change('2', ['b1'], 'c1'), change('3', [], 'a2'), change('4', ['d1'], 'e1'), change('5', [], 'f1')];
    const groups = groupByChunks(changes, chunkOf, 3);
    expect(groups.map((group) => group.map(({ id }) => id))).toEqual([['1', '2', '3'], ['4', '5']]);
    for (const group of groups) expect(new Set(group.flatMap(({ remove, upsert }) => [...remove, ...(upsert ? [upsert.k] : [])]).map(chunkOf)).size).toBeLessThanOrEqual(3);
  });

  it('lets a record touching more chunks than the limit go alone, and makes no group of nothing', () => {
    expect(groupByChunks([change('1', ['a1'], 'b1'), change('2', [], 'c1')], chunkOf, 1).map((group) => group.map(({ id }) => id))).toEqual([['1'], ['2']]);
    expect(groupByChunks([], chunkOf, 4)).toEqual([]);
  });
});
