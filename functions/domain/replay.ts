/**
 * Replays of webhook alerts (`POST /subscriptions/:id/replay`): the request
 * body and its limits, which change kinds each event type stands for, and
 * the alert a change of the change log made, worked out the way the live
 * fan-out worked it out when the change was committed. Pure: the time the
 * default `until` stands for comes in as an argument.
 */
import * as v from 'valibot';
import { recordAlertPayload, deletedData } from './alert-payload.ts';
import type { ChangeKind, Tombstone } from './change-feed.ts';
import { Rfc3339TimeSchema } from './query.ts';
import type { Event } from './schema.ts';
import { EventTypesSchema, type SubscribableEventType } from './subscription.ts';

/** The longest window one replay may cover. */
export const MAX_REPLAY_WINDOW_DAYS = 31;
/** Replays one subscription may have under way at once. */
export const MAX_REPLAYS_UNDER_WAY = 3;

const DAY_MS = 86_400_000;


/**
 * The body of `POST /subscriptions/:id/replay` for a request made at `now`:
 * `since` (required) and `until` (default: `now`) bound the window of commit
 * times [since, until), at most MAX_REPLAY_WINDOW_DAYS long; `event_types`
 * (default: the subscription's) narrows the types replayed. Unknown fields
 * are refused by name; a bad window names `until`.
 */
export function replayRequestSchema(now: Date) {
  return v.pipe(
    v.strictObject({
      since: Rfc3339TimeSchema,
      until: v.optional(Rfc3339TimeSchema, () => now.toISOString()),
      event_types: v.optional(EventTypesSchema),
    }),
    v.forward(
      v.check(({ since, until }) => until > since, (issue) => `must be after since (${(issue.input as { since: string }).since}); it defaults to now`),
      ['until'],
    ),
    v.forward(
      v.check(({ since, until }) => Date.parse(until) - Date.parse(since) <= MAX_REPLAY_WINDOW_DAYS * DAY_MS, `must be at most ${MAX_REPLAY_WINDOW_DAYS} days after since: replay a longer time in several requests`),
      ['until'],
    ),
  );
}

/** A validated replay request. */
export type ReplayRequest = v.InferOutput<ReturnType<typeof replayRequestSchema>>;

/** The change kind each event type alerts. */
export const KIND_OF_EVENT_TYPE: Record<SubscribableEventType, ChangeKind> = { 'event.created': 'created', 'event.updated': 'updated', 'event.deleted': 'retracted' };

/** A logged change, as the change log keeps it. */
export interface LoggedChangeRow {
  kind: ChangeKind;
  record_id: string;
  revision: number;
  /** The record version's text, or the tombstone's. */
  body: string;
}

/** The alert a change made: its type, the versions the subscription's filters were tested on, and its payload. */
export interface ChangeAlert {
  type: SubscribableEventType;
  /** The version the change made (for a retraction: the last version, numbered with the retraction's revision). */
  record: Event;
  /** The version an update replaced; null for a new record, a restore and a retraction. */
  previous: Event | null;
  payload: string;
}

/**
 * The alert `change` made when it was committed, given the change of the
 * same record logged just before it (`before`, null when there is none), as
 * the live fan-out made it: a creation is `event.created`; an update is
 * `event.updated`, tested on the new version and on the one it replaced (none
 * when it restored a retracted record); a retraction is `event.deleted`,
 * tested on the last version and carrying it with the tombstone. Null for a
 * retraction whose last version is not in the log.
 */
export function alertOfChange(change: LoggedChangeRow, before: LoggedChangeRow | null): ChangeAlert | null {
  const version = before !== null && before.kind !== 'retracted' ? (JSON.parse(before.body) as Event) : null;
  if (change.kind === 'retracted') {
    if (version === null) return null;
    const tombstone = JSON.parse(change.body) as Tombstone;
    const record = { ...version, revision: tombstone.revision };
    return { type: 'event.deleted', record, previous: null, payload: recordAlertPayload('event.deleted', record, deletedData(tombstone, version)) };
  }
  const record = JSON.parse(change.body) as Event;
  const type = change.kind === 'created' ? 'event.created' : 'event.updated';
  return { type, record, previous: change.kind === 'created' ? null : version, payload: recordAlertPayload(type, record) };
}
