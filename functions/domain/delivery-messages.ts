/**
 * The messages of the webhook delivery queues, shared by the Coordinator
 * that queues them and the consumers that send them.
 */
import type { WebhookEventType } from './webhook-signing.ts';

/** A queued delivery: the exact payload bytes to sign and send, and where it belongs. */
export interface DeliveryMessage {
  msg_id: string;
  subscription_id: string;
  type: WebhookEventType;
  record_id: string | null;
  /** The record revision a record alert is about. */
  revision?: number;
  payload: string;
  /** Attempts made before this message was sent again by the outbox (a lost or unconfirmed message); absent on a first send. */
  prior_attempts?: number;
}

/** A delivery the main consumer gave up on, with why. */
export interface DeadLetter extends DeliveryMessage {
  reason: string;
  attempts: number;
}
