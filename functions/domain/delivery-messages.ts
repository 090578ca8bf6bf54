/**
 * The messages of the webhook delivery queues, shared by the Coordinator
 * that queues them and the consumers that send them.
 */
import type { WebhookEventType } from './webhook-signing.ts';
import type { WEBSUB_NOTIFICATION } from './websub.ts';

/**
 * A queued delivery: the exact payload bytes to sign and send, and where it
 * belongs. A record alert is queued by reference: its `payload` is empty and
 * the consumer takes the payload of (`record_id`, `revision`) from the
 * Coordinator when it sends it, so a message is a few hundred bytes whatever
 * the record. Pings and redelivered dead letters carry their payload.
 */
export interface DeliveryMessage {
  msg_id: string;
  subscription_id: string;
  type: WebhookEventType | typeof WEBSUB_NOTIFICATION;
  record_id: string | null;
  /** The record revision a record alert is about. */
  revision?: number;
  /** The payload to sign and send; empty for a record alert queued by reference. */
  payload: string;
  /** A WebSub notification's topic URL (its feed is rendered when it is sent); absent on webhook messages. */
  topic?: string;
  /** The replay that queued this record alert again (POST /subscriptions/:id/replay); absent on its first sending. */
  replay_id?: string;
  /** Attempts made before this message was sent again by the outbox (a lost or unconfirmed message); absent on a first send. */
  prior_attempts?: number;
}

/** A delivery the main consumer gave up on, with why. */
export interface DeadLetter extends DeliveryMessage {
  reason: string;
  attempts: number;
}

/** A record alert queued by reference, whose payload the consumer takes from the Coordinator. */
export type ReferenceMessage = DeliveryMessage & { record_id: string; revision: number };

/** Whether a message is a record alert queued by reference (empty payload, record and revision named). */
export const isReference = (message: DeliveryMessage): message is ReferenceMessage =>
  message.payload === '' && message.record_id !== null && message.revision !== undefined;

/** The key of a record revision's alert payload in a delivery plan. */
export const payloadKey = (recordId: string, revision: number): string => `${recordId}@${revision}`;

/** A WebSub content distribution queued by reference: the subscription (`ws_…`), the topic and the dataset revision that changed it. */
export type WebSubMessage = DeliveryMessage & { type: typeof WEBSUB_NOTIFICATION; topic: string; revision: number };

/** Whether a message is a WebSub content distribution. */
export const isWebSubMessage = (message: DeliveryMessage): message is WebSubMessage => message.type === 'websub.notification' && message.topic !== undefined && message.revision !== undefined;
