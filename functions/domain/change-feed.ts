/**
 * The change feed and retractions, as pure definitions: the kinds of change,
 * the tombstone a retraction leaves, one change as `/changes` serves it, the
 * KV layout of the published change log (immutable pages of
 * CHANGES_PAGE_SIZE changes plus a head key), opaque cursors that carry the
 * storage epoch, and the validation of `/changes` and of a retraction body.
 *
 * Changes are numbered 1, 2, 3… (`seq`) in commit order within a storage
 * epoch. Page `n` holds seqs `n * CHANGES_PAGE_SIZE + 1` to
 * `(n + 1) * CHANGES_PAGE_SIZE`; only the
 * last page grows (it is republished as changes arrive, always as a prefix
 * of its final content), every earlier page is complete and never changes.
 */
import * as v from 'valibot';
import { withDateInterval, type DateInterval } from './dates.ts';
import { QueryValue } from './query.ts';
import { cleanText, type Event } from './schema.ts';

/** What a change did to a record. */
export const CHANGE_KINDS = ['created', 'updated', 'retracted'] as const;

/** One of `CHANGE_KINDS`. */
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** What is left of a retracted record: served by `GET /events/:id` with 410, carried by `/changes` and `event.deleted`. */
export interface Tombstone {
  id: string;
  /** The revision of the retraction itself: one above the last version's. */
  revision: number;
  retracted_at: string;
  reason: string | null;
}

/** One change as `/changes` serves it: the record as of the change (created, updated) or its tombstone (retracted). */
export interface ChangeEntry {
  kind: ChangeKind;
  id: string;
  revision: number;
  /** When the change was committed (ISO 8601). */
  changed_at: string;
  record: (Event & DateInterval) | null;
  tombstone: Tombstone | null;
}

/** Changes per published page. */
export const CHANGES_PAGE_SIZE = 100;
/** Largest `limit` of `/changes` (so a page spans at most two published pages). */
export const MAX_CHANGES_LIMIT = CHANGES_PAGE_SIZE;
/** Longest retraction `reason`. */
export const MAX_REASON_LENGTH = 500;

/** KV key prefix of everything the change log publishes. */
export const CHANGES_KEY_PREFIX = 'changes:';
/** KV key of the change log's head: the epoch readers page in and the number of its last page. */
export const CHANGES_HEAD_KEY = `${CHANGES_KEY_PREFIX}head`;
/** KV key prefix of change pages. */
export const CHANGES_PAGE_PREFIX = `${CHANGES_KEY_PREFIX}page:`;
/** KV key of page `page` of the change log of storage `epoch`. */
export const changesPageKey = (epoch: string, page: number): string => `${CHANGES_PAGE_PREFIX}${epoch}:${page}`;
/** KV key of a record's tombstone (while it is retracted). */
export const tombstoneKey = (id: string): string => `tombstone:${id}`;

/** The change log's head as published. */
export interface ChangesHead {
  epoch: string;
  /** The page the newest change is on (republished when a page is started). */
  last_page: number;
}

/** A change as a published page holds it: the served entry and its number. */
export type PublishedChange = ChangeEntry & { seq: number };

/** The page that holds change `seq` (1-based). */
export const pageOfSeq = (seq: number): number => Math.floor((seq - 1) / CHANGES_PAGE_SIZE);

/** A change entry from what the log stores: the record version's text, or the tombstone's. */
export function changeEntry(row: { kind: ChangeKind; record_id: string; revision: number; at: string; body: string }): ChangeEntry {
  const { kind, record_id: id, revision, at: changed_at } = row;
  if (kind === 'retracted') return { kind, id, revision, changed_at, record: null, tombstone: JSON.parse(row.body) as Tombstone };
  return { kind, id, revision, changed_at, record: withDateInterval(JSON.parse(row.body) as Event), tombstone: null };
}

/** A position in the change log: after change `seq` of storage `epoch`. */
export interface ChangesCursor {
  epoch: string;
  seq: number;
}

/** Encodes a change-log position as an opaque cursor. */
export function encodeChangesCursor(cursor: ChangesCursor): string {
  return btoa(JSON.stringify({ e: cursor.epoch, s: cursor.seq })).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes a cursor made by `encodeChangesCursor`; null when it is not one. */
export function decodeChangesCursor(text: string): ChangesCursor | null {
  try {
    const parsed = JSON.parse(atob(text.replace(/-/g, '+').replace(/_/g, '/'))) as { e?: unknown; s?: unknown } | null;
    if (typeof parsed?.e !== 'string' || !/^[0-9a-z]{1,32}$/.test(parsed.e)) return null;
    if (typeof parsed.s !== 'number' || !Number.isSafeInteger(parsed.s) || parsed.s < 0) return null;
    return { epoch: parsed.e, seq: parsed.s };
  } catch {
    return null;
  }
}

const once = v.pipe(
  QueryValue,
  v.check((value) => typeof value === 'string', 'must be given once'),
  v.transform((value) => value as string),
);

const INVALID_CURSOR = 'is not a valid cursor: use next from a previous page, or no since to start from the first change';

/** Parameters of `GET /changes`: `since` (a cursor, absent: from the first change) and `limit`. Unknown parameters are refused by name. */
export const ChangesQuerySchema = v.strictObject({
  since: v.optional(
    v.pipe(
      once,
      v.maxLength(200, INVALID_CURSOR),
      v.transform(decodeChangesCursor),
      v.check((cursor) => cursor !== null, INVALID_CURSOR),
      v.transform((cursor) => cursor as ChangesCursor),
    ),
  ),
  limit: v.optional(
    v.pipe(
      once,
      v.regex(/^\d{1,4}$/, `must be a whole number from 1 to ${MAX_CHANGES_LIMIT}`),
      v.transform(Number),
      v.minValue(1, `must be a whole number from 1 to ${MAX_CHANGES_LIMIT}`),
      v.maxValue(MAX_CHANGES_LIMIT, `must be a whole number from 1 to ${MAX_CHANGES_LIMIT}`),
    ),
    String(MAX_CHANGES_LIMIT),
  ),
});

/** The body of `DELETE /events/:id`: optional, with an optional `reason` (single-line clean text). Unknown fields are refused by name. */
export const RetractionBodySchema = v.strictObject({ reason: v.optional(cleanText(MAX_REASON_LENGTH)) });

/** What a retraction alert (`event.deleted`) carries: the tombstone and the last version, so receivers can apply their own filters. */
export interface DeletedData extends Tombstone {
  last_version: Event & DateInterval;
}
