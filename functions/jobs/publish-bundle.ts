/**
 * Publishes the curated dataset bundled from data/ into KV: on a fresh
 * namespace it seeds everything; after data/ changes only the changed
 * records are written (and alerted, as any write is). A fingerprint of the
 * bundle in KV makes the check one read, and each isolate makes it once.
 */
import * as v from 'valibot';
import bundledEvents from '../../data/events.json';
import bundledTallies from '../../data/tallies.json';
import { sha256Hex } from '../domain/digest.ts';
import { EventInputSchema, TallySchema, type EventInput } from '../domain/schema.ts';
import { writeTallies } from '../store/events-store.ts';

/** KV key holding the fingerprint of the last bundle published. */
export const BUNDLE_FINGERPRINT_KEY = 'meta:bundle';

const published = new WeakMap<KVNamespace, string>();
let fingerprint: Promise<string> | undefined;

function bundleFingerprint(): Promise<string> {
  fingerprint ??= sha256Hex(JSON.stringify([bundledEvents, bundledTallies]));
  return fingerprint;
}

/** True when `kv` already holds the bundled dataset (one KV read per isolate at most). */
export async function bundleIsPublished(kv: KVNamespace): Promise<boolean> {
  const wanted = await bundleFingerprint();
  if (published.get(kv) === wanted) return true;
  if ((await kv.get(BUNDLE_FINGERPRINT_KEY)) !== wanted) return false;
  published.set(kv, wanted);
  return true;
}

/**
 * Makes sure `kv` holds the bundled dataset at time `now`: events go through
 * `writeEvents` (the serialised writer), tallies are replaced. Returns true when it wrote.
 * Records added by other paths are left alone.
 */
export async function publishBundledDataset(kv: KVNamespace, now: string, writeEvents: (records: EventInput[]) => Promise<unknown>): Promise<boolean> {
  if (await bundleIsPublished(kv)) return false;
  await writeEvents(v.parse(v.array(EventInputSchema), bundledEvents));
  await writeTallies(kv, v.parse(v.array(TallySchema), bundledTallies), now);
  await kv.put(BUNDLE_FINGERPRINT_KEY, await bundleFingerprint());
  published.set(kv, await bundleFingerprint());
  return true;
}
