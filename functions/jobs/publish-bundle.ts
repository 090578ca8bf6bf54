/**
 * The curated dataset bundled from data/: handed to the Coordinator, which
 * writes it into the truth when its fingerprint is new (only changed records
 * are written, and alerted, as any write is) and publishes it. Each isolate
 * hands it over at most once: it first looks for the fingerprint the
 * Coordinator published to KV, and otherwise asks the Coordinator, whose
 * SQLite decides.
 */
import * as v from 'valibot';
import bundledEvents from '../../data/events.json';
import bundledTallies from '../../data/tallies.json';
import { sha256Hex } from '../domain/digest.ts';
import { EventInputSchema, TallySchema } from '../domain/schema.ts';
import type { Env } from '../env.ts';
import { coordinator } from '../store/coordinator-stub.ts';
import type { Bundle } from '../store/coordinator.ts';
import { BUNDLE_FINGERPRINT_KEY } from '../store/events-store.ts';

/** Namespaces this isolate has seen the bundled dataset published in (the bundle is this isolate's, so it stays published there). */
const published = new WeakSet<KVNamespace>();
let bundle: Promise<Bundle> | undefined;

/** The bundled dataset, validated, with its fingerprint (computed once per isolate). */
function bundled(): Promise<Bundle> {
  bundle ??= (async () => ({
    fingerprint: await sha256Hex(JSON.stringify([bundledEvents, bundledTallies])),
    events: v.parse(v.array(EventInputSchema), bundledEvents),
    tallies: v.parse(v.array(TallySchema), bundledTallies),
  }))();
  return bundle;
}

/**
 * Makes sure the bundled dataset is in the truth and published, at most once
 * per isolate; `force` asks the Coordinator even when this isolate already
 * did (the cron's daily check). Returns true when the Coordinator wrote.
 */
export async function ensureBundlePublished(env: Env, now: string, force = false): Promise<boolean> {
  if (!force && published.has(env.EVENTS)) return false;
  const dataset = await bundled();
  if (!force && (await env.EVENTS.get(BUNDLE_FINGERPRINT_KEY)) === dataset.fingerprint) {
    published.add(env.EVENTS);
    return false;
  }
  const wrote = await coordinator(env).publishBundle(dataset, now);
  published.add(env.EVENTS);
  return wrote;
}

/** True once this isolate has seen the bundled dataset published in `kv`: requests then need not await `ensureBundlePublished`. */
export const bundlePublishedIn = (kv: KVNamespace): boolean => published.has(kv);
