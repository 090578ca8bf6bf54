/**
 * Publishes the curated dataset bundled from data/ into KV: on a fresh
 * namespace it seeds everything; after data/ changes it writes only the
 * records that changed. A fingerprint of the bundle in KV makes the check one
 * read, and each isolate makes it once.
 */
import * as v from 'valibot';
import bundledEvents from '../../data/events.json';
import bundledTallies from '../../data/tallies.json';
import { EventInputSchema, TallySchema } from '../domain/schema.ts';
import { writeEvents, writeTallies } from '../store/events-store.ts';

/** KV key holding the fingerprint of the last bundle published. */
export const BUNDLE_FINGERPRINT_KEY = 'meta:bundle';

const published = new WeakMap<KVNamespace, string>();

async function bundleFingerprint(): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify([bundledEvents, bundledTallies]));
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Makes sure `kv` holds the bundled dataset, at time `now`. Returns true when
 * it wrote anything. Records added by other paths are left alone.
 */
export async function publishBundledDataset(kv: KVNamespace, now: string): Promise<boolean> {
  const fingerprint = await bundleFingerprint();
  if (published.get(kv) === fingerprint) return false;
  if ((await kv.get(BUNDLE_FINGERPRINT_KEY)) === fingerprint) {
    published.set(kv, fingerprint);
    return false;
  }
  const events = v.parse(v.array(EventInputSchema), bundledEvents);
  const tallies = v.parse(v.array(TallySchema), bundledTallies);
  await writeEvents(kv, events, now);
  await writeTallies(kv, tallies);
  await kv.put(BUNDLE_FINGERPRINT_KEY, fingerprint);
  published.set(kv, fingerprint);
  return true;
}
