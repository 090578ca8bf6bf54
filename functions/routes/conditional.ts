/**
 * Conditional GET and the rendered-body cache of the read endpoints.
 *
 * Validators come from what the data behind an endpoint is at, never from
 * building the body: for everything read from the index, the index head
 * (`index:head`: storage epoch, revision, change time; small, of fixed size,
 * whatever the size of the dataset); for `/events/:id` the digest of the
 * record served (for its HTML page, which lists related and nearby records
 * read from the index, with the index head's revision too); for `/tallies`
 * the tallies' digest. Each representation of a URL (the media type chosen
 * by `negotiate`, routes/negotiation.ts) has its own validators. A client
 * that already has the current representation gets its 304 after that one
 * small KV read.
 *
 * Bodies read from the index are kept in the Workers Cache API
 * (rendered-cache.ts) under the dataset revision they were built from and
 * their media type, so a repeated request costs one head read and a cache
 * lookup, and a write (a new revision) is never answered with an old body;
 * `/events/:id` under the digest of the `event:<id>` value it was built
 * from (`recordRead`). Bodies read from the change log (`order=updated`),
 * which no index revision names, are cached under the head's revision for a
 * minute at most and validated by their own digest (`changeLogRead`);
 * `/changes`, whose last page grows between head updates, only by its
 * digest (`digestValidated`). A retraction or restore is a write like any other:
 * it moves the head, so cached bodies are never served after it.
 *
 * KV is eventually consistent: a location may see a head older or newer than
 * its manifest. A body's ETag always names the revision of the manifest it
 * was built from, a 304 from the head names the head's revision, and
 * everything a revision names is immutable, so one ETag never stands for two
 * different bodies.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { LRUCache } from 'lru-cache';
import { dateInterval } from '../domain/dates.ts';
import { sha256Hex } from '../domain/digest.ts';
import { servedRecordJson } from '../domain/page-json.ts';
import { canonicalQuery } from '../domain/query.ts';
import type { IndexHead, Manifest } from '../domain/layout.ts';
import { readEventText, readHead, readManifest, readTallies, storedEvent, withFreshManifest } from '../store/events-store.ts';
import { mediaTypeOf } from './negotiation.ts';
import type { ReadEnv } from './read-env.ts';
import { INDEX_BODY_LIFETIME_SECONDS, RECORD_BODY_LIFETIME_SECONDS, holdPublished, keepRendered, lookUpRendered, renderedKey, type RenderedCopy } from './rendered-cache.ts';

/** Cache-Control for lists, feeds, exports and stats: fresh for a minute, then served stale for five while revalidated, which suits feed polling. */
export const POLLING_CACHE_CONTROL = 'public, max-age=60, stale-while-revalidate=300';

/** The state of the data an endpoint is built from. */
export interface DataVersion {
  /** Changes whenever that data changes. */
  revision: string;
  /** When that data last changed (ISO 8601); null when unknown. */
  updatedAt: string | null;
}

/** Reads the `DataVersion` behind a request. */
export type VersionOf = (c: Context<ReadEnv>) => Promise<DataVersion>;

/** The validators of an index read from the dataset's version, e.g. with the digest of bundled data the body also depends on. */
export type ScopeOf = (dataset: DataVersion) => DataVersion | Promise<DataVersion>;

/**
 * The version of the index at a head or manifest: its storage epoch and
 * revision (never reused for other content), and when the index last
 * changed. That is the write's time, not the newest record's `updated_at`, so
 * a record that arrives with an older timestamp (curated data) still moves
 * Last-Modified.
 */
const indexVersion = (head: IndexHead): DataVersion => ({
  revision: `events:${head.epoch}:${head.revision}`,
  updatedAt: head.changed_at ?? head.updated_at,
});

/**
 * Runs a read of the index from the published manifest, moving to a fresher
 * manifest if that one names keys this location cannot read yet, and keeps
 * the manifest used: the body's validators and cache key name its revision.
 */
export async function readIndex<T>(c: Context<ReadEnv>, read: (manifest: Manifest) => Promise<T>): Promise<T> {
  const { value, manifest } = await withFreshManifest(c.env.EVENTS, await readManifest(c.env.EVENTS), read);
  c.set('manifest', manifest);
  return value;
}

/**
 * Middleware for GET routes whose body is read from the index (through
 * `readIndex`), placed after input validation. Reads the index head: a
 * request whose If-None-Match (or, without one, If-Modified-Since) matches
 * the head's validators is answered 304 with nothing else read. Otherwise a
 * body cached for the head's revision is served; failing that the handler
 * builds one, which is sent with the validators of the manifest it was read
 * from and cached under that manifest's revision.
 */
export function indexRead({ scope = (dataset) => dataset }: { scope?: ScopeOf } = {}): MiddlewareHandler<ReadEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const mediaType = mediaTypeOf(c);
    const head = await readHead(c.env.EVENTS);
    const validators = await validatorsOf(await scope(indexVersion(head)), mediaType, url);
    if (isFresh(c, validators)) return c.body(null, 304, validators);
    const cached = await lookUpRendered(renderedKey(c.env.CF_VERSION_METADATA.id, url, indexVersion(head).revision, mediaType));
    if (cached) return servedFromCache(cached);
    c.set('head', head);
    await next();
    await sendAndKeep(c, { head, validators, scope, lifetimeSeconds: INDEX_BODY_LIFETIME_SECONDS });
  };
}

/**
 * Middleware for `GET /events/:id` (and `/events/<id>.json`): the validators
 * are the digest of the record served (as stored under `event:<id>`, with
 * its date interval) and the record's `updated_at`; for the media types in
 * `withIndex` (a record's page, which lists related and nearby records read
 * from the index) they name the index revision too, and Last-Modified is
 * the later of the two. A body is cached under the digest of the
 * `event:<id>` value it was built from (and, for a page, the index revision),
 * never under the index revision alone: `event:<id>` is read apart from the
 * index, so a location may hold a copy older than its head, and a body built
 * from that copy must not be served as the head's (it would outlive the
 * copy). A repeat reads `event:<id>` (and the head for a page) and the cache.
 */
export function recordRead({ withIndex = [] }: { withIndex?: readonly string[] } = {}): MiddlewareHandler<ReadEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const mediaType = mediaTypeOf(c);
    const id = routeRecordId(c);
    const [text, head] = await Promise.all([readEventText(c.env.EVENTS, id), withIndex.includes(mediaType) ? readHead(c.env.EVENTS) : null]);
    const copy = text === null ? null : `record:${await recordDigest(text)}`;
    const keyOf = (index: IndexHead | null) => renderedKey(c.env.CF_VERSION_METADATA.id, url, index ? `${indexVersion(index).revision}:${copy}` : copy!, mediaType);
    if (copy !== null) {
      const cached = await lookUpRendered(keyOf(head));
      if (cached) {
        const validators = validatorsFrom(cached);
        return isFresh(c, validators) ? c.body(null, 304, validators) : servedFromCache(cached);
      }
    }
    const stored = text === null ? null : storedEvent(text, id);
    const served = stored ? { record: stored.record, text: servedRecordJson(stored.text, dateInterval(stored.record)) } : null;
    c.set('record', served);
    const record: DataVersion = { revision: `record:${served ? await sha256Hex(served.text) : 'none'}`, updatedAt: stored?.record.updated_at ?? null };
    const withDataset = (dataset: DataVersion): DataVersion => ({ revision: `${record.revision}:${dataset.revision}`, updatedAt: later(record.updatedAt, dataset.updatedAt) });
    const validators = await validatorsOf(head ? withDataset(indexVersion(head)) : record, mediaType, url);
    // Only a record that exists can be current: `If-None-Match: *` for a missing one gets its 404 or 410.
    if (served && isFresh(c, validators)) return c.body(null, 304, validators);
    await next();
    if (c.res.status !== 200 || copy === null) return;
    // A page is sent with the validators of the manifest it read related and nearby records from.
    const builtFrom = head ? (c.get('manifest') ?? head) : null;
    const sent = builtFrom && indexVersion(builtFrom).revision !== indexVersion(head!).revision ? await validatorsOf(withDataset(indexVersion(builtFrom)), mediaType, url) : validators;
    setAll(c.res.headers, sent);
    await sendKept(c, keyOf(builtFrom), RECORD_BODY_LIFETIME_SECONDS);
  };
}

/** A record's id from the parameter of its `/events/:id` route: `<id>.json`, the record's JSON link, names the same record. */
export const recordIdOf = (parameter: string): string => parameter.replace(/\.json$/, '');

/** The record id of an `/events/:id` route. */
const routeRecordId = (c: Context<ReadEnv>): string => recordIdOf(c.req.param('id') ?? '');

/**
 * Middleware for GET routes whose body is read from the change log
 * (`order=updated`: change-log pages and the latest `event:<id>` copies,
 * published before the index head but not named by any manifest revision).
 * A body is cached under the index head's revision, like index reads, but
 * only as long as KV may serve a stale copy of the keys it was read from
 * (RECORD_BODY_LIFETIME_SECONDS); its ETag digests the body itself
 * (`digestValidated`), so one ETag never stands for two bodies even where
 * those keys lag the head. A cached body answers a matching If-None-Match
 * with a 304 after the head read and the cache lookup.
 */
export function changeLogRead(): MiddlewareHandler<ReadEnv> {
  return async (c, next) => {
    const head = await readHead(c.env.EVENTS);
    const key = renderedKey(c.env.CF_VERSION_METADATA.id, new URL(c.req.url), indexVersion(head).revision, mediaTypeOf(c));
    const cached = await lookUpRendered(key);
    if (cached) {
      const validators = validatorsFrom(cached);
      return isFresh(c, validators) ? c.body(null, 304, validators) : servedFromCache(cached);
    }
    await next();
    if (await validateByDigest(c, POLLING_CACHE_CONTROL)) await sendKept(c, key, RECORD_BODY_LIFETIME_SECONDS);
  };
}

/**
 * Middleware for GET routes whose body has no version to read beforehand
 * (`/changes`: the last change-log page grows between head updates): after
 * the handler, a 200 gets a strong ETag digesting its body and
 * `cacheControl`, and becomes a 304 when the client's If-None-Match names
 * that ETag. It saves the client the transfer, not the server the reads.
 */
export function digestValidated(cacheControl: string): MiddlewareHandler<ReadEnv> {
  return async (c, next) => {
    await next();
    await validateByDigest(c, cacheControl);
  };
}

/** After a handler: gives a 200 its body's digest as ETag (and `cacheControl`), or answers 304 when that is the client's copy; true when the 200 stands. */
async function validateByDigest(c: Context<ReadEnv>, cacheControl: string): Promise<boolean> {
  if (c.res.status !== 200) return false;
  const digest = await sha256Hex(await c.res.clone().text());
  const validators = { ...(await validatorsOf({ revision: `body:${digest}`, updatedAt: null }, mediaTypeOf(c), new URL(c.req.url))), 'Cache-Control': cacheControl };
  if (isFresh(c, validators)) {
    // Replaced outright: assigning over a response would carry its headers (Content-Type, Content-Disposition) onto the 304.
    c.res = undefined;
    c.res = new Response(null, { status: 304, headers: validators });
    return false;
  }
  setAll(c.res.headers, validators);
  return true;
}

/** The tallies collection: the digest of its content and when that last changed, published with it in one value. */
export const talliesVersion: VersionOf = async (c) => {
  const tallies = await readTallies(c.env.EVENTS);
  c.set('tallies', tallies);
  return { revision: `tallies:${tallies?.digest ?? 'unpublished'}`, updatedAt: tallies?.updated_at ?? null };
};

/**
 * Middleware for GET routes not read from the index (`/tallies`), placed
 * after input validation: validators from `versionOf`, a 304 when they
 * match, no body cache (the value read is the body's only source).
 */
export function conditionalGet(versionOf: VersionOf): MiddlewareHandler<ReadEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const validators = await validatorsOf(await versionOf(c), mediaTypeOf(c), url);
    if (isFresh(c, validators)) return c.body(null, 304, validators);
    await next();
    if (c.res.status === 200) setAll(c.res.headers, validators);
  };
}

/** The response headers that describe one representation: a strong ETag, Last-Modified when known, and Cache-Control. */
type Validators = Record<string, string>;

/**
 * After the handler of a cached read: a 200 gets the validators of the index
 * revision its body was built from (the manifest `readIndex` used, else the
 * head the handler kept, e.g. a fresher one `/stats` moved to, else the head
 * read before) and is cached under that revision.
 */
async function sendAndKeep(c: Context<ReadEnv>, { head, validators, scope, lifetimeSeconds }: { head: IndexHead; validators: Validators; scope: ScopeOf; lifetimeSeconds: number }): Promise<void> {
  if (c.res.status !== 200) return;
  const url = new URL(c.req.url);
  const mediaType = mediaTypeOf(c);
  const builtFrom = indexVersion(c.get('manifest') ?? c.get('head') ?? head);
  const served = builtFrom.revision === indexVersion(head).revision ? validators : await validatorsOf(await scope(builtFrom), mediaType, url);
  setAll(c.res.headers, served);
  const key = renderedKey(c.env.CF_VERSION_METADATA.id, url, builtFrom.revision, mediaType);
  const published = c.get('publishedBody');
  if (published === undefined) await sendKept(c, key, lifetimeSeconds);
  else send(c, holdPublished(key, published, c.res, lifetimeSeconds));
}

/** Keeps the response built under `key` (keepRendered) and sends the copy it returns. */
async function sendKept(c: Context<ReadEnv>, key: string, lifetimeSeconds: number): Promise<void> {
  send(c, await keepRendered(c.executionCtx, key, c.res, lifetimeSeconds));
}

/**
 * Sends `response` in place of the one built, which it copies. `c.res` is
 * cleared first so that Hono takes it as it is (it has the same headers)
 * instead of wrapping it and copying them over.
 */
function send(c: Context<ReadEnv>, response: Response): void {
  c.res = undefined;
  c.res = response;
}

/** The later of two ISO 8601 times, either of which may be unknown. */
const later = (a: string | null, b: string | null): string | null => (a === null || (b !== null && b > a) ? b : a);

/** Digests of `event:<id>` values read lately, by the value itself (at most 4 MiB of them): a repeated record request is not digested again. */
const recentRecordDigests = new LRUCache<string, string>({ maxSize: 4 * 1024 * 1024, sizeCalculation: (_digest, text) => text.length * 2 + 128 });

/** The SHA-256 (hex) of a record's stored text, remembered for the texts read lately. */
async function recordDigest(text: string): Promise<string> {
  const known = recentRecordDigests.get(text);
  if (known !== undefined) return known;
  const digest = await sha256Hex(text);
  recentRecordDigests.set(text, digest);
  return digest;
}

/** Validators worked out lately, by version, media type and URL as requested: a repeated request is not digested again. */
const recentValidators = new LRUCache<string, Readonly<Validators>>({ max: 4_096 });

/** The validators of `version` for one representation of `url`: the ETag digests the version, the media type, the path and the canonical query. */
async function validatorsOf(version: DataVersion, mediaType: string, url: URL): Promise<Readonly<Validators>> {
  const memoKey = `${version.revision}\n${version.updatedAt}\n${mediaType}\n${url.pathname}${url.search}`;
  const known = recentValidators.get(memoKey);
  if (known !== undefined) return known;
  const etag = `"${(await sha256Hex(`${version.revision}\n${mediaType}\n${url.pathname}\n${canonicalQuery(url)}`)).slice(0, 40)}"`;
  const validators: Validators = { ETag: etag, 'Cache-Control': POLLING_CACHE_CONTROL };
  if (version.updatedAt) validators['Last-Modified'] = new Date(version.updatedAt).toUTCString();
  recentValidators.set(memoKey, Object.freeze(validators));
  return validators;
}

/** The validators a kept copy was sent with. */
function validatorsFrom(copy: RenderedCopy): Validators {
  const header = (name: string) => copy.headers.find(([key]) => key === name)?.[1];
  const validators: Validators = { ETag: header('etag') ?? '', 'Cache-Control': POLLING_CACHE_CONTROL };
  const lastModified = header('last-modified');
  if (lastModified) validators['Last-Modified'] = lastModified;
  return validators;
}

/** A kept copy, served as it was first sent. */
const servedFromCache = (copy: RenderedCopy): Response => new Response(copy.body, { status: copy.status, headers: copy.headers as [string, string][] });

function setAll(headers: Headers, validators: Validators): void {
  for (const [name, value] of Object.entries(validators)) headers.set(name, value);
}

/**
 * True when the client's copy is current (RFC 9110 §13.2.2): If-None-Match,
 * when present, decides alone, by weak comparison; otherwise
 * If-Modified-Since, at the one-second resolution of HTTP dates.
 */
function isFresh(c: Context<ReadEnv>, validators: Validators): boolean {
  const ifNoneMatch = c.req.header('If-None-Match');
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.trim() === '*' || (ifNoneMatch.match(/(?:W\/)?"[^"]*"/g) ?? []).some((tag) => tag.replace(/^W\//, '') === validators.ETag);
  }
  const ifModifiedSince = c.req.header('If-Modified-Since');
  const lastModified = validators['Last-Modified'];
  if (ifModifiedSince === undefined || lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && Date.parse(lastModified) <= since;
}
