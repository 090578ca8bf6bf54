/**
 * The body of a record alert (`event.created`, `event.updated`,
 * `event.deleted`), built in one place for the live fan-out
 * (store/alert-fanout.ts) and for replays (store/replay.ts), so a replayed
 * alert carries exactly what the original did. Pure: everything comes in as
 * arguments.
 */
import type { DeletedData, Tombstone } from './change-feed.ts';
import { withDateInterval } from './dates.ts';
import type { Event } from './schema.ts';
import { buildEnvelope, type RecordEventType } from './webhook-signing.ts';

/** The `data` of an `event.deleted` alert: the tombstone and the version it retracted, as `GET /events/:id` served it. */
export function deletedData(tombstone: Tombstone, lastVersion: Event): DeletedData {
  return { ...tombstone, last_version: withDateInterval(lastVersion) };
}

/**
 * The JSON body of a record alert: `{ type, timestamp, data }`. A created or
 * updated alert carries `record` as `GET /events/:id` serves it, timestamped
 * with its `updated_at`; an `event.deleted` carries `deleted` (its tombstone
 * and last version), timestamped with the retraction, and throws without it.
 */
export function recordAlertPayload(type: RecordEventType, record: Event, deleted?: DeletedData): string {
  if (type !== 'event.deleted') return JSON.stringify(buildEnvelope(type, withDateInterval(record), new Date(record.updated_at)));
  if (!deleted) throw new TypeError(`an event.deleted alert of ${record.id} needs its tombstone`);
  return JSON.stringify(buildEnvelope(type, deleted, new Date(deleted.retracted_at)));
}
