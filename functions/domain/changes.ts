/**
 * Change detection: decides whether a submitted record creates, changes or
 * repeats the stored one, and stamps revision and timestamps accordingly.
 */
import type { Event, EventInput } from './schema.ts';

/** What writing a record did. */
export type RecordChange = 'created' | 'updated' | 'unchanged';

/** Fields the server maintains; they do not count as content. */
const BOOKKEEPING = new Set(['revision', 'created_at', 'updated_at']);

/** JSON of a record's content with keys sorted, for comparing two versions. */
export function contentFingerprint(record: EventInput): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.keys(value)
          .filter((key) => !BOOKKEEPING.has(key))
          .sort()
          .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
      );
    }
    return value;
  };
  return JSON.stringify(canonical(record));
}

/**
 * Merges a submitted record with the stored one (null when new) at time `now`.
 * A new record keeps timestamps it brings (curated data) or gets `now`; a
 * changed one keeps `created_at`, gets `updated_at = now` and the next revision;
 * an identical one is left as stored.
 */
export function mergeRecord(stored: Event | null, incoming: EventInput, now: string): { record: Event; change: RecordChange } {
  if (!stored) {
    const created = incoming.created_at ?? now;
    return { record: { ...incoming, revision: 1, created_at: created, updated_at: incoming.updated_at ?? created }, change: 'created' };
  }
  if (contentFingerprint(stored) === contentFingerprint(incoming)) return { record: stored, change: 'unchanged' };
  return {
    record: { ...incoming, revision: stored.revision + 1, created_at: stored.created_at, updated_at: now > stored.updated_at ? now : stored.updated_at },
    change: 'updated',
  };
}
