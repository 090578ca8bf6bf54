/**
 * Webhook subscriptions: the body of `POST /subscriptions` and the test of
 * whether a record change concerns a subscription.
 *
 * `filters` are the filter parameters of `/events`, validated by the same
 * schema: values are strings as in a query string, and list parameters also
 * take arrays (as repeated query parameters do), so a subscriber can move a
 * working `/events` query into a subscription unchanged and get the same
 * records, or the same error naming the same parameter.
 */
import * as v from 'valibot';
import { toIndexEntry, type IndexEntry } from './layout.ts';
import { FilterQuerySchema, matchesFilter, type EventFilter } from './query.ts';
import type { Event } from './schema.ts';
import { checkWebhookTarget, type WebhookTargetOptions } from './webhook-targets.ts';
import type { RecordEventType } from './webhook-signing.ts';

/** Message types a subscription can ask for (every subscription can also be pinged). */
export const SUBSCRIBABLE_EVENT_TYPES = ['event.created', 'event.updated', 'event.deleted'] as const satisfies readonly RecordEventType[];

/** Longest accepted `description`. */
export const MAX_DESCRIPTION_LENGTH = 500;

/** A subscriber URL, refused with the reason from `checkWebhookTarget` and stored normalised. */
const webhookUrl = (targets: WebhookTargetOptions) =>
  v.pipe(
    v.string('must be a string'),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const check = checkWebhookTarget(dataset.value, targets);
      if (check.ok) return check.url;
      addIssue({ message: check.reason });
      return NEVER;
    }),
  );

/** A non-empty list of event types a subscription can ask for, given once each in SUBSCRIBABLE_EVENT_TYPES order. */
export const EventTypesSchema = v.pipe(
  v.array(v.picklist(SUBSCRIBABLE_EVENT_TYPES, `must be one of ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}`), 'must be an array of event types'),
  v.minLength(1, 'must name at least one event type'),
  v.transform((types) => SUBSCRIBABLE_EVENT_TYPES.filter((type) => types.includes(type))),
);

const Description = v.pipe(v.string('must be a string'), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(MAX_DESCRIPTION_LENGTH, `must be at most ${MAX_DESCRIPTION_LENGTH} characters`));

/**
 * The schema of a `POST /subscriptions` body under the given target rules
 * (production rules when none are given). Unknown fields are rejected by name;
 * `filters` defaults to none (every record) and `event_types` to every type,
 * and the output lists event types once each, in SUBSCRIBABLE_EVENT_TYPES order.
 */
export function subscriptionInputSchema(targets: WebhookTargetOptions = {}) {
  return v.strictObject({
    url: webhookUrl(targets),
    filters: v.optional(FilterQuerySchema, {}),
    event_types: v.optional(EventTypesSchema, () => [...SUBSCRIBABLE_EVENT_TYPES]),
    description: v.optional(Description),
  });
}

/** The `POST /subscriptions` body schema with production target rules (https to public hosts only). */
export const SubscriptionInputSchema = subscriptionInputSchema();

/** A validated subscription request. */
export type SubscriptionInput = v.InferOutput<typeof SubscriptionInputSchema>;

/** One of `SUBSCRIBABLE_EVENT_TYPES`. */
export type SubscribableEventType = (typeof SUBSCRIBABLE_EVENT_TYPES)[number];

/** What decides which changes a subscription hears of. */
export interface SubscriptionScope {
  filters: EventFilter;
  event_types: readonly SubscribableEventType[];
}

/**
 * True when a change of `eventType` to `record` (a full record or its index
 * entry) concerns the subscription: it asked for that type and the record
 * passes its filters exactly as `/events` would select it. For an update the
 * caller may test the previous version too, so that subscribers hear of a
 * record leaving their filter.
 */
export function subscriptionMatches(subscription: SubscriptionScope, record: Event | IndexEntry, eventType: SubscribableEventType): boolean {
  if (!subscription.event_types.includes(eventType)) return false;
  return matchesFilter('k' in record ? record : toIndexEntry(record), subscription.filters);
}

/**
 * True when a change of `eventType` concerns the subscription, as the live
 * fan-out and replays decide it: the version it made (for a retraction, the
 * last version) matches, or the version it replaced does (null when there is
 * none), so a subscriber hears of a record leaving its filter.
 */
export function changeConcerns(subscription: SubscriptionScope, record: Event, previous: Event | null, eventType: SubscribableEventType): boolean {
  return subscriptionMatches(subscription, record, eventType) || (previous !== null && subscriptionMatches(subscription, previous, eventType));
}
