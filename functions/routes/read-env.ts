/**
 * The Hono env of read routes, shared by the negotiation of representations
 * (negotiation.ts) and the validators and body cache (conditional.ts).
 */
import type { IndexHead, Manifest } from '../domain/layout.ts';
import type { Env } from '../env.ts';
import type { PublishedTallies, StoredEvent } from '../store/events-store.ts';

/**
 * The Hono env of read routes. What a body is built from is kept for the
 * handler: the index `manifest` that `readIndex` read (its revision is the
 * one the body's ETag names), the index `head` (read by `indexRead`; a read
 * that moves to a fresher head, such as `/stats`, keeps that one), the stored `record` of `/events/:id`, or the
 * published `tallies`; `mediaType` is the representation `negotiate`
 * (routes/negotiation.ts) chose for the request; `publishedBody` is the
 * body's text when it is a value published in KV as it is (the front page),
 * which the body cache keeps in memory only (routes/rendered-cache.ts).
 */
export type ReadEnv = {
  Bindings: Env;
  Variables: { manifest?: Manifest; head?: IndexHead; record?: StoredEvent | null; tallies?: PublishedTallies | null; mediaType?: string; publishedBody?: string };
};
