/**
 * Conditional GET for the read endpoints. Validators come from what the data
 * behind an endpoint is at (the index manifest's epoch and revision, a
 * record's digest, or the tallies' digest) rather than from the body, so a
 * client that already has the current representation gets its 304 after one
 * small KV read, before any body is built. Everything a manifest revision
 * names is immutable, so one ETag never stands for two different bodies.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { withDateInterval } from '../domain/dates.ts';
import { sha256Hex } from '../domain/digest.ts';
import { canonicalQuery } from '../domain/query.ts';
import type { Manifest } from '../domain/layout.ts';
import type { Env } from '../env.ts';
import { readEvent, readManifest, readTallies, withFreshManifest, type PublishedTallies, type StoredEvent } from '../store/events-store.ts';

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
 * The Hono env of read routes. What the validators were computed from is
 * kept for the handler, so it reads it once and builds the body from the
 * same data the ETag names: the index `manifest`, the stored `record` of
 * `/events/:id`, or the published `tallies`. `version` is what the
 * validators sent with a 200 describe; a handler that had to move to a newer
 * manifest updates it (see `readIndex`). `representation` is set on routes
 * that serve HTML pages too (routes/negotiation.ts), and is part of the ETag.
 */
export type ReadEnv = {
  Bindings: Env;
  Variables: { manifest?: Manifest; record?: StoredEvent | null; tallies?: PublishedTallies | null; version?: DataVersion; representation?: string };
};

/** Reads the `DataVersion` behind a request. */
export type VersionOf = (c: Context<ReadEnv>) => Promise<DataVersion>;

/**
 * The version of an index manifest: its storage epoch and revision (never
 * reused for other content), and when the index last changed. That is the
 * write's time, not the newest record's `updated_at`, so a record that
 * arrives with an older timestamp (curated data) still moves Last-Modified.
 */
const manifestVersion = (manifest: Manifest): DataVersion => ({
  revision: `events:${manifest.epoch}:${manifest.revision}`,
  updatedAt: manifest.changed_at ?? manifest.updated_at,
});

/** The events dataset, from the published manifest. */
export const datasetVersion: VersionOf = async (c) => {
  const manifest = await readManifest(c.env.EVENTS);
  c.set('manifest', manifest);
  return manifestVersion(manifest);
};

/**
 * Runs a read of the index from the manifest the validators came from,
 * moving to a fresher manifest if that one names keys this location cannot
 * read yet (then the validators follow the manifest actually used).
 */
export async function readIndex<T>(c: Context<ReadEnv>, read: (manifest: Manifest) => Promise<T>): Promise<T> {
  const known = c.get('manifest') ?? (await readManifest(c.env.EVENTS));
  const { value, manifest } = await withFreshManifest(c.env.EVENTS, known, read);
  if (manifest !== known) {
    c.set('manifest', manifest);
    c.set('version', manifestVersion(manifest));
  }
  return value;
}

/**
 * One record, from the text stored under `event:<id>`: the body served (the
 * record with its date interval) is built here, and the validators are its
 * digest and the record's `updated_at`, so the ETag changes whenever the
 * body does, including when the way it is built changes.
 */
export const recordVersion: VersionOf = async (c) => {
  const stored = await readEvent(c.env.EVENTS, routeRecordId(c));
  const served = stored ? { record: stored.record, text: JSON.stringify(withDateInterval(stored.record)) } : null;
  c.set('record', served);
  return { revision: `record:${served ? await sha256Hex(served.text) : 'none'}`, updatedAt: stored?.record.updated_at ?? null };
};

/** The record id of an `/events/:id` route; `<id>.json`, the record's JSON link, names the same record. */
export const routeRecordId = (c: Context<ReadEnv>): string => (c.req.param('id') ?? '').replace(/\.json$/, '');

/** A record's page: the record, and the index its related and nearby records are read from. */
export const recordPageVersion: VersionOf = async (c) => {
  const [record, dataset] = await Promise.all([recordVersion(c), datasetVersion(c)]);
  const updatedAt = [record.updatedAt, dataset.updatedAt].reduce<string | null>((latest, each) => (each !== null && (latest === null || each > latest) ? each : latest), null);
  return { revision: `${record.revision}:${dataset.revision}`, updatedAt };
};

/** The tallies collection: the digest of its content and when that last changed, published with it in one value. */
export const talliesVersion: VersionOf = async (c) => {
  const tallies = await readTallies(c.env.EVENTS);
  c.set('tallies', tallies);
  return { revision: `tallies:${tallies?.digest ?? 'unpublished'}`, updatedAt: tallies?.updated_at ?? null };
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
    const url = new URL(c.req.url);
    const validatorsOf = async (version: DataVersion) => {
      const representation = c.get('representation');
      const named = `${version.revision}\n${url.pathname}\n${canonicalQuery(url)}${representation ? `\n${representation}` : ''}`;
      const etag = `"${(await sha256Hex(named)).slice(0, 40)}"`;
      const validators: Record<string, string> = { ETag: etag, 'Cache-Control': cacheControl };
      if (version.updatedAt) validators['Last-Modified'] = new Date(version.updatedAt).toUTCString();
      return validators;
    };
    const version = await versionOf(c);
    c.set('version', version);
    const validators = await validatorsOf(version);
    if (isFresh(c.req.header('If-None-Match'), c.req.header('If-Modified-Since'), validators.ETag!, version.updatedAt)) return c.body(null, 304, validators);
    await next();
    if (c.res.status !== 200) return;
    const served = c.get('version') ?? version;
    for (const [name, value] of Object.entries(served === version ? validators : await validatorsOf(served))) c.res.headers.set(name, value);
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
