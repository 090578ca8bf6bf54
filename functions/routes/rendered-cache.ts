/**
 * Rendered bodies kept in two tiers: this isolate's memory, then the Workers
 * Cache API (`caches.default`), so a request repeated by many clients (a
 * polled feed, a dashboard's query) is answered without being read from KV
 * and rendered again, and, while the isolate holds it, without a cache
 * lookup either.
 *
 * An entry's key names everything its body depends on: the Worker version
 * (a deploy may render differently), the dataset revision the body was
 * built from, the media type and the URL's path and query as requested (not
 * their canonical form: a feed's self link, a page's title and form, an
 * export's next link repeat the query as it was written).
 * Nothing is ever invalidated: a write makes a new revision, whose requests
 * use new keys, and old entries age out (the memory tier drops the least
 * recently used beyond MEMORY_TIER_BYTES, and any entry past its lifetime).
 * The Cache API works in `wrangler dev` and the workerd tests; on the
 * platform it only stores anything for a Worker on a custom domain (on
 * `*.workers.dev` every lookup misses, and the memory tier alone serves
 * repeats within an isolate).
 */
import { LRUCache } from 'lru-cache';

/** How long a body built from the index is kept: it never changes for its key, so this only bounds what the cache holds. */
export const INDEX_BODY_LIFETIME_SECONDS = 86_400;
/** How long a `/events/:id` body or an `order=updated` list is kept: they show `event:<id>` copies their keys do not all name (a page's related records, a list's records), which KV may serve stale this long. */
export const RECORD_BODY_LIFETIME_SECONDS = 60;
/** The path under the request's own origin where cache keys live (never a route). */
const KEY_PREFIX = '/.rendered';

/** The cache key (a URL) of the body of `url` in `mediaType`, built from dataset revision `revision` by Worker version `workerVersion`. */
export function renderedKey(workerVersion: string, url: URL, revision: string, mediaType: string): string {
  const parts = [workerVersion, revision, mediaType].map(encodeURIComponent).join('/');
  return `${url.origin}${KEY_PREFIX}/${parts}${url.pathname}${url.search}`;
}

/** Most bytes of rendered bodies one isolate keeps in memory (a Worker isolate may use 128 MB in all). */
export const MEMORY_TIER_BYTES = 16 * 1024 * 1024;
/** Bodies larger than this are kept by the Cache API only. */
const MEMORY_TIER_ENTRY_BYTES = 2 * 1024 * 1024;
/** Headers on Cache API copies only: when the entry's lifetime ends (ms since the epoch), so the memory tier keeps a copy no longer; and the Cache-Control it was sent with. */
const EXPIRES_HEADER = 'x-rendered-expires';
const SENT_CACHE_CONTROL_HEADER = 'x-rendered-cache-control';

/** A rendered body as it was sent: status, headers and body bytes (never modified: build a Response from it). */
export interface RenderedCopy {
  readonly body: ArrayBuffer;
  readonly status: number;
  readonly headers: readonly [string, string][];
}

/** A copy held in memory, and until when it may be served. */
interface HeldCopy extends RenderedCopy {
  expiresAt: number;
}

/** This isolate's memory tier, by cache key (bodies over MEMORY_TIER_ENTRY_BYTES are not kept). */
const held = new LRUCache<string, HeldCopy>({ maxSize: MEMORY_TIER_BYTES, maxEntrySize: MEMORY_TIER_ENTRY_BYTES, sizeCalculation: (entry) => entry.body.byteLength + 512 });

/** The copy kept under `key`, if any: from memory, else from the Cache API (then kept in memory for the rest of its lifetime). */
export async function lookUpRendered(key: string): Promise<RenderedCopy | undefined> {
  const inMemory = held.get(key);
  if (inMemory !== undefined) {
    if (inMemory.expiresAt > Date.now()) return inMemory;
    held.delete(key);
  }
  const cached = await caches.default.match(key);
  if (cached === undefined) return undefined;
  const headers = new Headers(cached.headers);
  const expiresAt = Number(headers.get(EXPIRES_HEADER));
  headers.set('Cache-Control', headers.get(SENT_CACHE_CONTROL_HEADER) ?? '');
  headers.delete(EXPIRES_HEADER);
  headers.delete(SENT_CACHE_CONTROL_HEADER);
  const copy: HeldCopy = { body: await cached.arrayBuffer(), status: cached.status, headers: [...headers], expiresAt };
  if (expiresAt > Date.now()) held.set(key, copy);
  return copy;
}

/**
 * Keeps a body that is a copy of a value published in KV (the writer's
 * front page) under `key` for `lifetimeSeconds`, in this isolate's memory
 * only: other isolates read the same value from KV, whose edges cache it,
 * so a copy in the Cache API would only cost a put. Returns the response to
 * send in place of `response`: the same, built from the bytes kept (the
 * text is encoded once).
 */
export function holdPublished(key: string, text: string, response: Response, lifetimeSeconds: number): Response {
  return hold(key, new TextEncoder().encode(text).buffer as ArrayBuffer, response, Date.now() + lifetimeSeconds * 1_000);
}

/** Keeps `body`, sent with `response`'s status and headers, in memory under `key` until `expiresAt`; the response to send, built from those bytes. */
function hold(key: string, body: ArrayBuffer, response: Response, expiresAt: number): Response {
  held.set(key, { body, status: response.status, headers: [...response.headers], expiresAt });
  return new Response(body, { status: response.status, headers: response.headers });
}

/**
 * Keeps a copy of `response` under `key` for `lifetimeSeconds`, in memory
 * at once and in the Cache API while the response is sent (a failed put is
 * logged: the next request renders again), and returns the response to send
 * in its place: the body is read once and its bytes shared by what is sent
 * and what is kept, rather than the stream teed and read twice.
 */
export async function keepRendered(executionCtx: Pick<ExecutionContext, 'waitUntil'>, key: string, response: Response, lifetimeSeconds: number): Promise<Response> {
  const body = await response.arrayBuffer();
  const expiresAt = Date.now() + lifetimeSeconds * 1_000;
  const sent = hold(key, body, response, expiresAt);
  const headers = new Headers(response.headers);
  headers.set(SENT_CACHE_CONTROL_HEADER, response.headers.get('Cache-Control') ?? '');
  headers.set('Cache-Control', `public, max-age=${lifetimeSeconds}`);
  headers.set(EXPIRES_HEADER, String(expiresAt));
  const putting = (async () => caches.default.put(key, new Response(body, { status: response.status, headers })))();
  executionCtx.waitUntil(putting.catch((error: unknown) => console.warn('rendered body not cached:', key, error instanceof Error ? error.message : String(error))));
  return sent;
}
