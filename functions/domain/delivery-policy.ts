/**
 * The webhook delivery policy, as pure functions of what an attempt observed:
 * which outcomes are worth retrying, how long to wait before the next attempt,
 * and when an endpoint has failed long enough to be disabled.
 *
 * Retries: a message is attempted up to MAX_ATTEMPTS times. After failed
 * attempt n the next one waits RETRY_DELAYS_SECONDS[n-1] (30 s, 2 min, 10 min,
 * 30 min, 1 h, 2 h, 4 h, 8 h, 12 h), each scaled by a random factor in
 * [1 - JITTER, 1 + JITTER) so receivers that fail together do not retry
 * together, and never beyond MAX_DELAY_SECONDS, the longest delay Cloudflare
 * Queues' `message.retry({ delaySeconds })` takes (24 h). A `Retry-After` on a
 * retryable answer lengthens the wait up to that cap. One message is thus
 * tried over 22–34 hours (22.2 h with every wait at -20 %, 33.3 h at +20 %),
 * or up to 9 × 24 h when every answer asks for a day: the deliveries queue's
 * message retention must cover that (see wrangler.toml and the README).
 *
 * Auto-disable: an endpoint is disabled once it has failed at least
 * DISABLE_AFTER_FAILURES attempts in a row (any messages) over at least
 * DISABLE_AFTER_FAILING_HOURS with no success between, or at once when it
 * answers 410 Gone. Since one message's schedule spans more than
 * DISABLE_AFTER_FAILING_HOURS, a message that exhausts its retries with no
 * success in between always disables the endpoint; a short outage never does,
 * however many messages fail in it. Only an explicit re-enable
 * (`initialHealth()`) clears a disabled endpoint.
 */

/** Wait after each failed attempt before the next, in seconds; attempt n's failure waits entry n-1. */
export const RETRY_DELAYS_SECONDS: readonly number[] = [30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200];

/** Attempts per message, the first included. Configure the queue's `max_retries` at least MAX_ATTEMPTS - 1 so this policy, not the queue, gives up. */
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;

/** Longest delay one retry may ask of Cloudflare Queues (24 hours, the documented `delaySeconds` limit). */
export const MAX_DELAY_SECONDS = 86400;

/** Relative spread of a retry delay: ±20 %. */
export const JITTER = 0.2;

/** Failed attempts in a row that, spanning DISABLE_AFTER_FAILING_HOURS, disable an endpoint. */
export const DISABLE_AFTER_FAILURES = MAX_ATTEMPTS;

/** How long an endpoint must have failed without a success before it is disabled. */
export const DISABLE_AFTER_FAILING_HOURS = 20;

/** What one delivery attempt observed: an HTTP answer (with its `Retry-After` header, if any), or no answer at all (DNS, TLS, connection or timeout). */
export type AttemptResult = { kind: 'response'; status: number; retryAfter?: string | null } | { kind: 'network_error'; detail: string };

/** A failed attempt that another attempt may fix; `retryAfterSeconds` is the receiver's requested wait, when it gave one. */
export interface RetryableFailure {
  outcome: 'retryable';
  reason: string;
  retryAfterSeconds: number | null;
}

/** A failed attempt that retrying the same message will not fix; `gone` when the receiver answered 410 Gone. */
export interface PermanentFailure {
  outcome: 'permanent';
  reason: string;
  gone: boolean;
}

/** How an attempt is judged. */
export type AttemptVerdict = { outcome: 'delivered' } | RetryableFailure | PermanentFailure;

/** An HTTP date as senders must write it (RFC 9110 IMF-fixdate), e.g. `Sun, 28 Jan 2024 12:05:00 GMT`. */
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** Seconds a `Retry-After` value asks for (delta-seconds, or an IMF-fixdate relative to `now`); null when absent or unreadable. */
function retryAfterSeconds(value: string | null | undefined, now: Date): number | null {
  const trimmed = value?.trim() ?? '';
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = IMF_FIXDATE.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/**
 * Judges an attempt: 2xx delivered; no answer, 408, 429 and 5xx retryable;
 * 3xx permanent (redirects are not followed, so the subscription must name
 * the final URL); every other status permanent.
 */
export function judgeAttempt(result: AttemptResult, now: Date): AttemptVerdict {
  if (result.kind === 'network_error') return { outcome: 'retryable', reason: `no response: ${result.detail}`, retryAfterSeconds: null };
  const { status } = result;
  if (status >= 200 && status < 300) return { outcome: 'delivered' };
  if (status === 408 || status === 429 || status >= 500) return { outcome: 'retryable', reason: `HTTP ${status}`, retryAfterSeconds: retryAfterSeconds(result.retryAfter, now) };
  if (status >= 300 && status < 400) return { outcome: 'permanent', reason: `HTTP ${status}: redirects are not followed; subscribe the final URL`, gone: false };
  if (status === 410) return { outcome: 'permanent', reason: 'HTTP 410 Gone: the receiver removed this endpoint', gone: true };
  return { outcome: 'permanent', reason: `HTTP ${status}`, gone: false };
}

/** The jittered wait after failed attempt `attempts` (1 for the first), in whole seconds within 1..MAX_DELAY_SECONDS. `random` returns values in [0, 1), as `Math.random`. */
export function backoffSeconds(attempts: number, random: () => number): number {
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be a whole number from 1, got ${attempts}`);
  const base = RETRY_DELAYS_SECONDS[Math.min(attempts, RETRY_DELAYS_SECONDS.length) - 1]!;
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  return Math.min(Math.max(jittered, 1), MAX_DELAY_SECONDS);
}

/** What to do with a message after a failed attempt. */
export type RetryDecision = { action: 'retry'; delaySeconds: number } | { action: 'give_up'; reason: string };

/**
 * Whether and when to try a message again after failed attempt number
 * `attempts` (Cloudflare's `message.attempts`, 1 on the first delivery).
 * Permanent failures and the MAX_ATTEMPTS-th failure give up; otherwise the
 * wait is the jittered backoff, or the receiver's `Retry-After` when longer,
 * capped at MAX_DELAY_SECONDS.
 */
export function decideRetry(failure: RetryableFailure | PermanentFailure, attempts: number, random: () => number): RetryDecision {
  if (failure.outcome === 'permanent') return { action: 'give_up', reason: failure.reason };
  if (attempts >= MAX_ATTEMPTS) return { action: 'give_up', reason: `${failure.reason}; gave up after ${attempts} attempts` };
  const delaySeconds = Math.min(Math.max(backoffSeconds(attempts, random), failure.retryAfterSeconds ?? 0), MAX_DELAY_SECONDS);
  return { action: 'retry', delaySeconds };
}

/** What the auto-disable rule remembers about one endpoint (JSON-safe; times are ISO 8601). */
export interface EndpointHealth {
  /** Failed attempts since the last success. */
  consecutive_failures: number;
  /** When the first of those failures happened; null while the last attempt succeeded. */
  failing_since: string | null;
  /** Reason of the latest failure; null while the last attempt succeeded. */
  last_failure: string | null;
  /** When an attempt last succeeded; null before the first success. */
  last_success_at: string | null;
  /** When and why the endpoint was disabled; null while enabled. */
  disabled: { at: string; reason: string } | null;
}

/** The health of a new or re-enabled endpoint. */
export function initialHealth(): EndpointHealth {
  return { consecutive_failures: 0, failing_since: null, last_failure: null, last_success_at: null, disabled: null };
}

/**
 * The endpoint's health after an attempt judged `verdict` at `now`. A success
 * clears the failure run; a failure extends it and disables the endpoint under
 * the rule in this module's comment. A disabled endpoint's health is returned
 * unchanged: attempts still in flight neither re-enable nor re-date it.
 */
export function recordOutcome(health: EndpointHealth, verdict: AttemptVerdict, now: Date): EndpointHealth {
  if (health.disabled) return health;
  const at = now.toISOString();
  if (verdict.outcome === 'delivered') return { ...health, consecutive_failures: 0, failing_since: null, last_failure: null, last_success_at: at };
  const failures = health.consecutive_failures + 1;
  const since = health.failing_since ?? at;
  const failingHours = (now.getTime() - Date.parse(since)) / 3_600_000;
  const failed = { ...health, consecutive_failures: failures, failing_since: since, last_failure: verdict.reason };
  if (verdict.outcome === 'permanent' && verdict.gone) return { ...failed, disabled: { at, reason: verdict.reason } };
  if (failures >= DISABLE_AFTER_FAILURES && failingHours >= DISABLE_AFTER_FAILING_HOURS) {
    return { ...failed, disabled: { at, reason: `${failures} failed attempts in a row over ${Math.floor(failingHours)} hours; last: ${verdict.reason}` } };
  }
  return failed;
}
