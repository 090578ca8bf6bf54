/**
 * Reading a record as it is stored in KV: the text under `event:<id>` or
 * `event-version:<id>:<revision>` is only trusted once it parses as JSON,
 * passes `EventSchema` and carries the id of its key. Readers use this so an
 * invalid value is never served; reconciliation uses it to quarantine one.
 */
import * as v from 'valibot';
import { EventSchema, type Event } from './schema.ts';

/** A stored value that is a valid record of the expected id, or why it is not. */
export type StoredRecord = { ok: true; record: Event } | { ok: false; problem: string };

/** Parses and validates the text stored for record `id`. */
export function parseStoredRecord(text: string, id: string): StoredRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
  const result = v.safeParse(EventSchema, value);
  if (!result.success) return { ok: false, problem: `fails the schema: ${v.summarize(result.issues)}` };
  if (result.output.id !== id) return { ok: false, problem: `its id "${result.output.id}" does not match its key` };
  return { ok: true, record: result.output };
}
