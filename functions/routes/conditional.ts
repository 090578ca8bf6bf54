/**
 * Conditional GET for the read endpoints. Validators come from what the data
 * behind an endpoint is at (the index manifest's revision, or the tallies'
 * digest) rather than from the body, so a client that already has the
 * current representation gets its 304 after one small KV read, before any
 * body is built.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { sha256Hex } from '../domain/digest.ts';
import { canonicalQuery } from '../domain/query.ts';
import type { Manifest } from '../domain/layout.ts';
import type { Env } from '../env.ts';
import { readManifest, readTalliesVersion } from '../store/events-store.ts';

/** Cache-Control for lists, feeds, exports and stats: fresh for a minute, then served stale for five while revalidated, which suits feed polling. */
export const POLLING_CACHE_CONTROL = 'public, max-age=60, stale-while-revalidate=300';

/** The state of the data an endpoint is built from. */
export interface DataVersion {
  /** Changes whenever that data changes. */
  revision: string;
  /** When that data last changed (ISO 8601); null when unknown. */
  updatedAt: string | null;
}

/**
 * The Hono env of read routes. `manifest` is the index manifest the validators
 * were computed from, kept for the handler so it reads the manifest once and
 * builds the body from the same revision the ETag names.
 */
export type ReadEnv = { Bindings: Env; Variables: { manifest?: Manifest } };

/** Reads the `DataVersion` behind a request. */
export type VersionOf = (c: Context<ReadEnv>) => Promise<DataVersion>;

/**
 * The events dataset: the manifest's revision (bumped by every write that
 * changes a record) and when the index last changed. That is the write's
 * time, not the newest record's `updated_at`, so a record that arrives with
 * an older timestamp (curated data) still moves Last-Modified.
 */
export const datasetVersion: VersionOf = async (c) => {
  const manifest = await readManifest(c.env.EVENTS);
  c.set('manifest', manifest);
  return { revision: `events:${manifest.revision}`, updatedAt: manifest.changed_at ?? manifest.updated_at };
};

/** The tallies collection: the digest of its content and when that last changed. */
export const talliesVersion: VersionOf = async (c) => {
  const version = await readTalliesVersion(c.env.EVENTS);
  return { revision: `tallies:${version?.digest ?? 'unversioned'}`, updatedAt: version?.updated_at ?? null };
};

/**
 * Middleware for GET routes, placed after input validation: a strong ETag
 * derived from `versionOf`, the path and the canonical query; Last-Modified;
 * Cache-Control. A matching If-None-Match (or, when that is absent, an
 * If-Modified-Since not older than Last-Modified) is answered 304 with no
 * body. Only 200 responses carry the validators.
 */
export function conditionalGet(versionOf: VersionOf, cacheControl = POLLING_CACHE_CONTROL): MiddlewareHandler<ReadEnv> {
  return async (c, next) => {
    const version = await versionOf(c);
    const url = new URL(c.req.url);
    const etag = `"${(await sha256Hex(`${version.revision}\n${url.pathname}\n${canonicalQuery(url)}`)).slice(0, 40)}"`;
    const validators: Record<string, string> = { ETag: etag, 'Cache-Control': cacheControl };
    if (version.updatedAt) validators['Last-Modified'] = new Date(version.updatedAt).toUTCString();

    if (isFresh(c.req.header('If-None-Match'), c.req.header('If-Modified-Since'), etag, version.updatedAt)) return c.body(null, 304, validators);
    await next();
    if (c.res.status === 200) for (const [name, value] of Object.entries(validators)) c.res.headers.set(name, value);
  };
}

/**
 * True when the client's copy is current (RFC 9110 §13.2.2): If-None-Match,
 * when present, decides alone, by weak comparison; otherwise
 * If-Modified-Since, at the one-second resolution of HTTP dates.
 */
function isFresh(ifNoneMatch: string | undefined, ifModifiedSince: string | undefined, etag: string, updatedAt: string | null): boolean {
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.trim() === '*' || (ifNoneMatch.match(/(?:W\/)?"[^"]*"/g) ?? []).some((tag) => tag.replace(/^W\//, '') === etag);
  }
  if (ifModifiedSince === undefined || updatedAt === null) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && Math.floor(Date.parse(updatedAt) / 1000) * 1000 <= since;
}
