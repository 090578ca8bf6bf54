/**
 * The delivery consumer under platform conditions, in workerd: outbound
 * fetch goes to endpoints that answer after a delay (or never) through a
 * stand-in for the runtime's six simultaneous connections, where a seventh
 * request waits while its timeout already runs. Checks that a slow endpoint
 * holds back no other message of its batch and is handed off rather than
 * waited for, that at most six requests are
 * in flight, that each timeout starts when its request is sent, that a batch
 * makes two Coordinator calls, and that a failing Coordinator costs no
 * receiver attempt.
 */
import { createExecutionContext, createMessageBatch, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeliveryMessage } from '../functions/domain/delivery-messages.ts';
import type { Env } from '../functions/env.ts';
import { deliverBatch } from '../functions/jobs/deliver.ts';
import { call, coordinatorStub, getJson, makeEvent, settled } from './helpers.ts';

const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

/** Connections the runtime lets one invocation hold at once. */
const PLATFORM_CONNECTIONS = 6;

/** One request as an endpoint saw it. */
interface SentRequest {
  url: string;
  id: string;
  body: string;
  /** When the request got a connection (ms since the epoch). */
  sentAt: number;
  outcome: 'answered' | 'aborted';
}

/** Endpoints behind a six-connection runtime: each URL answers 204 after its delay, or never (until aborted). */
class Endpoints {
  readonly requests: SentRequest[] = [];
  /** fetch() calls not settled yet, and the most there ever were. */
  calls = 0;
  maxCalls = 0;
  private connections = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly delays = new Map<string, number>();

  /** `url` answers after `ms` (Infinity: never). */
  delay(url: string, ms: number): void {
    this.delays.set(url, ms);
  }

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    this.calls++;
    this.maxCalls = Math.max(this.maxCalls, this.calls);
    try {
      const url = String(input instanceof Request ? input.url : input);
      const signal = init?.signal ?? undefined;
      await this.connect(signal);
      const request: SentRequest = { url, id: new Headers(init?.headers).get('webhook-id') ?? '', body: typeof init?.body === 'string' ? init.body : '', sentAt: Date.now(), outcome: 'aborted' };
      this.requests.push(request);
      try {
        await sleep(this.delays.get(url) ?? 5, signal);
        request.outcome = 'answered';
        return new Response(null, { status: 204 });
      } finally {
        this.release();
      }
    } finally {
      this.calls--;
    }
  };

  /** Waits for a free connection as the runtime does: the request's signal keeps running meanwhile. */
  private async connect(signal?: AbortSignal): Promise<void> {
    while (this.connections >= PLATFORM_CONNECTIONS) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    signal?.throwIfAborted();
    this.connections++;
  }

  private release(): void {
    this.connections--;
    this.waiting.shift()?.();
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = Number.isFinite(ms) ? setTimeout(resolve, ms) : undefined;
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

let endpoints: Endpoints;

beforeEach(() => {
  endpoints = new Endpoints();
  vi.spyOn(globalThis, 'fetch').mockImplementation(endpoints.fetch);
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function subscribe(url: string): Promise<string> {
  const response = await call('/subscriptions', { method: 'POST', headers: ADMIN, body: JSON.stringify({ url }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

/** A ping for `subscriptionId` with a fresh webhook-id. */
function ping(subscriptionId: string): DeliveryMessage {
  const payload = JSON.stringify({ type: 'ping', timestamp: new Date().toISOString(), data: { subscription_id: subscriptionId } });
  return { msg_id: `msg_${crypto.randomUUID().replace(/-/g, '')}`, subscription_id: subscriptionId, type: 'ping', record_id: null, payload };
}

/** How and when each message of a batch was settled. */
interface Settlement {
  msgId: string;
  how: 'ack' | 'retry';
  at: number;
  delaySeconds?: number;
}

/** A queue batch of `bodies` (delivered for the `attempts`-th time) whose acks and retries are timed. */
function timedBatch(bodies: DeliveryMessage[], attempts = 1) {
  const batch = createMessageBatch<DeliveryMessage>('strikewire-deliveries', bodies.map((body) => ({ id: `m-${body.msg_id}`, timestamp: new Date(), attempts, body })));
  const settlements: Settlement[] = [];
  for (const message of batch.messages) {
    message.ack = () => void settlements.push({ msgId: message.body.msg_id, how: 'ack', at: Date.now() });
    message.retry = (options) => void settlements.push({ msgId: message.body.msg_id, how: 'retry', at: Date.now(), delaySeconds: options?.delaySeconds });
  }
  return { batch, settlements };
}

/** `env` whose Coordinator stub counts the calls made to it, by method. */
function countingEnv(): { env: Env; calls: string[] } {
  const calls: string[] = [];
  const real = coordinatorStub();
  const stub = new Proxy({}, {
    get: (_target, method) => (method === 'then' ? undefined : (...args: unknown[]) => {
      calls.push(String(method));
      return (real as unknown as Record<string | symbol, (...args: unknown[]) => unknown>)[method]!(...args);
    }),
  });
  return { env: { ...env, COORDINATOR: { getByName: () => stub } as unknown as Env['COORDINATOR'] }, calls };
}

/** `env` whose Coordinator stub answers `method` only after `ms`. */
function slowCoordinatorEnv(method: string, ms: number): Env {
  const real = coordinatorStub();
  const stub = new Proxy({}, {
    get: (_target, name) => (name === 'then' ? undefined : async (...args: unknown[]) => {
      if (name === method) await sleep(ms);
      return (real as unknown as Record<string | symbol, (...args: unknown[]) => unknown>)[name]!(...args);
    }),
  });
  return { ...env, COORDINATOR: { getByName: () => stub } as unknown as Env['COORDINATOR'] };
}

/** `env` whose Coordinator stub fails `failing` methods (every method when omitted), as an overloaded Coordinator would. */
function failingCoordinatorEnv(failing?: string[]): Env {
  const real = coordinatorStub();
  const stub = new Proxy({}, {
    get: (_target, method) => (method === 'then' ? undefined : (...args: unknown[]) => {
      if (!failing || failing.includes(String(method))) return Promise.reject(new Error('Durable Object is overloaded'));
      return (real as unknown as Record<string | symbol, (...args: unknown[]) => unknown>)[method]!(...args);
    }),
  });
  return { ...env, COORDINATOR: { getByName: () => stub } as unknown as Env['COORDINATOR'] };
}

describe('delivery consumer', () => {
  it('settles the other messages of a batch before a slow endpoint answers', async () => {
    const slowUrl = 'https://hooks.example.com/never-answers';
    endpoints.delay(slowUrl, Number.POSITIVE_INFINITY);
    const slow = await subscribe(slowUrl);
    const fastIds = await Promise.all(['https://hooks.example.com/quick-a', 'https://hooks.example.com/quick-b'].map((url) => subscribe(url)));
    // The slow endpoint's messages come first, enough to fill every connection.
    const slowMessages = Array.from({ length: 6 }, () => ping(slow));
    const fastMessages = [0, 1, 0, 1].map((i) => ping(fastIds[i]!));
    const { batch, settlements } = timedBatch([...slowMessages, ...fastMessages]);
    const timeoutMs = 600;
    const started = Date.now();
    await deliverBatch(batch, env, { timeoutMs, random: () => 0.5 });

    const fast = settlements.filter((settlement) => fastMessages.some((message) => message.msg_id === settlement.msgId));
    const slowSettled = settlements.filter((settlement) => slowMessages.some((message) => message.msg_id === settlement.msgId));
    expect(fast.map((settlement) => settlement.how)).toEqual(['ack', 'ack', 'ack', 'ack']);
    expect(slowSettled.map((settlement) => settlement.how)).toEqual(Array(6).fill('retry'));
    // Every quick message is acknowledged before the first slow request even times out.
    for (const settlement of fast) expect(settlement.at - started).toBeLessThan(timeoutMs);
    expect(Math.max(...fast.map((settlement) => settlement.at))).toBeLessThan(Math.min(...slowSettled.map((settlement) => settlement.at)));
  });

  it('hands a slow endpoint off: the batch returns without waiting, the request finishes in the background and its outcome is recorded', async () => {
    const slowUrl = 'https://hooks.example.com/silent';
    endpoints.delay(slowUrl, Number.POSITIVE_INFINITY);
    const slow = await subscribe(slowUrl);
    const quick = await subscribe('https://hooks.example.com/quick-handoff');
    const slowMessage = ping(slow);
    const quickMessages = [ping(quick), ping(quick)];
    const { batch, settlements } = timedBatch([slowMessage, ...quickMessages]);
    const ctx = createExecutionContext();
    const timeoutMs = 800;
    const started = Date.now();
    await deliverBatch(batch, env, { timeoutMs, handoffAfterMs: 150, random: () => 0.5 }, ctx);
    const returnedAfter = Date.now() - started;

    // The batch did not wait for the silent endpoint's timeout, and every message is settled: the slow one acknowledged.
    expect(returnedAfter).toBeLessThan(timeoutMs);
    expect(new Map(settlements.map((settlement) => [settlement.msgId, settlement.how]))).toEqual(new Map([...quickMessages, slowMessage].map((message) => [message.msg_id, 'ack'])));
    // The handed-off request goes on in ctx.waitUntil and its outcome is recorded (retrying after the timeout).
    await waitOnExecutionContext(ctx);
    const log = await getJson(`/subscriptions/${slow}/deliveries`, { headers: ADMIN });
    expect(log.body.data).toEqual([expect.objectContaining({ msg_id: slowMessage.msg_id, outcome: 'retrying', error: expect.stringMatching(/timeout|abort/i) })]);
    expect(settlements).toHaveLength(3);
  });

  it('keeps at most six requests in flight for a batch of twelve', async () => {
    const urls = Array.from({ length: 4 }, (_, i) => `https://hooks.example.com/in-flight-${i}`);
    for (const url of urls) endpoints.delay(url, 30);
    const ids = await Promise.all(urls.map((url) => subscribe(url)));
    const { batch, settlements } = timedBatch(Array.from({ length: 12 }, (_, i) => ping(ids[i % ids.length]!)));
    await deliverBatch(batch, env);
    expect(settlements.map((settlement) => settlement.how)).toEqual(Array(12).fill('ack'));
    expect(endpoints.requests).toHaveLength(12);
    expect(endpoints.maxCalls).toBeLessThanOrEqual(6);
  });

  it('starts each request timeout when the request is sent, not while it waits for a connection', async () => {
    const url = 'https://hooks.example.com/steady';
    endpoints.delay(url, 200);
    const id = await subscribe(url);
    const { batch, settlements } = timedBatch(Array.from({ length: 12 }, () => ping(id)));
    // Two waves of 200 ms each: the second would overrun a timeout started with the first.
    await deliverBatch(batch, env, { timeoutMs: 350 });
    expect(endpoints.requests.map((request) => request.outcome)).toEqual(Array(12).fill('answered'));
    expect(settlements.map((settlement) => settlement.how)).toEqual(Array(12).fill('ack'));
  });

  it('makes two Coordinator calls per batch: targets before sending, outcomes after', async () => {
    const urls = Array.from({ length: 3 }, (_, i) => `https://hooks.example.com/counted-${i}`);
    const ids = await Promise.all(urls.map((url) => subscribe(url)));
    const { env: counted, calls } = countingEnv();
    const { batch, settlements } = timedBatch(Array.from({ length: 10 }, (_, i) => ping(ids[i % ids.length]!)));
    await deliverBatch(batch, counted);
    expect(settlements.map((settlement) => settlement.how)).toEqual(Array(10).fill('ack'));
    expect(calls).toHaveLength(2);
    const log = await getJson(`/subscriptions/${ids[0]}/deliveries`, { headers: ADMIN });
    expect(log.body.data.map((entry: { outcome: string }) => entry.outcome)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
  });

  it('retries soon, spending no receiver attempt, when the Coordinator fails before sending', async () => {
    const url = 'https://hooks.example.com/coordinator-down';
    const id = await subscribe(url);
    const { batch, settlements } = timedBatch([ping(id), ping(id)]);
    await deliverBatch(batch, failingCoordinatorEnv());
    expect(settlements.map((settlement) => settlement.how)).toEqual(['retry', 'retry']);
    for (const settlement of settlements) expect(settlement.delaySeconds).toBeLessThanOrEqual(30);
    expect(endpoints.requests).toEqual([]);
    expect((await getJson(`/subscriptions/${id}/deliveries`, { headers: ADMIN })).body.data).toEqual([]);
    const subscription = await getJson(`/subscriptions/${id}`, { headers: ADMIN });
    expect(subscription.body).toMatchObject({ status: 'active', health: { consecutive_failures: 0, failing_since: null } });
  });

  it('when outcomes cannot be recorded: acks what was delivered, retries the rest, and logs no failure against the endpoint', async () => {
    const deliveredUrl = 'https://hooks.example.com/fine';
    const failingUrl = 'https://hooks.example.com/timing-out';
    endpoints.delay(failingUrl, Number.POSITIVE_INFINITY);
    const [fine, failing] = await Promise.all([subscribe(deliveredUrl), subscribe(failingUrl)]);
    const delivered = ping(fine);
    const retried = ping(failing);
    const { batch, settlements } = timedBatch([delivered, retried]);
    await deliverBatch(batch, failingCoordinatorEnv(['recordDeliveries', 'recordDelivery']), { timeoutMs: 100 });
    expect(settlements.find((settlement) => settlement.msgId === delivered.msg_id)?.how).toBe('ack');
    expect(settlements.find((settlement) => settlement.msgId === retried.msg_id)?.how).toBe('retry');
    expect((await getJson(`/subscriptions/${failing}/deliveries`, { headers: ADMIN })).body.data).toEqual([]);
    expect((await getJson(`/subscriptions/${failing}`, { headers: ADMIN })).body.health).toMatchObject({ consecutive_failures: 0, failing_since: null });
  });

  it('sends a record alert queued by reference with its payload, and acknowledges unsent a copy the outbox is done with', async () => {
    const url = 'https://hooks.example.com/by-reference';
    const id = await subscribe(url);
    const response = await call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(makeEvent('by-reference', '2025-03-01')) });
    expect(response.status).toBe(201);
    await settled();
    // The queue carried a reference; the request carried the whole alert.
    await vi.waitFor(() => expect(endpoints.requests.filter((request) => request.url === url && request.outcome === 'answered')).toHaveLength(1), { timeout: 10_000, interval: 50 });
    const sent = endpoints.requests.filter((request) => request.url === url);
    expect(JSON.parse(sent[0]!.body)).toMatchObject({ type: 'event.created', data: { id: 'by-reference', revision: 1 } });
    // The queue delivers the same reference again (at least once): the outbox is done with it, so nothing is sent.
    const copy: DeliveryMessage = { msg_id: sent[0]!.id, subscription_id: id, type: 'event.created', record_id: 'by-reference', revision: 1, payload: '' };
    await vi.waitFor(async () => expect((await getJson('/admin/status', { headers: ADMIN })).body.outbox.unconfirmed).toBe(0), { timeout: 10_000, interval: 50 });
    const { batch, settlements } = timedBatch([copy], 2);
    await deliverBatch(batch, env);
    expect(settlements.map((settlement) => settlement.how)).toEqual(['ack']);
    expect(endpoints.requests.filter((request) => request.url === url)).toHaveLength(1);
  });

  it('dead-letters a referenced alert whose payload is gone, with the reason, instead of sending an empty body', async () => {
    const url = 'https://hooks.example.com/payload-gone';
    const id = await subscribe(url);
    const message: DeliveryMessage = { msg_id: 'msg_payloadgone000000000000000', subscription_id: id, type: 'event.created', record_id: 'no-such-record', revision: 1, payload: '' };
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      state.storage.sql.exec(
        'INSERT INTO alert_outbox (msg_id, subscription_id, body, created_at, sent_at, resend_at, payload_record, payload_revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        message.msg_id, id, JSON.stringify(message), new Date().toISOString(), Date.now(), Date.now() + 3_600_000, 'no-such-record', 1,
      );
    });
    const { batch, settlements } = timedBatch([message]);
    await deliverBatch(batch, env);
    expect(settlements.map((settlement) => settlement.how)).toEqual(['ack']);
    expect(endpoints.requests.filter((request) => request.url === url)).toEqual([]);
    const letters = await getJson(`/subscriptions/${id}/dead-letters`, { headers: ADMIN });
    expect(letters.body.data).toEqual([expect.objectContaining({ msg_id: message.msg_id, reason: expect.stringContaining('payload') })]);
  });

  it('acknowledges delivered messages at once and records their outcomes without holding the batch', async () => {
    const url = 'https://hooks.example.com/recorded-later';
    const id = await subscribe(url);
    const messages = [ping(id), ping(id), ping(id)];
    const { batch, settlements } = timedBatch(messages);
    const recordingTakesMs = 1_000;
    const ctx = createExecutionContext();
    const started = Date.now();
    await deliverBatch(batch, slowCoordinatorEnv('recordDeliveries', recordingTakesMs), {}, ctx);
    expect(Date.now() - started).toBeLessThan(recordingTakesMs);
    expect(settlements.map((settlement) => settlement.how)).toEqual(['ack', 'ack', 'ack']);
    await waitOnExecutionContext(ctx);
    const log = await getJson(`/subscriptions/${id}/deliveries`, { headers: ADMIN });
    expect(log.body.data.map((entry: { outcome: string }) => entry.outcome)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('numbers attempts by what was recorded, so retries after Coordinator failures spend no receiver attempt', async () => {
    const url = 'https://hooks.example.com/counted-attempts';
    const id = await subscribe(url);
    const message = ping(id);
    // Handed to the queue by the outbox with no attempt recorded yet; no resend due during the test.
    await runInDurableObject(coordinatorStub(), (_instance, state) => {
      state.storage.sql.exec(
        'INSERT INTO alert_outbox (msg_id, subscription_id, body, created_at, sent_at, resend_at, resends, attempts) VALUES (?, ?, ?, ?, ?, ?, 0, 0)',
        message.msg_id, id, JSON.stringify(message), new Date().toISOString(), Date.now(), Date.now() + 3_600_000,
      );
    });
    // The queue's third delivery of it, after two runs the Coordinator failed.
    const { batch, settlements } = timedBatch([message], 3);
    await deliverBatch(batch, env);
    expect(settlements.map((settlement) => settlement.how)).toEqual(['ack']);
    const log = await getJson(`/subscriptions/${id}/deliveries`, { headers: ADMIN });
    expect(log.body.data).toEqual([expect.objectContaining({ msg_id: message.msg_id, outcome: 'delivered', attempt: 1 })]);
  });
});
