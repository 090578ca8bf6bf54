/**
 * The delivery policy: which outcomes retry, the jittered backoff schedule
 * and its Cloudflare Queues cap, Retry-After, and the auto-disable rule.
 */
import { describe, expect, it } from 'vitest';
import {
  backoffSeconds,
  decideRetry,
  DISABLE_AFTER_FAILING_HOURS,
  DISABLE_AFTER_FAILURES,
  initialHealth,
  judgeAttempt,
  MAX_ATTEMPTS,
  MAX_DELAY_SECONDS,
  recordOutcome,
  RETRY_DELAYS_SECONDS,
  type AttemptVerdict,
  type EndpointHealth,
  type RetryableFailure,
} from '../functions/domain/delivery-policy.ts';

const NOW = new Date('2024-01-28T12:00:00Z');
const lowest = () => 0;
const middle = () => 0.5;
const highest = () => 0.999999;
const serverError: RetryableFailure = { outcome: 'retryable', reason: 'HTTP 503', retryAfterSeconds: null };
const hoursAfter = (start: Date, hours: number) => new Date(start.getTime() + hours * 3_600_000);

describe('judgeAttempt', () => {
  const response = (status: number, retryAfter?: string) => judgeAttempt({ kind: 'response', status, retryAfter }, NOW);

  it('counts every 2xx as delivered', () => {
    for (const status of [200, 201, 202, 204, 299]) expect(response(status), String(status)).toEqual({ outcome: 'delivered' });
  });

  it('retries when there was no answer, and on 408, 429 and 5xx', () => {
    expect(judgeAttempt({ kind: 'network_error', detail: 'connection refused' }, NOW)).toEqual({ outcome: 'retryable', reason: 'no response: connection refused', retryAfterSeconds: null });
    for (const status of [408, 429, 500, 502, 503, 504, 599]) expect(response(status), String(status)).toEqual({ outcome: 'retryable', reason: `HTTP ${status}`, retryAfterSeconds: null });
  });

  it('treats redirects as permanent failures, since they are not followed', () => {
    for (const status of [301, 302, 307, 308]) {
      expect(response(status), String(status)).toEqual({ outcome: 'permanent', reason: `HTTP ${status}: redirects are not followed; subscribe the final URL`, gone: false });
    }
  });

  it('treats other 4xx as permanent, and marks 410 Gone', () => {
    for (const status of [400, 401, 403, 404, 405, 413, 422]) expect(response(status), String(status)).toEqual({ outcome: 'permanent', reason: `HTTP ${status}`, gone: false });
    expect(response(410)).toEqual({ outcome: 'permanent', reason: 'HTTP 410 Gone: the receiver removed this endpoint', gone: true });
  });

  it('reads Retry-After as seconds or as an HTTP date, and ignores it when unreadable', () => {
    const waitFor = (value: string) => (response(429, value) as RetryableFailure).retryAfterSeconds;
    expect(waitFor('120')).toBe(120);
    expect(waitFor(' 7 ')).toBe(7);
    expect(waitFor('Sun, 28 Jan 2024 12:05:00 GMT')).toBe(300);
    expect(waitFor('Sun, 28 Jan 2024 11:00:00 GMT')).toBe(0);
    expect(waitFor('soon')).toBeNull();
    expect(waitFor('-5')).toBeNull();
    expect(waitFor('2024-01-28T12:05:00Z')).toBeNull();
    expect(waitFor('Sun, 28 Jan 2024 12:05:00 PST')).toBeNull();
    expect((response(429) as RetryableFailure).retryAfterSeconds).toBeNull();
    expect((response(503, '60') as RetryableFailure).retryAfterSeconds).toBe(60);
  });
});

describe('backoffSeconds', () => {
  it('follows the schedule at the middle of the jitter', () => {
    expect(RETRY_DELAYS_SECONDS.map((_, index) => backoffSeconds(index + 1, middle))).toEqual([30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200]);
  });

  it('spreads each delay by ±20 %, the last (12 h) included', () => {
    expect(backoffSeconds(1, lowest)).toBe(24);
    expect(backoffSeconds(1, highest)).toBe(36);
    expect(backoffSeconds(5, lowest)).toBe(2880);
    expect(backoffSeconds(5, highest)).toBe(4320);
    expect(backoffSeconds(9, lowest)).toBe(34560);
    expect(backoffSeconds(9, highest)).toBe(51840);
  });

  it('caps delays at Queues\' 24 h limit on `delaySeconds`, above the longest jittered backoff', () => {
    expect(MAX_DELAY_SECONDS).toBe(24 * 3600);
    expect(backoffSeconds(RETRY_DELAYS_SECONDS.length, highest)).toBeLessThan(MAX_DELAY_SECONDS);
  });

  it('keeps the last delay for attempts past the schedule', () => {
    expect(backoffSeconds(50, middle)).toBe(RETRY_DELAYS_SECONDS.at(-1));
  });

  it('rejects attempt numbers below 1 or fractional', () => {
    expect(() => backoffSeconds(0, middle)).toThrow(RangeError);
    expect(() => backoffSeconds(1.5, middle)).toThrow(RangeError);
  });
});

describe('decideRetry', () => {
  it('retries a retryable failure after the jittered backoff', () => {
    expect(decideRetry(serverError, 1, middle)).toEqual({ action: 'retry', delaySeconds: 30 });
    expect(decideRetry(serverError, 4, lowest)).toEqual({ action: 'retry', delaySeconds: 1440 });
  });

  it('waits for Retry-After when it asks for longer, up to the cap', () => {
    expect(decideRetry({ ...serverError, retryAfterSeconds: 900 }, 1, middle)).toEqual({ action: 'retry', delaySeconds: 900 });
    expect(decideRetry({ ...serverError, retryAfterSeconds: 5 }, 3, middle)).toEqual({ action: 'retry', delaySeconds: 600 });
    expect(decideRetry({ ...serverError, retryAfterSeconds: 20 * 3600 }, 1, middle)).toEqual({ action: 'retry', delaySeconds: 20 * 3600 });
    expect(decideRetry({ ...serverError, retryAfterSeconds: 30 * 3600 }, 1, middle)).toEqual({ action: 'retry', delaySeconds: 24 * 3600 });
    expect(decideRetry({ ...serverError, retryAfterSeconds: 30 * 3600 }, 9, highest)).toEqual({ action: 'retry', delaySeconds: MAX_DELAY_SECONDS });
  });

  it('gives up on permanent failures at once', () => {
    expect(decideRetry({ outcome: 'permanent', reason: 'HTTP 404', gone: false }, 1, middle)).toEqual({ action: 'give_up', reason: 'HTTP 404' });
  });

  it('gives up after MAX_ATTEMPTS attempts', () => {
    expect(decideRetry(serverError, MAX_ATTEMPTS - 1, middle)).toMatchObject({ action: 'retry' });
    expect(decideRetry(serverError, MAX_ATTEMPTS, middle)).toEqual({ action: 'give_up', reason: `HTTP 503; gave up after ${MAX_ATTEMPTS} attempts` });
  });
});

/** Feeds one message's attempts, all failing, through the policy; returns when each attempt happened and the health after each. */
function failOneMessage(start: Date, random: () => number, health: EndpointHealth = initialHealth()) {
  const timeline: Array<{ at: Date; health: EndpointHealth }> = [];
  let at = start;
  for (let attempts = 1; ; attempts++) {
    health = recordOutcome(health, serverError, at);
    timeline.push({ at, health });
    const decision = decideRetry(serverError, attempts, random);
    if (decision.action === 'give_up') return timeline;
    at = new Date(at.getTime() + decision.delaySeconds * 1000);
  }
}

describe('one message retried to the end', () => {
  it('is attempted MAX_ATTEMPTS times over 22 to 34 hours', () => {
    for (const [random, low, high] of [[lowest, 22, 23], [highest, 33, 34]] as const) {
      const timeline = failOneMessage(NOW, random);
      expect(timeline).toHaveLength(MAX_ATTEMPTS);
      const hours = (timeline.at(-1)!.at.getTime() - NOW.getTime()) / 3_600_000;
      expect(hours).toBeGreaterThanOrEqual(low);
      expect(hours).toBeLessThan(high);
    }
  });

  it('disables the endpoint at its last attempt and not before, whatever the jitter', () => {
    for (const random of [lowest, middle, highest]) {
      const timeline = failOneMessage(NOW, random);
      expect(timeline.slice(0, -1).every((step) => step.health.disabled === null)).toBe(true);
      expect(timeline.at(-1)!.health.disabled).toEqual({ at: timeline.at(-1)!.at.toISOString(), reason: expect.stringMatching(/^10 failed attempts in a row over (?:2\d|3[0-3]) hours; last: HTTP 503$/) });
    }
  });
});

describe('recordOutcome', () => {
  const failure: AttemptVerdict = { outcome: 'retryable', reason: 'no response: timeout', retryAfterSeconds: null };

  it('counts a run of failures from the first one', () => {
    const once = recordOutcome(initialHealth(), failure, NOW);
    expect(once).toEqual({ consecutive_failures: 1, failing_since: NOW.toISOString(), last_failure: 'no response: timeout', last_success_at: null, disabled: null });
    const twice = recordOutcome(once, { outcome: 'permanent', reason: 'HTTP 404', gone: false }, hoursAfter(NOW, 1));
    expect(twice).toMatchObject({ consecutive_failures: 2, failing_since: NOW.toISOString(), last_failure: 'HTTP 404' });
  });

  it('clears the run on success', () => {
    const failing = recordOutcome(recordOutcome(initialHealth(), failure, NOW), failure, hoursAfter(NOW, 1));
    const later = hoursAfter(NOW, 2);
    expect(recordOutcome(failing, { outcome: 'delivered' }, later)).toEqual({ consecutive_failures: 0, failing_since: null, last_failure: null, last_success_at: later.toISOString(), disabled: null });
  });

  it('does not disable after many failures in a short outage', () => {
    let health = initialHealth();
    for (let minute = 0; minute < 600; minute++) health = recordOutcome(health, failure, new Date(NOW.getTime() + minute * 60_000));
    expect(health.consecutive_failures).toBe(600);
    expect(health.disabled).toBeNull();
  });

  it('does not disable after few failures over a long time', () => {
    let health = initialHealth();
    for (let step = 0; step < DISABLE_AFTER_FAILURES - 1; step++) health = recordOutcome(health, failure, hoursAfter(NOW, step * 24));
    expect(health.disabled).toBeNull();
    expect(recordOutcome(health, failure, hoursAfter(NOW, 24 * DISABLE_AFTER_FAILURES)).disabled).not.toBeNull();
  });

  it('disables once both thresholds are met, counting failures across messages', () => {
    let health = initialHealth();
    for (let step = 0; step < DISABLE_AFTER_FAILURES - 1; step++) health = recordOutcome(health, failure, hoursAfter(NOW, step));
    expect(recordOutcome(health, failure, hoursAfter(NOW, DISABLE_AFTER_FAILING_HOURS - 0.01)).disabled).toBeNull();
    const at = hoursAfter(NOW, DISABLE_AFTER_FAILING_HOURS);
    expect(recordOutcome(health, failure, at).disabled).toEqual({ at: at.toISOString(), reason: `10 failed attempts in a row over 20 hours; last: no response: timeout` });
  });

  it('measures the run from its first failure, not from the last success', () => {
    let health = recordOutcome(initialHealth(), { outcome: 'delivered' }, NOW);
    for (let minute = 0; minute < DISABLE_AFTER_FAILURES * 2; minute++) health = recordOutcome(health, failure, new Date(hoursAfter(NOW, 48).getTime() + minute * 60_000));
    expect(health.failing_since).toBe(hoursAfter(NOW, 48).toISOString());
    expect(health.disabled).toBeNull();
  });

  it('does not carry failures across a success', () => {
    const earlier = failOneMessage(NOW, lowest).at(-2)!.health;
    const recovered = recordOutcome(earlier, { outcome: 'delivered' }, hoursAfter(NOW, 23));
    expect(failOneMessage(hoursAfter(NOW, 24), lowest, recovered).slice(0, -1).every((step) => step.health.disabled === null)).toBe(true);
  });

  it('disables at once on 410 Gone', () => {
    const gone = judgeAttempt({ kind: 'response', status: 410 }, NOW);
    expect(recordOutcome(initialHealth(), gone, NOW).disabled).toEqual({ at: NOW.toISOString(), reason: 'HTTP 410 Gone: the receiver removed this endpoint' });
  });

  it('leaves a disabled endpoint as it is until it is re-enabled', () => {
    const disabled = recordOutcome(initialHealth(), judgeAttempt({ kind: 'response', status: 410 }, NOW), NOW);
    expect(recordOutcome(disabled, { outcome: 'delivered' }, hoursAfter(NOW, 1))).toBe(disabled);
    expect(recordOutcome(disabled, failure, hoursAfter(NOW, 1))).toBe(disabled);
    expect(initialHealth().disabled).toBeNull();
  });
});
