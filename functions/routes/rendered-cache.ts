/**
 * Rendered bodies kept in the Workers Cache API (`caches.default`), so a
 * request repeated by many clients (a polled feed, a dashboard's query) is
 * answered from the data center's cache instead of being read from KV and
 * rendered again.
 *
 * An entry's key names everything its body depends on: the Worker version
 * (a deploy may render differently), the dataset revision the body was
 * built from, the media type and the URL's path and query as requested (not
 * their canonical form: a feed's self link, a page's title and form, an
 * export's next link repeat the query as it was written).
 * Nothing is ever invalidated: a write makes a new revision, whose requests
 * use new keys, and old entries age out. The Cache API works in `wrangler
 * dev` and the workerd tests; on the platform it only stores anything for a
 * Worker on a custom domain (on `*.workers.dev` every lookup misses, and
 * requests are built as if nothing were cached).
 */

/** How long a body built from the index is kept: it never changes for its key, so this only bounds what the cache holds. */
export const INDEX_BODY_LIFETIME_SECONDS = 86_400;
/** How long a `/events/:id` body or an `order=updated` list is kept: they show `event:<id>` copies their keys do not all name (a page's related records, a list's records), which KV may serve stale this long. */
export const RECORD_BODY_LIFETIME_SECONDS = 60;
/** The path under the request's own origin where cache keys live (never a route). */
const KEY_PREFIX = '/.rendered';

/** The cache key of the body of `url` in `mediaType`, built from dataset revision `revision` by Worker version `workerVersion`. */
export function renderedKey(workerVersion: string, url: URL, revision: string, mediaType: string): Request {
  const parts = [workerVersion, revision, mediaType].map(encodeURIComponent).join('/');
  return new Request(`${url.origin}${KEY_PREFIX}/${parts}${url.pathname}${url.search}`);
}

/** The cached response under `key`, if any. */
export function lookUpRendered(key: Request): Promise<Response | undefined> {
  return caches.default.match(key);
}

/** Stores a copy of `response` under `key` for `lifetimeSeconds`, while the response is sent (a failed put is logged: the next request renders again). */
export function keepRendered(executionCtx: Pick<ExecutionContext, 'waitUntil'>, key: Request, response: Response, lifetimeSeconds: number): void {
  const copy = new Response(response.clone().body, response);
  copy.headers.set('Cache-Control', `public, max-age=${lifetimeSeconds}`);
  executionCtx.waitUntil(caches.default.put(key, copy).catch((error: unknown) => console.warn('rendered body not cached:', key.url, error instanceof Error ? error.message : String(error))));
}
