/**
 * Signing of webhook deliveries after Standard Webhooks
 * (https://www.standardwebhooks.com): subscription secrets `whsec_<base64>`,
 * the `v1,<base64 HMAC-SHA256>` signature of `<msg id>.<timestamp>.<body>`,
 * the three `webhook-*` headers, the JSON envelope every delivery carries and
 * the deterministic message id that lets a receiver drop duplicates.
 *
 * Pure apart from Web Crypto: time, secrets and random bytes come in as
 * arguments, so the same inputs always give the same headers.
 */
import type { DeletedData } from './change-feed.ts';
import type { Event } from './schema.ts';

/** Prefix of every subscription secret, as Standard Webhooks libraries expect. */
export const SECRET_PREFIX = 'whsec_';

/** Random bytes in a generated secret (256 bits, within the 24–64 bytes the standard asks for). */
export const SECRET_BYTES = 32;

/** Types of webhook message: a record was added, changed or retracted, or a test delivery. */
export const WEBHOOK_EVENT_TYPES = ['event.created', 'event.updated', 'event.deleted', 'ping'] as const;

/** One of `WEBHOOK_EVENT_TYPES`. */
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The message types that carry a record. */
export type RecordEventType = Exclude<WebhookEventType, 'ping'>;

/** What a `ping` delivery carries: which subscription is being tested. */
export interface PingData {
  subscription_id: string;
}

/** The `data` of each message type. */
export interface WebhookData {
  'event.created': Event;
  'event.updated': Event;
  'event.deleted': DeletedData;
  ping: PingData;
}

/** The JSON body of every delivery. `timestamp` is when the change happened (ISO 8601), not when this attempt was sent. */
export type WebhookEnvelope<T extends WebhookEventType = WebhookEventType> = {
  [K in T]: { type: K; timestamp: string; data: WebhookData[K] };
}[T];

/** The headers of a signed delivery. */
export interface WebhookHeaders {
  'content-type': 'application/json';
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** What a signature covers. `timestamp` is the send time of this attempt: a `Date` or whole Unix seconds. */
export interface SignInput {
  secret: string;
  msgId: string;
  timestamp: Date | number;
  body: string;
}

/** Base64 (standard alphabet, padded) of `bytes`. */
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * A new subscription secret: `whsec_` + base64 of SECRET_BYTES random bytes.
 * Pass `random` to make it reproducible; it must hold exactly SECRET_BYTES bytes.
 */
export function generateSecret(random: Uint8Array = crypto.getRandomValues(new Uint8Array(SECRET_BYTES))): string {
  if (random.length !== SECRET_BYTES) throw new RangeError(`a secret needs ${SECRET_BYTES} random bytes, got ${random.length}`);
  return SECRET_PREFIX + toBase64(random);
}

/** The HMAC key of a secret, with or without the `whsec_` prefix; throws when it is not non-empty base64. */
function secretKey(secret: string): Uint8Array {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  let binary: string;
  try {
    binary = atob(encoded);
  } catch {
    throw new TypeError('webhook secret is not base64');
  }
  if (binary.length === 0) throw new TypeError('webhook secret is empty');
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/** Whole Unix seconds of a timestamp given as a `Date` or as seconds. */
function unixSeconds(timestamp: Date | number): number {
  const seconds = typeof timestamp === 'number' ? timestamp : Math.floor(timestamp.getTime() / 1000);
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new RangeError('webhook timestamp must be whole, non-negative Unix seconds');
  return seconds;
}

/** The HMAC-SHA256 signing key of a secret. */
const importSecret = (secret: string): Promise<CryptoKey> => crypto.subtle.importKey('raw', secretKey(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);

/** The Standard Webhooks signature `v1,<base64 HMAC-SHA256(key, "<msgId>.<timestamp>.<body>")>`, with an imported key. */
async function signWithKey(key: CryptoKey, { msgId, timestamp, body }: Omit<SignInput, 'secret'>): Promise<string> {
  const signed = new TextEncoder().encode(`${msgId}.${unixSeconds(timestamp)}.${body}`);
  return `v1,${toBase64(new Uint8Array(await crypto.subtle.sign('HMAC', key, signed)))}`;
}

/** What a delivery's headers are made from: `secret` may list several secrets while one is being rotated. */
export type HeadersInput = Omit<SignInput, 'secret'> & { secret: string | readonly string[] };

/** Makes the headers of delivery attempts; see `webhookSigner`. */
export type WebhookSigner = (input: HeadersInput) => Promise<WebhookHeaders>;

/**
 * A maker of delivery headers that imports each secret's key once, for a
 * batch of deliveries that share secrets. Each secret listed signs, and the
 * receiver accepts any match. Keep it no longer than the batch: it holds the
 * keys in memory.
 */
export function webhookSigner(): WebhookSigner {
  const keys = new Map<string, Promise<CryptoKey>>();
  const keyOf = (secret: string): Promise<CryptoKey> => {
    let key = keys.get(secret);
    if (key === undefined) {
      key = importSecret(secret);
      keys.set(secret, key);
    }
    return key;
  };
  return async (input) => {
    const secrets = typeof input.secret === 'string' ? [input.secret] : input.secret;
    if (secrets.length === 0) throw new TypeError('webhook headers need at least one secret');
    const signatures = await Promise.all(secrets.map(async (secret) => signWithKey(await keyOf(secret), input)));
    return {
      'content-type': 'application/json',
      'webhook-id': input.msgId,
      'webhook-timestamp': String(unixSeconds(input.timestamp)),
      'webhook-signature': signatures.join(' '),
    };
  };
}


/** The envelope of a message of `type`, for a change that happened at `occurredAt`. */
export function buildEnvelope<T extends WebhookEventType>(type: T, data: WebhookData[T], occurredAt: Date): WebhookEnvelope<T> {
  return { type, timestamp: occurredAt.toISOString(), data } as WebhookEnvelope<T>;
}

/**
 * What a message id is derived from. A record message is one revision of one
 * record to one subscription; a ping is one test request, named by when it was made.
 */
export type MessageSubject =
  | { subscriptionId: string; type: RecordEventType; recordId: string; revision: number }
  | { subscriptionId: string; type: 'ping'; requestedAt: Date };

/**
 * The `webhook-id` of a message: `msg_` + 32 hex digits of SHA-256 over its
 * subject. Retries and duplicate enqueues of the same message get the same id,
 * so receivers can de-duplicate on it.
 */
export async function webhookMessageId(subject: MessageSubject): Promise<string> {
  const parts =
    subject.type === 'ping'
      ? [subject.subscriptionId, subject.type, subject.requestedAt.toISOString()]
      : [subject.subscriptionId, subject.type, subject.recordId, subject.revision];
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(parts))));
  return `msg_${Array.from(digest.subarray(0, 16), (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}
