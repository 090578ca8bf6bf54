/**
 * strikewire as its own W3C WebSub hub (https://www.w3.org/TR/websub/): the
 * hub's limits, the `POST /websub` form and its validation (a topic is any
 * feed URL of this origin, its query validated exactly as the feed route
 * validates it; a callback is judged by the webhook target rules), the
 * verification request, the content distribution headers and signature,
 * and the queue message of a notification.
 */
import * as v from 'valibot';
import { FEED_FORMATS, FEED_MEDIA_TYPES, FEED_PATHS, HUB_PATH, type FeedFormat } from './feed.ts';
import { FeedQuerySchema, queryObject, type EventFilter } from './query.ts';
import { sha256Hex } from './digest.ts';
import { checkWebhookTarget, type WebhookTargetOptions } from './webhook-targets.ts';

/** The hub's path on this origin (every feed advertises it). */
export const WEBSUB_PATH = HUB_PATH;

/** The hub's limits, documented in the README ("WebSub"); tests may lower them. */
export const WEBSUB_LIMITS = {
  /** Shortest lease granted, in seconds (a shorter request is raised to it). */
  minLeaseSeconds: 3_600,
  /** Longest lease granted (30 days; a longer request is lowered to it). */
  maxLeaseSeconds: 30 * 86_400,
  /** Lease when `hub.lease_seconds` is not given (10 days). */
  defaultLeaseSeconds: 10 * 86_400,
  /** Verified subscriptions one callback host may hold. */
  perCallbackHost: 25,
  /** Verified subscriptions the hub holds in all. */
  total: 2_000,
  /** Subscribe and unsubscribe requests one client IP may make per window. */
  requestsPerWindow: 10,
  /** The rate limit's fixed window, in seconds. */
  windowSeconds: 60,
  /** How long the hub waits for a callback to answer a verification request. */
  verifyTimeoutMs: 10_000,
};

/** `hub.secret` must be shorter than this many bytes (the spec's limit). */
export const MAX_SECRET_BYTES = 200;

/** The queue message type of a content distribution. */
export const WEBSUB_NOTIFICATION = 'websub.notification';

/** The `hub.mode` values a subscriber may ask for. */
export const WEBSUB_MODES = ['subscribe', 'unsubscribe'] as const;

/** A validated topic: the feed URL as given (its self link), its format and its filters. */
export interface WebSubTopic {
  url: string;
  format: FeedFormat;
  filters: EventFilter;
}

/** A validated `POST /websub` request. */
export interface WebSubRequest {
  mode: (typeof WEBSUB_MODES)[number];
  topic: WebSubTopic;
  callback: string;
  /** The lease granted, clamped to the limits. */
  lease_seconds: number;
  secret: string | null;
}

/** A problem with one field of the form, named as the spec names it (`hub.topic`). */
export interface WebSubProblem {
  field: string;
  message: string;
}

/**
 * Validates a topic URL against `origin`: a feed path of this origin whose
 * query passes the feed route's own schema. Returns the topic or the
 * problems, each phrased to follow "hub.topic".
 */
export function parseTopic(input: string, origin: string): WebSubTopic | string[] {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return ['must be an absolute URL'];
  }
  if (url.origin !== origin) return [`must be a feed of this hub's origin (${origin})`];
  const format = FEED_FORMATS.find((candidate) => FEED_PATHS[candidate] === url.pathname);
  if (!format || url.hash) return [`must be one of the feeds ${FEED_FORMATS.map((candidate) => origin + FEED_PATHS[candidate]).join(', ')}, with their filters`];
  const parsed = v.safeParse(FeedQuerySchema, queryObject(url.searchParams));
  if (!parsed.success) {
    return parsed.issues.map((issue) => {
      const parameter = String(issue.path?.[0]?.key ?? 'query');
      const unknown = issue.type === 'strict_object' && issue.expected === 'never';
      return `parameter ${parameter} ${unknown ? 'is not a known parameter' : issue.message}`;
    });
  }
  const { limit: _limit, ...filters } = parsed.output;
  return { url: url.href, format, filters };
}

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

/**
 * Validates the form of `POST /websub` (fields as the spec names them) for a
 * hub at `origin`, under the deployment's webhook target rules. Unknown
 * `hub.*` fields are ignored, as the spec allows extensions.
 */
export function parseWebSubRequest(form: URLSearchParams, origin: string, targets: WebhookTargetOptions): WebSubRequest | WebSubProblem[] {
  const problems: WebSubProblem[] = [];
  const single = (field: string): string | null => {
    const values = form.getAll(field);
    if (values.length > 1) problems.push({ field, message: 'must be given once' });
    return values[0] ?? null;
  };
  const mode = single('hub.mode');
  const topicText = single('hub.topic');
  const callbackText = single('hub.callback');
  const leaseText = single('hub.lease_seconds');
  const secret = single('hub.secret');
  if (mode === null) problems.push({ field: 'hub.mode', message: 'is required (subscribe or unsubscribe)' });
  else if (!(WEBSUB_MODES as readonly string[]).includes(mode)) problems.push({ field: 'hub.mode', message: `must be subscribe or unsubscribe (got ${JSON.stringify(mode.slice(0, 40))})` });
  let topic: WebSubTopic | null = null;
  if (topicText === null) problems.push({ field: 'hub.topic', message: 'is required: the URL of a strikewire feed' });
  else {
    const parsed = parseTopic(topicText, origin);
    if (Array.isArray(parsed)) problems.push(...parsed.map((message) => ({ field: 'hub.topic', message })));
    else topic = parsed;
  }
  let callback: string | null = null;
  if (callbackText === null) problems.push({ field: 'hub.callback', message: 'is required' });
  else {
    const check = checkWebhookTarget(callbackText, targets);
    if (check.ok) callback = check.url;
    else problems.push({ field: 'hub.callback', message: check.reason });
  }
  let leaseSeconds = WEBSUB_LIMITS.defaultLeaseSeconds;
  if (leaseText !== null) {
    if (!/^\d{1,10}$/.test(leaseText)) problems.push({ field: 'hub.lease_seconds', message: `must be a whole number of seconds (got ${JSON.stringify(leaseText.slice(0, 40))})` });
    else leaseSeconds = Math.min(WEBSUB_LIMITS.maxLeaseSeconds, Math.max(WEBSUB_LIMITS.minLeaseSeconds, Number(leaseText)));
  }
  if (secret !== null && (secret === '' || utf8Length(secret) >= MAX_SECRET_BYTES)) problems.push({ field: 'hub.secret', message: `must be 1 to ${MAX_SECRET_BYTES - 1} bytes` });
  if (problems.length > 0 || mode === null || topic === null || callback === null) return problems;
  return { mode: mode as WebSubRequest['mode'], topic, callback, lease_seconds: leaseSeconds, secret };
}

/** The verification (or denial) request's URL: the callback with the `hub.*` parameters added to its own query. */
export function verificationUrl(callback: string, params: Record<string, string>): string {
  const url = new URL(callback);
  for (const [name, value] of Object.entries(params)) url.searchParams.append(name, value);
  return url.href;
}

/** A random `hub.challenge`: 32 bytes, hex. */
export function newChallenge(random: Uint8Array = crypto.getRandomValues(new Uint8Array(32))): string {
  return [...random].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The `Link` header of a feed and of a content distribution: the hub, then the topic itself. */
export const hubLinkHeader = (origin: string, topic: string): string => `<${origin}${WEBSUB_PATH}>; rel="hub", <${topic}>; rel="self"`;

/** `X-Hub-Signature` of a distribution: `sha256=` and the hex HMAC-SHA256 of the body, keyed with the subscriber's secret. */
export async function hubSignature(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body));
  return `sha256=${[...new Uint8Array(mac)].map((byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** The media type a topic's feed is served with. */
export const topicMediaType = (topic: Pick<WebSubTopic, 'format'>): string => FEED_MEDIA_TYPES[topic.format];

/** A subscription's id: `ws_` and 24 hex digits of the digest of callback and topic, so a renewal keeps it. */
export const webSubSubscriptionId = async (callback: string, topic: string): Promise<string> => `ws_${(await sha256Hex(`${callback}\n${topic}`)).slice(0, 24)}`;

/** The id of the notification of one dataset revision to one subscription: repeats and retries carry the same id. */
export const webSubMessageId = async (subscriptionId: string, revision: number): Promise<string> => `msg_${(await sha256Hex(`websub\n${subscriptionId}\n${revision}`)).slice(0, 32)}`;
