/**
 * Webhook alerts end to end in workerd: the subscriptions API, deliveries
 * through the real Queue consumer to a receiver that verifies signatures with
 * the `standardwebhooks` package, exactly one alert per record revision under
 * 50 concurrent ingests, retries, dead letters, redelivery, auto-disable,
 * pings, the delivery log and the cron path.
 */
import { createMessageBatch, getQueueResult, createExecutionContext, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { eventKey } from '../functions/domain/layout.ts';
import type { Event } from '../functions/domain/schema.ts';
import worker from '../functions/index.ts';
import type { DeliveryMessage } from '../functions/domain/delivery-messages.ts';
import type { Env } from '../functions/env.ts';
import { call, getJson, makeEvent, settled } from './helpers.ts';

const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

interface Delivery {
  url: string;
  id: string;
  body: string;
  type: string;
  data: any;
  attempt: number;
}

/** A receiver standing in for the integrators' endpoints: verifies every request with the subscription's secret and answers per URL. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  readonly rejected: string[] = [];
  private readonly secrets = new Map<string, string>();
  private readonly answers = new Map<string, number[]>();

  register(url: string, secret: string): void {
    this.secrets.set(url, secret);
  }

  /** Answer the next requests to `url` with these statuses (then 204). */
  answer(url: string, ...statuses: number[]): void {
    this.answers.set(url, statuses);
  }

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const body = await request.text();
    const secret = this.secrets.get(request.url);
    if (!secret) return new Response('unknown endpoint', { status: 404 });
    try {
      const payload = new Webhook(secret).verify(body, Object.fromEntries(request.headers)) as { type: string; data: unknown };
      const id = request.headers.get('webhook-id')!;
      this.deliveries.push({ url: request.url, id, body, type: payload.type, data: payload.data, attempt: this.deliveries.filter((delivery) => delivery.id === id).length + 1 });
    } catch (error) {
      this.rejected.push(String(error));
      return new Response('bad signature', { status: 400 });
    }
    const status = this.answers.get(request.url)?.shift() ?? 204;
    return new Response(status === 204 ? null : 'answer', { status, headers: status === 302 ? { location: 'https://elsewhere.example/' } : {} });
  };

  for(url: string): Delivery[] {
    return this.deliveries.filter((delivery) => delivery.url === url);
  }
}

let receiver: Receiver;

beforeEach(() => {
  receiver = new Receiver();
  vi.spyOn(globalThis, 'fetch').mockImplementation(receiver.fetch);
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function subscribe(url: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const response = await call('/subscriptions', { method: 'POST', headers: ADMIN, body: JSON.stringify({ url, ...extra }) });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { id: string; secret: string };
  receiver.register(url, body.secret);
  return body;
}

/** POSTs records, then waits until the write is published and its alerts are queued. */
async function ingest(records: Event | Event[]): Promise<Response> {
  const response = await call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(records) });
  await settled();
  return response;
}

const syria = (id: string, date = '2023-06-01') => makeEvent(id, date, { location: { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' } });

/** Runs the delivery consumer directly on one message, as the queue would on attempt `attempts`. */
async function consume(body: DeliveryMessage, attempts: number, workerEnv: Env = env) {
  const batch = createMessageBatch<DeliveryMessage>('strikewire-deliveries', [{ id: `m-${body.msg_id}-${attempts}`, timestamp: new Date(), attempts, body }]);
  const retry = vi.spyOn(batch.messages[0]!, 'retry');
  const ctx = createExecutionContext();
  await worker.queue(batch, workerEnv, ctx);
  return { ...(await getQueueResult(batch, ctx)), retryDelays: retry.mock.calls.map(([options]) => options?.delaySeconds) };
}

/** The queued message of a record's first delivery to `subscriptionId`, rebuilt from what the receiver got through the real queue. */
async function firstMessage(url: string, subscriptionId: string, record: Event): Promise<DeliveryMessage> {
  await ingest(record);
  await vi.waitFor(() => expect(receiver.for(url).length).toBeGreaterThan(0));
  const first = receiver.for(url)[0]!;
  return { msg_id: first.id, subscription_id: subscriptionId, type: 'event.created', record_id: record.id, payload: first.body };
}

describe('subscriptions API', () => {
  it('creates a subscription and shows its whsec_ secret once', async () => {
    const { id, secret } = await subscribe('https://hooks.example.com/created', { filters: { country: 'SY', type: 'attack,strike' }, description: 'Syria desk' });
    expect(id).toMatch(/^sub_[0-9a-f]{32}$/);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const one = await getJson(`/subscriptions/${id}`, { headers: ADMIN });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id, url: 'https://hooks.example.com/created', status: 'active', description: 'Syria desk', filters: { country: ['SY'], type: ['attack', 'strike'] }, event_types: ['event.created', 'event.updated', 'event.deleted'] });
    const list = await call('/subscriptions', { headers: ADMIN });
    const text = await list.text();
    expect(text).toContain(id);
    expect(text).not.toContain(secret.slice(6));
    expect(JSON.stringify(one.body)).not.toContain(secret.slice(6));
  });

  it('requires the admin token on every subscriptions route', async () => {
    for (const [method, path] of [['GET', '/subscriptions'], ['POST', '/subscriptions'], ['GET', '/subscriptions/sub_00000000000000000000000000000000/deliveries']] as const) {
      const response = await call(path, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      expect(response.status, `${method} ${path}`).toBe(401);
    }
  });

  it.each([
    [{ url: 'http://hooks.example.com/plain' }, 'url'],
    [{ url: 'https://127.0.0.1/hook' }, 'url'],
    [{ url: 'https://10.1.2.3/hook' }, 'url'],
    [{ url: 'https://169.254.169.254/latest' }, 'url'],
    [{ url: 'https://localhost/hook' }, 'url'],
    [{ url: 'https://hooks.example/reserved-name' }, 'url'],
    [{ url: 'not a url' }, 'url'],
    [{ url: 'https://[::ffff:0:7f00:1]/hook' }, 'url'],
    [{ url: 'https://hooks.example.com:25/hook' }, 'url'],
    [{ url: 'https://hooks.example.com:0/hook' }, 'url'],
    [{ url: 'https://hooks.example.com/x', filters: { type: 'massacre' } }, 'filters.type.0'],
    [{ url: 'https://hooks.example.com/x', filters: { colour: 'red' } }, 'filters.colour'],
    [{ url: 'https://hooks.example.com/x', event_types: ['event.removed'] }, 'event_types.0'],
    [{ url: 'https://hooks.example.com/x', secret: 'mine' }, 'secret'],
    [{}, 'url'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const response = await call('/subscriptions', { method: 'POST', headers: ADMIN, body: JSON.stringify(body) });
    expect(response.status).toBe(400);
    const error = ((await response.json()) as { error: { fields: { field: string }[] } }).error;
    expect(error.fields.map((problem) => problem.field)).toContain(field);
    const list = await getJson('/subscriptions', { headers: ADMIN });
    expect(JSON.stringify(list.body)).not.toContain('hooks.example.com/x');
  });

  it('deletes a subscription; unknown ids answer 404 and malformed ones 400', async () => {
    const { id } = await subscribe('https://hooks.example.com/deleted');
    expect((await call(`/subscriptions/${id}`, { method: 'DELETE', headers: ADMIN })).status).toBe(204);
    expect((await call(`/subscriptions/${id}`, { headers: ADMIN })).status).toBe(404);
    expect((await call(`/subscriptions/${id}`, { method: 'DELETE', headers: ADMIN })).status).toBe(404);
    expect((await call('/subscriptions/not-an-id', { headers: ADMIN })).status).toBe(400);
  });
});

describe('deliveries', () => {
  it('alerts matching subscribers once per record, signed per Standard Webhooks', async () => {
    const syriaUrl = 'https://hooks.example.com/syria';
    const allUrl = 'https://hooks.example.com/all';
    await subscribe(syriaUrl, { filters: { country: 'SY' } });
    await subscribe(allUrl);
    await ingest([syria('alert-syria-one'), makeEvent('alert-iraq-one', '2023-06-02')]);
    await vi.waitFor(() => expect(receiver.for(allUrl)).toHaveLength(2));
    await vi.waitFor(() => expect(receiver.for(syriaUrl)).toHaveLength(1));
    expect(receiver.for(syriaUrl)[0]).toMatchObject({ type: 'event.created', data: { id: 'alert-syria-one', revision: 1 } });
    expect(receiver.rejected).toEqual([]);

    // The same record again changes nothing and alerts no one.
    await ingest(syria('alert-syria-one'));
    // An edit is one event.updated with the next revision.
    await ingest({ ...syria('alert-syria-one'), title: 'Edited' });
    await vi.waitFor(() => expect(receiver.for(syriaUrl)).toHaveLength(2));
    expect(receiver.for(syriaUrl)[1]).toMatchObject({ type: 'event.updated', data: { id: 'alert-syria-one', revision: 2, title: 'Edited' } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.for(syriaUrl)).toHaveLength(2);
    expect(receiver.for(allUrl)).toHaveLength(3);
  });

  it('tells subscribers when an edit moves a record out of their filter', async () => {
    const url = 'https://hooks.example.com/syria-desk';
    await subscribe(url, { filters: { country: 'SY' } });
    await ingest(syria('reclassified-record', '2023-06-03'));
    await vi.waitFor(() => expect(receiver.for(url)).toHaveLength(1));
    await ingest(makeEvent('reclassified-record', '2023-06-03'));
    await vi.waitFor(() => expect(receiver.for(url)).toHaveLength(2));
    expect(receiver.for(url)[1]).toMatchObject({ type: 'event.updated', data: { id: 'reclassified-record', revision: 2, location: { country: 'IQ' } } });
    // Once out of the filter, further edits no longer concern it.
    await ingest({ ...makeEvent('reclassified-record', '2023-06-03'), title: 'Edited again' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.for(url)).toHaveLength(2);
  });

  it('gives each subscriber exactly one alert per record under 50 concurrent ingests', async () => {
    const urls = ['https://hooks.example.com/concurrent-a', 'https://hooks.example.com/concurrent-b'];
    for (const url of urls) await subscribe(url, { filters: { since: '2024-03-01', until: '2024-03-31' } });
    const ids = Array.from({ length: 50 }, (_, i) => `concurrency-${String(i).padStart(2, '0')}`);
    const responses = await Promise.all(ids.map((id, i) => ingest(makeEvent(id, `2024-03-${String((i % 28) + 1).padStart(2, '0')}`))));
    expect(responses.every((response) => response.status === 201)).toBe(true);
    for (const url of urls) {
      await vi.waitFor(() => expect(receiver.for(url)).toHaveLength(50), { timeout: 10_000 });
      expect(receiver.for(url).map((delivery) => delivery.data.id).sort()).toEqual(ids);
      expect(new Set(receiver.for(url).map((delivery) => delivery.id)).size).toBe(50);
    }
    const listed = await getJson('/events?since=2024-03-01&until=2024-03-31&limit=500');
    expect(listed.body.data).toHaveLength(50);
    expect(receiver.rejected).toEqual([]);
  });

  it('retries a failing endpoint with backoff, keeping the webhook-id, and logs every attempt', async () => {
    const url = 'https://hooks.example.com/flaky';
    const { id } = await subscribe(url);
    const record = makeEvent('retried-record', '2023-07-01');
    receiver.answer(url, 503);
    const message = await firstMessage(url, id, record);

    // The queue's own first attempt got 503; the consumer asked for a delayed retry. Replay attempt 2 directly.
    const first = receiver.for(url)[0]!;
    const second = await consume(message, 2);
    expect(second.explicitAcks).toHaveLength(1);
    const deliveries = receiver.for(url);
    expect(deliveries.map((delivery) => delivery.id)).toEqual([first.id, first.id]);
    const log = await getJson(`/subscriptions/${id}/deliveries`, { headers: ADMIN });
    expect(log.body.data.map((entry: { outcome: string; status: number; attempt: number }) => [entry.outcome, entry.status, entry.attempt])).toEqual([
      ['delivered', 204, 2],
      ['retrying', 503, 1],
    ]);
    for (const entry of log.body.data) {
      expect(entry).toMatchObject({ msg_id: first.id, type: 'event.created', record_id: 'retried-record' });
      expect(entry.latency_ms).toBeGreaterThanOrEqual(0);
      expect(Date.parse(entry.at)).not.toBeNaN();
    }
    expect(log.body.data[1].error).toBe('HTTP 503');
  });

  it('asks the queue for an exponentially growing delay', async () => {
    const url = 'https://hooks.example.com/down';
    const { id } = await subscribe(url);
    receiver.answer(url, 500, 500, 500, 500, 500, 500, 500);
    const message = await firstMessage(url, id, makeEvent('backoff-record', '2023-07-02'));
    const delays: number[] = [];
    for (const attempts of [2, 3, 4]) {
      const result = await consume(message, attempts);
      expect(result.retryMessages).toHaveLength(1);
      delays.push(result.retryDelays[0]!);
    }
    expect(delays[0]).toBeGreaterThanOrEqual(96);
    expect(delays[1]! / delays[0]!).toBeGreaterThan(3);
    expect(delays[2]! / delays[1]!).toBeGreaterThan(1.9);
  });

  it('keeps a message until its outcome is reported, and sends one the queue lost again with the same webhook-id and its attempt count', async () => {
    const url = 'https://hooks.example.com/lost-by-the-queue';
    const { id } = await subscribe(url);
    await ingest(makeEvent('lost-message-record', '2023-07-02'));
    await vi.waitFor(() => expect(receiver.for(url)).toHaveLength(1));
    const first = receiver.for(url)[0]!;
    const stub = env.COORDINATOR.getByName('main');
    const rows = () => runInDurableObject(stub, (_instance, state) => state.storage.sql.exec('SELECT COUNT(*) AS n FROM alert_outbox WHERE msg_id = ?', first.id).one().n);
    // Delivered and reported: the message has left the outbox.
    await vi.waitFor(async () => expect(await rows()).toBe(0));

    // The state a queue that lost the message after two failed attempts leaves: handed over, no news since.
    const body = JSON.stringify({ msg_id: first.id, subscription_id: id, type: 'event.created', record_id: 'lost-message-record', payload: first.body });
    await runInDurableObject(stub, async (_instance, state) => {
      state.storage.sql.exec(
        'INSERT INTO alert_outbox (msg_id, subscription_id, body, created_at, sent_at, resend_at, resends, attempts) VALUES (?, ?, ?, ?, ?, ?, 0, 2)',
        first.id, id, body, new Date().toISOString(), Date.now() - 60_000, Date.now() - 1,
      );
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    receiver.answer(url, 503);
    await runDurableObjectAlarm(stub);
    await vi.waitFor(() => expect(receiver.for(url)).toHaveLength(2));
    expect(receiver.for(url)[1]!.id).toBe(first.id);
    await vi.waitFor(async () => {
      const log = await getJson(`/subscriptions/${id}/deliveries`, { headers: ADMIN });
      expect(log.body.data[0]).toMatchObject({ msg_id: first.id, outcome: 'retrying', attempt: 3 });
    });
    // Still waiting for its outcome (a retry is due), so it stays in the outbox.
    expect(await rows()).toBe(1);
  });

  it('dead-letters a message it gives up on, and redelivers it on request', async () => {
    const url = 'https://hooks.example.com/redirecting';
    const { id } = await subscribe(url);
    receiver.answer(url, 302);
    await ingest(makeEvent('dead-letter-record', '2023-07-03'));
    await vi.waitFor(async () => {
      const letters = await getJson(`/subscriptions/${id}/dead-letters`, { headers: ADMIN });
      expect(letters.body.data).toEqual([expect.objectContaining({ record_id: 'dead-letter-record', reason: expect.stringContaining('redirects are not followed') })]);
    });
    const log = await getJson(`/subscriptions/${id}/deliveries`, { headers: ADMIN });
    expect(log.body.data.map((entry: { outcome: string }) => entry.outcome)).toEqual(['dead_lettered', 'failed']);

    const redeliver = await call(`/subscriptions/${id}/redeliver`, { method: 'POST', headers: ADMIN });
    expect(await redeliver.json()).toEqual({ queued: 1 });
    await vi.waitFor(() => expect(receiver.for(url)).toHaveLength(2));
    expect(receiver.for(url)[1]!.id).toBe(receiver.for(url)[0]!.id);
    expect((await getJson(`/subscriptions/${id}/dead-letters`, { headers: ADMIN })).body.data).toEqual([]);
  });

  it('dead-letters after the last attempt', async () => {
    const url = 'https://hooks.example.com/never';
    const { id } = await subscribe(url);
    receiver.answer(url, 500, 500);
    const message = await firstMessage(url, id, makeEvent('exhausted-record', '2023-07-04'));
    // Attempts are numbered from those recorded (runs the platform failed spend none): record nine.
    await vi.waitFor(async () => {
      const log = await getJson(`/subscriptions/${id}/deliveries`, { headers: ADMIN });
      expect(log.body.data).toHaveLength(1);
    });
    await runInDurableObject(env.COORDINATOR.getByName('main'), (_instance, state) => {
      state.storage.sql.exec('UPDATE alert_outbox SET attempts = 9 WHERE msg_id = ?', message.msg_id);
    });
    const last = await consume(message, 10);
    expect(last.retryMessages).toEqual([]);
    expect(last.explicitAcks).toHaveLength(1);
    await vi.waitFor(async () => {
      const letters = await getJson(`/subscriptions/${id}/dead-letters`, { headers: ADMIN });
      expect(letters.body.data).toEqual([expect.objectContaining({ record_id: 'exhausted-record', attempts: 10 })]);
    });
  });

  it('checks the target again before each delivery: a refused one is never fetched, fails for good and is dead-lettered', async () => {
    const url = 'https://hooks.example.com/recheck';
    const { id, secret } = await subscribe(url);
    const message = await firstMessage(url, id, makeEvent('recheck-record', '2023-07-05'));
    /** Stores `stored` as the subscription's URL, as rules looser than today's could have. */
    const storeUrl = (stored: string) => runInDurableObject(env.COORDINATOR.getByName('main'), (_instance, state) => void state.storage.sql.exec('UPDATE subscriptions SET url = ? WHERE id = ?', stored, id));
    const fetchedUrls = () => vi.mocked(fetch).mock.calls.map(([input]) => new Request(input).url);

    const refused: Array<[string, string]> = [
      ['https://hooks.example.com:25/recheck', 'target refused: url must use port 443 or 8443 (got 25)'],
      ['https://[::ffff:0:7f00:1]/recheck', 'target refused: url must not point to a loopback address (127.0.0.0/8), carried in an IPv6 address (::ffff:0:0:0/96)'],
      ['http://127.0.0.1:9000/recheck', 'target refused: url must not point to a loopback address (127.0.0.0/8)'],
    ];
    for (const [stored, reason] of refused) {
      await storeUrl(stored);
      const result = await consume(message, 2);
      expect(result.retryMessages, stored).toEqual([]);
      expect(result.explicitAcks, stored).toHaveLength(1);
      expect(fetchedUrls(), stored).not.toContain(stored);
      await vi.waitFor(async () => {
        const letters = await getJson(`/subscriptions/${id}/dead-letters`, { headers: ADMIN });
        expect(letters.body.data).toEqual([expect.objectContaining({ record_id: 'recheck-record', reason })]);
      });
      const log = await getJson(`/subscriptions/${id}/deliveries?limit=2`, { headers: ADMIN });
      expect(log.body.data.map((entry: { outcome: string; error: string }) => [entry.outcome, entry.error])).toEqual([['dead_lettered', reason], ['failed', reason]]);
    }

    // Where the deployment allows loopback receivers, the same stored URL is delivered to.
    receiver.register('http://127.0.0.1:9000/recheck', secret);
    const allowed = await consume(message, 3, { ...env, ALLOW_LOOPBACK_WEBHOOKS: 'true' });
    expect(allowed.explicitAcks).toHaveLength(1);
    expect(receiver.for('http://127.0.0.1:9000/recheck')).toHaveLength(1);
  });

  it('disables an endpoint after sustained failure, skips its messages, and re-enables on request', async () => {
    const url = 'https://hooks.example.com/failing-for-a-day';
    const { id } = await subscribe(url);
    await runInDurableObject(env.COORDINATOR.getByName('main'), (_instance, state) => {
      const since = new Date(Date.now() - 25 * 3_600_000).toISOString();
      const health = { consecutive_failures: 9, failing_since: since, last_failure: 'HTTP 500', last_success_at: null, disabled: null };
      state.storage.sql.exec('UPDATE subscriptions SET health = ? WHERE id = ?', JSON.stringify(health), id);
    });
    receiver.answer(url, 500);
    await ingest(makeEvent('disabling-record', '2023-07-05'));
    await vi.waitFor(async () => {
      const subscription = await getJson(`/subscriptions/${id}`, { headers: ADMIN });
      expect(subscription.body.status).toBe('disabled');
      expect(subscription.body.health.disabled.reason).toMatch(/10 failed attempts in a row over 25 hours/);
    });
    await ingest(makeEvent('while-disabled', '2023-07-06'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.for(url).map((delivery) => delivery.data.id)).toEqual(['disabling-record']);

    const enabled = await call(`/subscriptions/${id}/enable`, { method: 'POST', headers: ADMIN });
    expect(((await enabled.json()) as { status: string }).status).toBe('active');
    await ingest(makeEvent('after-enable', '2023-07-07'));
    await vi.waitFor(() => expect(receiver.for(url).map((delivery) => delivery.data.id)).toContain('after-enable'));
  });

  it('disables at once on 410 Gone', async () => {
    const url = 'https://hooks.example.com/gone';
    const { id } = await subscribe(url);
    receiver.answer(url, 410);
    await ingest(makeEvent('gone-record', '2023-07-08'));
    await vi.waitFor(async () => expect((await getJson(`/subscriptions/${id}`, { headers: ADMIN })).body.status).toBe('disabled'));
  });

  it('sends a signed ping on POST /subscriptions/:id/test', async () => {
    const url = 'https://hooks.example.com/ping';
    const { id } = await subscribe(url);
    const response = await call(`/subscriptions/${id}/test`, { method: 'POST', headers: ADMIN });
    expect(response.status).toBe(202);
    const { msg_id } = (await response.json()) as { msg_id: string };
    await vi.waitFor(() => expect(receiver.for(url)).toHaveLength(1));
    expect(receiver.for(url)[0]).toMatchObject({ id: msg_id, type: 'ping', data: { subscription_id: id } });
    expect((await call('/subscriptions/sub_00000000000000000000000000000000/test', { method: 'POST', headers: ADMIN })).status).toBe(404);
  });

  it('alerts records found by the cron reconciliation', async () => {
    const url = 'https://hooks.example.com/bulk';
    await subscribe(url);
    const outside = makeEvent('bulk-put-alerted', '2023-07-09');
    await env.EVENTS.put(eventKey(outside.id), JSON.stringify(outside));
    await worker.scheduled({ scheduledTime: Date.now(), cron: '*/5 * * * *', noRetry() {} } as ScheduledController, env);
    await vi.waitFor(() => expect(receiver.for(url).map((delivery) => delivery.data.id)).toContain('bulk-put-alerted'));
    await worker.scheduled({ scheduledTime: Date.now(), cron: '*/5 * * * *', noRetry() {} } as ScheduledController, env);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.for(url).filter((delivery) => delivery.data.id === 'bulk-put-alerted')).toHaveLength(1);
  });

});
