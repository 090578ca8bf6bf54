/**
 * A test double that plays production Workers KV on top of the local
 * (miniflare) namespace, enforcing three platform rules local workerd does
 * not:
 *
 * - Eventual consistency. Each simulated location keeps every value it reads,
 *   "not found" included, and serves that copy until it expires, even after
 *   the key has changed. A read with the default cache time keeps its copy
 *   `staleMs` (60 s on the platform, a second or two in tests); a read with
 *   `cacheTtl: n` keeps it `staleMs * n / 60`, so a chunk read with a day's
 *   cacheTtl stays cached 1,440 times longer than a manifest, and a read with
 *   the 30 s minimum half as long. `list()` lags too: a location serves the
 *   pages it listed until they expire (deleted keys still appear), and keys
 *   first written through the simulation less than `staleMs` ago are left out.
 *   The writer has a location of its own and a put does not refresh that
 *   location's copy: the writing location is not guaranteed to read its own
 *   write either.
 * - One write per second per key: a second put or delete of a key within
 *   1000 ms (real `Date.now()`) throws `KV PUT failed: 429 Too Many Requests`
 *   (`KV DELETE failed: …` for a delete) and writes nothing.
 * - Six connections: each view (one per invocation) runs at most six
 *   operations at once; the seventh waits for one to finish. The peak of
 *   operations asked for at once and how many had to wait are recorded.
 *
 * Configuration, caches and counters are module state, shared by the tests
 * and the Coordinator Durable Object (which runs in the same isolate, see
 * tests/platform/worker.ts). Staleness is off by default; the write rate and
 * connection rules are on. One simulation plays one namespace (EVENTS).
 */
import { env } from 'cloudflare:workers';

/** What the simulation enforces; see `simulation.configure`. */
export interface SimulationOptions {
  /** How long a location serves a copy read with the default cache time, in ms; 0 turns staleness off. */
  staleMs: number;
  /** Throw 429 on a second write of a key within `writeIntervalMs`. */
  enforceWriteRate: boolean;
  /** Minimum time between two writes of one key, in ms. */
  writeIntervalMs: number;
  /** Most operations one view runs at once. */
  maxConnections: number;
}

/** The platform's own default cache time of a KV read, in seconds. */
const DEFAULT_CACHE_TTL_SECONDS = 60;

const DEFAULTS: SimulationOptions = { staleMs: 0, enforceWriteRate: true, writeIntervalMs: 1000, maxConnections: 6 };

/** Operation counts of one key, or of the whole simulation. */
export interface OperationCounts {
  reads: number;
  puts: number;
  deletes: number;
  lists: number;
  /** Writes refused with 429. */
  rejected: number;
}

/** Connection use of the views of one location (the writer is the location "writer"). */
export interface ConnectionStats {
  /** Operations started. */
  operations: number;
  /** Most operations one view had in flight plus waiting at once: above `maxConnections` means the code asked for too many. */
  peakRequested: number;
  /** Most operations one view had in flight at once (never above `maxConnections`). */
  peakInFlight: number;
  /** Operations that had to wait for a connection. */
  waited: number;
  /** Reads answered from the location's stale copy. */
  cacheHits: number;
}

/** Everything counted since the last `reset`. */
export interface SimulationStats {
  totals: OperationCounts;
  /** Per key, only keys that saw an operation. */
  keys: Map<string, OperationCounts>;
  /** Per location name, "writer" included. */
  connections: Map<string, ConnectionStats>;
  /**
   * Keys whose latest write attempt was refused with 429 and that were never
   * written after it: what a 429 lost for good unless the code retries.
   */
  unrecoveredRejections: string[];
}

/** The location name of the writer's views. */
export const WRITER_LOCATION = 'writer';

interface CachedValue {
  text: string | null;
  metadata: unknown;
  fetchedAt: number;
}

interface CachedList {
  result: KVNamespaceListResult<unknown, string>;
  fetchedAt: number;
}

interface KeyState extends OperationCounts {
  lastWriteAt: number | null;
  /** Order (in `State.writeAttempts`) of the last write that went through, and of the last one refused. */
  lastWriteSeq: number;
  lastRejectedSeq: number;
  /** When the simulation saw the key first written (after a delete, again). */
  createdAt: number | null;
}

interface State {
  options: SimulationOptions;
  values: Map<string, Map<string, CachedValue>>;
  lists: Map<string, Map<string, CachedList>>;
  keys: Map<string, KeyState>;
  totals: OperationCounts;
  connections: Map<string, ConnectionStats>;
  /** Write attempts so far, to order them when the clock has not moved between them. */
  writeAttempts: number;
}

// Captured at load, before any test can install fake timers.
const realNow = Date.now;

const zeroCounts = (): OperationCounts => ({ reads: 0, puts: 0, deletes: 0, lists: 0, rejected: 0 });

const freshState = (): State => ({
  options: { ...DEFAULTS },
  values: new Map(),
  lists: new Map(),
  keys: new Map(),
  totals: zeroCounts(),
  connections: new Map(),
  writeAttempts: 0,
});

let state = freshState();

function keyState(key: string): KeyState {
  let found = state.keys.get(key);
  if (!found) state.keys.set(key, (found = { ...zeroCounts(), lastWriteAt: null, lastWriteSeq: 0, lastRejectedSeq: 0, createdAt: null }));
  return found;
}

function count(key: string | null, what: keyof OperationCounts): void {
  state.totals[what]++;
  if (key !== null) keyState(key)[what]++;
}

function connectionStats(location: string): ConnectionStats {
  let found = state.connections.get(location);
  if (!found) state.connections.set(location, (found = { operations: 0, peakRequested: 0, peakInFlight: 0, waited: 0, cacheHits: 0 }));
  return found;
}

function locationMap<T>(maps: Map<string, Map<string, T>>, location: string): Map<string, T> {
  let found = maps.get(location);
  if (!found) maps.set(location, (found = new Map()));
  return found;
}

/** How long a copy read with `cacheTtl` seconds stays served, in ms. */
const keepFor = (cacheTtl: number | undefined) => (state.options.staleMs * (cacheTtl ?? DEFAULT_CACHE_TTL_SECONDS)) / DEFAULT_CACHE_TTL_SECONDS;

type ReadType = 'text' | 'json';

/** The value type and cache time of a `get` call's second argument; only text and JSON are simulated. */
function readOptions(typeOrOptions: unknown): { type: ReadType; cacheTtl: number | undefined } {
  const options = typeof typeOrOptions === 'string' ? { type: typeOrOptions } : ((typeOrOptions ?? {}) as { type?: string; cacheTtl?: number });
  const type = options.type ?? 'text';
  if (type !== 'text' && type !== 'json') throw new Error(`simulated KV: get type "${type}" is not simulated`);
  return { type, cacheTtl: 'cacheTtl' in options ? options.cacheTtl : undefined };
}

const decode = (text: string | null, type: ReadType): unknown => (text === null || type === 'text' ? text : JSON.parse(text));

/** At most `maxConnections` operations at once; the rest wait in order. */
class Connections {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly location: string) {}

  async run<T>(operation: () => Promise<T>): Promise<T> {
    const stats = connectionStats(this.location);
    stats.operations++;
    stats.peakRequested = Math.max(stats.peakRequested, this.inFlight + this.waiting.length + 1);
    if (this.inFlight >= state.options.maxConnections) {
      stats.waited++;
      // The finishing operation hands its connection over, so inFlight stays as it is.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.inFlight++;
    }
    stats.peakInFlight = Math.max(stats.peakInFlight, this.inFlight);
    try {
      return await operation();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    }
  }
}

/** A KVNamespace as seen from one location by one invocation. */
class SimulatedView {
  private readonly connections: Connections;

  constructor(
    private readonly kv: KVNamespace,
    private readonly location: string,
  ) {
    this.connections = new Connections(location);
  }

  get(keyOrKeys: string | string[], typeOrOptions?: unknown): Promise<unknown> {
    const { type, cacheTtl } = readOptions(typeOrOptions);
    if (Array.isArray(keyOrKeys)) {
      return this.connections.run(async () => {
        const found = await this.readMany(keyOrKeys, cacheTtl);
        return new Map(keyOrKeys.map((key) => [key, decode(found.get(key)!.text, type)]));
      });
    }
    return this.connections.run(async () => decode((await this.readOne(keyOrKeys, cacheTtl)).text, type));
  }

  getWithMetadata(key: string, typeOrOptions?: unknown): Promise<KVNamespaceGetWithMetadataResult<unknown, unknown>> {
    if (Array.isArray(key)) throw new Error('simulated KV: bulk getWithMetadata is not simulated');
    const { type, cacheTtl } = readOptions(typeOrOptions);
    return this.connections.run(async () => {
      const found = await this.readOne(key, cacheTtl);
      return { value: decode(found.text, type), metadata: found.metadata ?? null, cacheStatus: null } as KVNamespaceGetWithMetadataResult<unknown, unknown>;
    });
  }

  list(options: KVNamespaceListOptions = {}): Promise<KVNamespaceListResult<unknown, string>> {
    return this.connections.run(async () => {
      count(null, 'lists');
      const cache = locationMap(state.lists, this.location);
      const cacheKey = JSON.stringify([options.prefix ?? null, options.cursor ?? null, options.limit ?? null]);
      const cached = cache.get(cacheKey);
      if (cached && realNow() - cached.fetchedAt < state.options.staleMs) {
        connectionStats(this.location).cacheHits++;
        return cached.result;
      }
      const listed = await this.kv.list(options);
      const now = realNow();
      const visible = (name: string) => {
        const createdAt = state.keys.get(name)?.createdAt ?? null;
        return createdAt === null || now - createdAt >= state.options.staleMs;
      };
      const result = { ...listed, keys: listed.keys.filter((key) => visible(key.name)) } as KVNamespaceListResult<unknown, string>;
      if (state.options.staleMs > 0) cache.set(cacheKey, { result, fetchedAt: now });
      return result;
    });
  }

  put(key: string, value: string | ArrayBuffer | ArrayBufferView | ReadableStream, options?: KVNamespacePutOptions): Promise<void> {
    return this.connections.run(async () => {
      this.claimWrite(key, 'PUT');
      const known = keyState(key);
      if (known.createdAt === null) known.createdAt = realNow();
      count(key, 'puts');
      await this.kv.put(key, value, options);
    });
  }

  delete(key: string): Promise<void> {
    return this.connections.run(async () => {
      this.claimWrite(key, 'DELETE');
      keyState(key).createdAt = null;
      count(key, 'deletes');
      await this.kv.delete(key);
    });
  }

  /** Refuses a write of `key` within `writeIntervalMs` of the previous one, as the platform does with 429. */
  private claimWrite(key: string, verb: 'PUT' | 'DELETE'): void {
    const known = keyState(key);
    const now = realNow();
    const sequence = ++state.writeAttempts;
    if (state.options.enforceWriteRate && known.lastWriteAt !== null && now - known.lastWriteAt < state.options.writeIntervalMs) {
      count(key, 'rejected');
      known.lastRejectedSeq = sequence;
      throw new Error(`KV ${verb} failed: 429 Too Many Requests`);
    }
    known.lastWriteAt = now;
    known.lastWriteSeq = sequence;
  }

  /** Whether a cached copy is still served to a read with `cacheTtl`. */
  private fresh(cached: CachedValue | undefined, cacheTtl: number | undefined): cached is CachedValue {
    return cached !== undefined && realNow() - cached.fetchedAt < keepFor(cacheTtl);
  }

  private async readOne(key: string, cacheTtl: number | undefined): Promise<CachedValue> {
    count(key, 'reads');
    const cache = locationMap(state.values, this.location);
    const cached = cache.get(key);
    if (this.fresh(cached, cacheTtl)) {
      connectionStats(this.location).cacheHits++;
      return cached;
    }
    const { value, metadata } = await this.kv.getWithMetadata(key, 'text');
    const copy = { text: value, metadata, fetchedAt: realNow() };
    if (state.options.staleMs > 0) cache.set(key, copy);
    return copy;
  }

  private async readMany(keys: readonly string[], cacheTtl: number | undefined): Promise<Map<string, CachedValue>> {
    const cache = locationMap(state.values, this.location);
    const found = new Map<string, CachedValue>();
    const missing: string[] = [];
    for (const key of keys) {
      count(key, 'reads');
      const cached = cache.get(key);
      if (this.fresh(cached, cacheTtl)) {
        connectionStats(this.location).cacheHits++;
        found.set(key, cached);
      } else {
        missing.push(key);
      }
    }
    if (missing.length > 0) {
      const fetched = await this.kv.getWithMetadata(missing, 'text');
      const now = realNow();
      for (const key of missing) {
        const entry = fetched.get(key);
        const copy = { text: entry?.value ?? null, metadata: entry?.metadata ?? null, fetchedAt: now };
        if (state.options.staleMs > 0) cache.set(key, copy);
        found.set(key, copy);
      }
    }
    return found;
  }
}

/** The simulation's controls, shared by tests and the Coordinator. */
export const simulation = {
  /** Changes what is enforced from now on; unnamed options keep their values. */
  configure(options: Partial<SimulationOptions>): void {
    state.options = { ...state.options, ...options };
  },

  /** The options in force. */
  options(): Readonly<SimulationOptions> {
    return { ...state.options };
  },

  /** Back to the defaults (no staleness; 429 and six connections enforced), with every cache, write time and counter cleared. */
  reset(): void {
    state = freshState();
  },

  /**
   * A view of `kv` from the location `name`, for one invocation: its own six
   * connections over the location's shared stale copies. Defaults to EVENTS.
   */
  location(name: string, kv: KVNamespace = env.EVENTS): KVNamespace {
    return new SimulatedView(kv, name) as unknown as KVNamespace;
  },

  /** The view the Coordinator writes through: the location "writer". */
  writerView(kv: KVNamespace): KVNamespace {
    return simulation.location(WRITER_LOCATION, kv);
  },

  /** Counters since the last `reset` (copies). */
  stats(): SimulationStats {
    const unrecoveredRejections = [...state.keys]
      .filter(([, key]) => key.lastRejectedSeq > key.lastWriteSeq)
      .map(([name]) => name);
    const copyCounts = ({ reads, puts, deletes, lists, rejected }: OperationCounts): OperationCounts => ({ reads, puts, deletes, lists, rejected });
    return {
      totals: copyCounts(state.totals),
      keys: new Map([...state.keys].map(([name, key]) => [name, copyCounts(key)])),
      connections: new Map([...state.connections].map(([name, stats]) => [name, { ...stats }])),
      unrecoveredRejections,
    };
  },

  /** Connection use of the writer's views since the last `reset`. */
  writerConnections(): ConnectionStats {
    return { ...connectionStats(WRITER_LOCATION) };
  },
};
