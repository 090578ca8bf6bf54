/**
 * The platform simulation itself (tests/platform/simulated-kv.ts): stale
 * copies per location (values, "not found", bulk reads, list, the writer's
 * own writes), 429 on a second write of a key within a second, six
 * connections per view, the counters, and that the Coordinator of the
 * workerd suite really writes through it.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../functions/env.ts';
import { Coordinator as RealCoordinator } from '../../functions/store/coordinator.ts';
import { call, makeEvent } from '../helpers.ts';
import { simulation } from './simulated-kv.ts';
import { Coordinator as SimulatedCoordinator } from './worker.ts';

const kv = env.SPARE_EVENTS;
const at = (location: string) => simulation.location(location, kv);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const listed = async (view: KVNamespace, prefix: string) => (await view.list({ prefix })).keys.map((key) => key.name);

/** A namespace whose reads wait until the test lets them finish, to watch connections. */
class GatedNamespace {
  readonly started: string[] = [];
  private readonly pending: (() => void)[] = [];

  getWithMetadata(key: string): Promise<{ value: string; metadata: null }> {
    this.started.push(key);
    return new Promise((resolve) => this.pending.push(() => resolve({ value: key, metadata: null })));
  }

  /** Lets the oldest waiting read finish. */
  finishOne(): void {
    this.pending.shift()?.();
  }

  finishAll(): void {
    while (this.pending.length > 0) this.finishOne();
  }
}

const settle = () => sleep(10);

beforeEach(() => simulation.reset());
afterEach(() => simulation.reset());

describe('stale locations', () => {
  it('serves a location its copy until it expires, while a location that never read the key sees the new value', async () => {
    simulation.configure({ staleMs: 400 });
    await kv.put('stale:value', 'old');
    expect(await at('A').get('stale:value')).toBe('old');
    await kv.put('stale:value', 'new');
    expect(await at('A').get('stale:value')).toBe('old');
    expect(await at('A').get('stale:value', { type: 'text' })).toBe('old');
    expect(await at('B').get('stale:value')).toBe('new');
    await sleep(450);
    expect(await at('A').get('stale:value')).toBe('new');
    expect(simulation.stats().connections.get('A')!.cacheHits).toBe(2);
  });

  it('caches "not found" too', async () => {
    simulation.configure({ staleMs: 400 });
    expect(await at('A').get('stale:absent', 'json')).toBeNull();
    await kv.put('stale:absent', '{"here":true}');
    expect(await at('A').get('stale:absent', 'json')).toBeNull();
    expect(await at('A').getWithMetadata('stale:absent', 'json')).toMatchObject({ value: null });
    await sleep(450);
    expect(await at('A').get('stale:absent', 'json')).toEqual({ here: true });
  });

  it('keeps a copy read with cacheTtl n for staleMs * n / 60', async () => {
    simulation.configure({ staleMs: 400 });
    await kv.put('stale:ttl', 'old');
    await at('A').get('stale:ttl', { type: 'text', cacheTtl: 86_400 });
    await at('B').get('stale:ttl', { type: 'text', cacheTtl: 30 });
    await kv.put('stale:ttl', 'new');
    await sleep(250);
    // B's copy was read with the 30 s minimum: kept half of staleMs, so it is gone.
    expect(await at('B').get('stale:ttl', { type: 'text', cacheTtl: 30 })).toBe('new');
    await sleep(200);
    // A's copy was read with a day's cacheTtl: still served to reads with that cacheTtl...
    expect(await at('A').get('stale:ttl', { type: 'text', cacheTtl: 86_400 })).toBe('old');
    // ...but a read with the default cache time (60 s, i.e. staleMs) no longer accepts it.
    expect(await at('A').get('stale:ttl')).toBe('new');
  });

  it('answers bulk reads as a Map, from the same stale copies', async () => {
    simulation.configure({ staleMs: 400 });
    await kv.put('stale:bulk-1', '{"n":1}');
    expect(await at('A').get('stale:bulk-1', 'json')).toEqual({ n: 1 });
    expect(await at('A').get(['stale:bulk-2'], 'json')).toEqual(new Map([['stale:bulk-2', null]]));
    await kv.put('stale:bulk-1', '{"n":2}');
    await kv.put('stale:bulk-2', '{"n":3}');
    await kv.put('stale:bulk-3', '{"n":4}');
    const keys = ['stale:bulk-1', 'stale:bulk-2', 'stale:bulk-3'];
    expect(await at('A').get(keys, 'json')).toEqual(new Map<string, unknown>([['stale:bulk-1', { n: 1 }], ['stale:bulk-2', null], ['stale:bulk-3', { n: 4 }]]));
    expect(await at('A').get(keys, { type: 'text' })).toEqual(new Map([['stale:bulk-1', '{"n":1}'], ['stale:bulk-2', null], ['stale:bulk-3', '{"n":4}']]));
    expect(await at('B').get(keys, 'json')).toEqual(new Map<string, unknown>([['stale:bulk-1', { n: 2 }], ['stale:bulk-2', { n: 3 }], ['stale:bulk-3', { n: 4 }]]));
  });

  it('does not let the writer read its own write while it holds an older copy', async () => {
    simulation.configure({ staleMs: 400, enforceWriteRate: false });
    const writer = simulation.writerView(kv);
    await writer.put('stale:own', 'v1');
    expect(await writer.get('stale:own')).toBe('v1');
    await writer.put('stale:own', 'v2');
    expect(await simulation.writerView(kv).get('stale:own')).toBe('v1');
    expect(await kv.get('stale:own')).toBe('v2');
    await sleep(450);
    expect(await writer.get('stale:own')).toBe('v2');
  });

  it('lists with a lag: keys written less than staleMs ago are missing, deleted keys still appear', async () => {
    simulation.configure({ staleMs: 400 });
    await kv.put('lag:a', 'a');
    expect(await listed(at('A'), 'lag:')).toEqual(['lag:a']);
    await at('W').put('lag:b', 'b');
    await kv.delete('lag:a');
    expect(await listed(at('A'), 'lag:')).toEqual(['lag:a']);
    expect(await listed(at('B'), 'lag:')).toEqual([]);
    await sleep(450);
    expect(await listed(at('A'), 'lag:')).toEqual(['lag:b']);
    expect(await listed(at('B'), 'lag:')).toEqual(['lag:b']);
  });

  it('reads straight through by default (staleness off)', async () => {
    await kv.put('fresh:value', 'old');
    expect(await at('A').get('fresh:value')).toBe('old');
    await kv.put('fresh:value', 'new');
    expect(await at('A').get('fresh:value')).toBe('new');
    await at('W').put('fresh:listed', 'x');
    expect(await listed(at('A'), 'fresh:')).toEqual(['fresh:listed', 'fresh:value']);
  });
});

describe('one write per second per key', () => {
  it('refuses a second put of a key within a second with 429, writes nothing, and counts it', async () => {
    await at('W').put('rate:put', 'first');
    await expect(at('W').put('rate:put', 'second')).rejects.toThrow('KV PUT failed: 429 Too Many Requests');
    // The rule is the key's, whatever view writes it.
    await expect(at('elsewhere').put('rate:put', 'third')).rejects.toThrow('KV PUT failed: 429 Too Many Requests');
    expect(await kv.get('rate:put')).toBe('first');
    await at('W').put('rate:other', 'a different key is fine');
    expect(simulation.stats().unrecoveredRejections).toEqual(['rate:put']);
    await sleep(1000);
    await at('W').put('rate:put', 'a second later');
    expect(await kv.get('rate:put')).toBe('a second later');
    const stats = simulation.stats();
    expect(stats.keys.get('rate:put')).toMatchObject({ puts: 2, rejected: 2 });
    expect(stats.totals).toMatchObject({ puts: 3, rejected: 2 });
    expect(stats.unrecoveredRejections).toEqual([]);
  });

  it('counts a delete as a write of the key', async () => {
    await at('W').put('rate:delete', 'kept');
    await expect(at('W').delete('rate:delete')).rejects.toThrow('KV DELETE failed: 429 Too Many Requests');
    expect(await kv.get('rate:delete')).toBe('kept');
    await sleep(1000);
    await at('W').delete('rate:delete');
    await expect(at('W').put('rate:delete', 'again')).rejects.toThrow(/429/);
    expect(await kv.get('rate:delete')).toBeNull();
    expect(simulation.stats().keys.get('rate:delete')).toMatchObject({ puts: 1, deletes: 1, rejected: 2 });
  });

  it('can be turned off', async () => {
    simulation.configure({ enforceWriteRate: false });
    await at('W').put('rate:off', '1');
    await at('W').put('rate:off', '2');
    expect(await kv.get('rate:off')).toBe('2');
  });
});

describe('six connections', () => {
  it('runs at most six operations of a view at once; the seventh waits until one finishes', async () => {
    const namespace = new GatedNamespace();
    const view = simulation.location('C', namespace as unknown as KVNamespace);
    const reads = Array.from({ length: 7 }, (_, i) => view.get(`conn:${i}`));
    await settle();
    expect(namespace.started).toHaveLength(6);
    namespace.finishOne();
    await settle();
    expect(namespace.started).toEqual(Array.from({ length: 7 }, (_, i) => `conn:${i}`));
    namespace.finishAll();
    await settle();
    namespace.finishAll();
    expect(await Promise.all(reads)).toEqual(Array.from({ length: 7 }, (_, i) => `conn:${i}`));
    expect(simulation.stats().connections.get('C')).toMatchObject({ operations: 7, peakRequested: 7, peakInFlight: 6, waited: 1 });
  });

  it('gives each view (one invocation) its own six connections', async () => {
    const namespace = new GatedNamespace();
    const reads = [simulation.location('D', namespace as unknown as KVNamespace), simulation.location('D', namespace as unknown as KVNamespace)].flatMap((view) =>
      Array.from({ length: 6 }, (_, i) => view.get(`conn:${i}`)),
    );
    await settle();
    expect(namespace.started).toHaveLength(12);
    namespace.finishAll();
    await Promise.all(reads);
    expect(simulation.stats().connections.get('D')).toMatchObject({ operations: 12, peakRequested: 6, waited: 0 });
  });

  it('reports the writer location separately', async () => {
    const namespace = new GatedNamespace();
    const writer = simulation.writerView(namespace as unknown as KVNamespace);
    const reads = Array.from({ length: 8 }, (_, i) => writer.get(`conn:${i}`));
    await settle();
    namespace.finishAll();
    await settle();
    namespace.finishAll();
    await Promise.all(reads);
    expect(simulation.writerConnections()).toMatchObject({ operations: 8, peakRequested: 8, peakInFlight: 6, waited: 2 });
  });
});

describe('the Coordinator of the workerd suite', () => {
  it('is the simulated subclass of the real Coordinator and shares the simulation with the tests', async () => {
    const stub = env.COORDINATOR.getByName('main');
    await runInDurableObject(stub, async (instance) => {
      expect(instance).toBeInstanceOf(SimulatedCoordinator);
      expect(instance).toBeInstanceOf(RealCoordinator);
      const events = (instance as unknown as { env: Env }).env.EVENTS;
      expect(events).not.toBe(env.EVENTS);
      await events.put('simulation:from-the-coordinator', '1');
      await expect(events.put('simulation:from-the-coordinator', '2')).rejects.toThrow('KV PUT failed: 429 Too Many Requests');
    });
    // Counted by the same module state the tests read.
    expect(simulation.stats().keys.get('simulation:from-the-coordinator')).toMatchObject({ puts: 1, rejected: 1 });
    expect(simulation.writerConnections().operations).toBe(2);

    const response = await call('/events', {
      method: 'POST',
      headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' },
      body: JSON.stringify(makeEvent('written-through-the-simulation', '2019-05-05')),
    });
    expect(response.status).toBe(201);
    // Published after the commit, by the Coordinator, through its simulated view.
    await vi.waitFor(() => expect(simulation.stats().keys.get('event:written-through-the-simulation')?.puts).toBe(1));
  });
});
