/**
 * The Worker entry `npm run bench` runs (never deployed): the real Worker,
 * plus
 * - `GET /__bench/static?bytes=N`, a constant body of N bytes built once per
 *   size. It is the baseline a cached response is compared with: what
 *   serving a static file of the same size costs on the same workerd, behind
 *   the same `wrangler dev` proxy. With `&after-kv-read=1` it reads the
 *   index head from KV before answering: the least any answer costs that
 *   checks KV for a write (scripts/bench/hot.ts);
 * - for a request sent with `x-bench-count-kv: 1`, the response headers
 *   `x-bench-kv-ops` and `x-bench-kv-bytes`: the Workers KV operations the
 *   request made (a bulk read counts once, as KV counts it) and the bytes of
 *   the values it read, until its response was ready
 *   (scripts/bench/kv-cost.ts);
 * - for a request sent with `x-bench-cold: 1`, a Worker version id of its
 *   own, so that it misses the rendered-body cache (whose keys name the
 *   version) as a first request would: the cold path (scripts/bench/hot.ts).
 * Other requests, such as the hot path's, run the Worker as it is.
 * Type-checked with the Worker (tsconfig.json), not with the Node scripts.
 */
import worker from '../../functions/index.ts';
import type { Env } from '../../functions/env.ts';
import { HEAD_KEY } from '../../functions/domain/layout.ts';

export { Coordinator } from '../../functions/index.ts';

/** The path of the static baseline route. */
const STATIC_PATH = '/__bench/static';
/** The request header that makes a request miss the rendered-body cache (scripts/bench/hot.ts). */
const COLD_HEADER = 'x-bench-cold';
/** Cold requests so far: each runs as its own Worker version. */
let coldRequests = 0;
/** The request header that asks for KV counts. */
const COUNT_KV_HEADER = 'x-bench-count-kv';
/** Bodies by size, built on first use. */
const bodies = new Map<number, string>();

const encoder = new TextEncoder();

/** Bytes of a value KV returned (text, JSON, binary, or a bulk read's map of them). */
function sizeOf(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'string') return encoder.encode(value).byteLength;
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (value instanceof Map) return [...value.values()].reduce((sum: number, item) => sum + sizeOf(item), 0);
  return encoder.encode(JSON.stringify(value)).byteLength;
}

/** A KV namespace that counts the operations made through it and the bytes they read. */
function countingKv(kv: KVNamespace): { kv: KVNamespace; ops: () => number; bytes: () => number } {
  let ops = 0;
  let bytes = 0;
  const counted = new Proxy(kv, {
    get(target, property) {
      const member: unknown = Reflect.get(target, property, target);
      if (typeof member !== 'function') return member;
      return async (...args: unknown[]) => {
        ops++;
        const result: unknown = await (member as (...args: unknown[]) => Promise<unknown>).apply(target, args);
        // getWithMetadata answers { value, metadata } (or a map of them); list answers keys, counted as what it read.
        bytes += sizeOf(property === 'getWithMetadata' && result !== null && !(result instanceof Map) ? (result as { value: unknown }).value : result);
        return result;
      };
    },
  });
  return { kv: counted, ops: () => ops, bytes: () => bytes };
}

export default {
  ...worker,
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === STATIC_PATH) {
      const bytes = Number(url.searchParams.get('bytes') ?? 0);
      let body = bodies.get(bytes);
      if (body === undefined) bodies.set(bytes, (body = 'x'.repeat(bytes)));
      if (url.searchParams.get('after-kv-read') === '1') await env.EVENTS.get(HEAD_KEY, 'text');
      return new Response(body, { headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'public, max-age=60' } });
    }
    // A cold request never finds a rendered body: every cache key names the Worker version, and this one is new each time.
    const runAs: Env = request.headers.get(COLD_HEADER) === '1' ? { ...env, CF_VERSION_METADATA: { ...env.CF_VERSION_METADATA, id: `bench-cold-${++coldRequests}` } } : env;
    if (request.headers.get(COUNT_KV_HEADER) !== '1') return worker.fetch(request, runAs, ctx);
    const events = countingKv(runAs.EVENTS);
    const answered = await worker.fetch(request, { ...runAs, EVENTS: events.kv }, ctx);
    const response = new Response(answered.body, answered);
    response.headers.set('x-bench-kv-ops', String(events.ops()));
    response.headers.set('x-bench-kv-bytes', String(events.bytes()));
    return response;
  },
} satisfies ExportedHandler<Env>;
