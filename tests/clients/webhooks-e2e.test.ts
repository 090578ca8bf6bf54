/**
 * Webhook alerts as an integrator sees them, with real processes only: the
 * Worker under `wrangler dev` (local workerd, local KV and queues persisted
 * to a temporary folder, loopback targets allowed, bundled seeding off) and
 * the example receiver `examples/receiver.mjs`, which verifies every
 * delivery with the `standardwebhooks` package and logs it on stdout.
 *
 * In order: a test ping arrives verified; a new record is alerted once as
 * `event.created`; posting it again alerts nothing; an edit is alerted as
 * `event.updated` revision 2; a record written with the CLI's
 * `wrangler kv bulk put --local` into the same persisted KV is alerted once
 * the cron is triggered (`/cdn-cgi/local/scheduled`, which wrangler dev
 * always serves); the delivery log shows every attempt delivered with 204
 * and a latency. A second receiver holding the wrong secret answers 400,
 * which the delivery policy treats as permanent: the attempt is logged
 * `failed` and the message dead-lettered, never retried.
 *
 * Then what follows changes: `DELETE /events/:id` reaches the receiver as a
 * verified `event.deleted`; after `rotate-secret`, a delivery caught by a
 * capturing server in this process verifies with both the old and the new
 * secret (`standardwebhooks`), and the example receiver, still holding the
 * old secret, goes on accepting; a replay of the whole change log re-sends
 * every record alert the receiver had accepted, with the same webhook-ids
 * (the receiver logs each as a repeat), named by the replay in the delivery
 * log; and a WebSub subscriber in this process is asked to verify its intent
 * with `hub.challenge`, then gets the topic's new feed pushed after a
 * `POST /events`, with `X-Hub-Signature` checked here with node:crypto.
 *
 * `wrangler dev` rather than wrangler's test harness: the harness keeps its
 * storage to itself, and the bulk put must reach the same local KV.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEntry } from '../../functions/domain/change-feed.ts';
import { eventKey } from '../../functions/domain/layout.ts';
import type { Event } from '../../functions/domain/schema.ts';
import type { DeliveryAttempt } from '../../functions/store/subscriptions-table.ts';
import { makeEventInput } from '../fixtures/records.ts';
import { accepted, bulkPutKv, freePorts, lastLines, startReceiver, startWranglerDev, stop, waitFor, type DevServer, type Receiver } from './processes.ts';

const TOKEN = 'e2e-admin-token';

/** A request a capturing server received: method, URL, headers and raw body. */
interface Captured {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A plain HTTP server on `port` in this process that keeps every request and
 * answers 204, or, for a GET carrying `hub.challenge`, echoes the challenge
 * (a WebSub subscriber confirming its intent).
 */
async function startCapture(port: number): Promise<{ server: Server; requests: Captured[] }> {
  const requests: Captured[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', `http://127.0.0.1:${port}`);
    requests.push({ method: request.method ?? '', url, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
    const challenge = url.searchParams.get('hub.challenge');
    if (request.method === 'GET' && challenge !== null) response.writeHead(200, { 'content-type': 'text/plain' }).end(challenge);
    else response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, requests };
}

/** Whether `secret` verifies a captured delivery with the `standardwebhooks` package. */
function verifies(secret: string, delivery: Captured): boolean {
  try {
    new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
}

describe('webhook alerts to the example receiver, from wrangler dev', { timeout: 60_000 }, () => {
  let tmp = '';
  let persistTo = '';
  let worker: DevServer | undefined;
  let receiver: Receiver | undefined;
  let wrongSecretReceiver: Receiver | undefined;
  let subscriptionId = '';
  let secret = '';
  const captures: Server[] = [];

  const workerLog = () => `wrangler dev output:\n${lastLines(worker)}`;
  const receiverLog = (which: Receiver | undefined) => () => `receiver output:\n${which?.lines.join('\n')}\n${workerLog()}`;

  /** Calls the Worker with the admin token; JSON bodies are sent and parsed. */
  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${worker!.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** Subscribes a loopback URL on a fresh port; the subscription and its one-time secret. */
  async function subscribe(): Promise<{ id: string; secret: string; port: number }> {
    const port = (await freePorts(1))[0]!;
    const created = await api('POST', '/subscriptions', { url: `http://127.0.0.1:${port}/`, description: 'webhooks-e2e' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return { id: created.body.id, secret: created.body.secret, port };
  }

  /** The delivery log of a subscription, newest first. */
  async function deliveries(id: string): Promise<DeliveryAttempt[]> {
    const log = await api('GET', `/subscriptions/${id}/deliveries`);
    expect(log.status).toBe(200);
    return log.body.data;
  }

  /** Pings the receiver's subscription and waits until the receiver has accepted the ping; its message id. */
  async function pingAndWait(): Promise<string> {
    const ping = await api('POST', `/subscriptions/${subscriptionId}/test`);
    expect(ping.status).toBe(202);
    const msgId: string = ping.body.msg_id;
    await waitFor(`ping ${msgId}`, () => accepted(receiver!).find((delivery) => delivery.msgId === msgId), receiverLog(receiver));
    return msgId;
  }

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'strikewire-webhooks-e2e-'));
    persistTo = join(tmp, 'state');
    worker = await startWranglerDev(persistTo, TOKEN);
    const subscription = await subscribe();
    subscriptionId = subscription.id;
    secret = subscription.secret;
    receiver = await startReceiver(secret, subscription.port);
  });

  afterAll(async () => {
    await Promise.all([stop(receiver), stop(wrongSecretReceiver), stop(worker), ...captures.map((server) => new Promise((resolve) => server.close(resolve)))]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('delivers a test ping that the receiver verifies', async () => {
    const msgId = await pingAndWait();
    expect(accepted(receiver!)).toEqual([{ msgId, type: 'ping', detail: `subscription ${subscriptionId}` }]);
  });

  it('alerts a new record once as event.created, and the same record posted again not at all', async () => {
    const record = makeEventInput('e2e-posted', '2024-02-02');
    const created = await api('POST', '/events', record);
    expect(created.status).toBe(201);
    expect(created.body.results).toMatchObject([{ id: record.id, change: 'created', revision: 1 }]);
    await waitFor('event.created for e2e-posted', () => accepted(receiver!).find((delivery) => delivery.type === 'event.created'), receiverLog(receiver));

    const again = await api('POST', '/events', record);
    expect(again.status).toBe(200);
    expect(again.body.results).toMatchObject([{ id: record.id, change: 'unchanged', revision: 1 }]);
    // A ping queued after the repost arrives after anything the repost could have queued.
    const barrier = await pingAndWait();
    expect(accepted(receiver!).filter((delivery) => delivery.type !== 'ping')).toEqual([
      { msgId: expect.stringMatching(/^msg_/), type: 'event.created', detail: `e2e-posted (revision 1): ${record.title}` },
    ]);
    expect(accepted(receiver!).at(-1)?.msgId).toBe(barrier);
  });

  it('alerts an edit as event.updated revision 2', async () => {
    const edited = makeEventInput('e2e-posted', '2024-02-02', { title: 'Synthetic event e2e-posted, corrected' });
    const updated = await api('POST', '/events', edited);
    expect(updated.status).toBe(200);
    expect(updated.body.results).toMatchObject([{ id: edited.id, change: 'updated', revision: 2 }]);
    const delivery = await waitFor('event.updated for e2e-posted', () => accepted(receiver!).find((entry) => entry.type === 'event.updated'), receiverLog(receiver));
    expect(delivery.detail).toBe(`e2e-posted (revision 2): ${edited.title}`);
  });

  it('alerts a record put into local KV by `wrangler kv bulk put` once the cron runs', async () => {
    const record: Event = { ...makeEventInput('e2e-bulk-put', '2024-03-03'), revision: 1, created_at: '2024-03-04T00:00:00.000Z', updated_at: '2024-03-04T00:00:00.000Z' };
    await bulkPutKv(persistTo, tmp, [{ key: eventKey(record.id), value: JSON.stringify(record) }]);

    const listed = async () => (await (await fetch(`${worker!.base}/events?since=2024-03-01&until=2024-03-31`)).json()) as { data: { id: string }[] };
    expect((await listed()).data).toEqual([]);
    expect(accepted(receiver!).some((delivery) => delivery.detail.startsWith('e2e-bulk-put '))).toBe(false);

    const cron = await fetch(`${worker!.base}/cdn-cgi/local/scheduled`);
    expect(cron.status).toBe(200);
    // Adopted into the truth by the cron, then published to KV by the Coordinator's alarm.
    const ids = await waitFor('e2e-bulk-put in /events', async () => {
      const found = (await listed()).data.map((event) => event.id);
      return found.length > 0 ? found : undefined;
    }, () => 'not listed');
    expect(ids).toEqual([record.id]);
    const delivery = await waitFor('event.created for e2e-bulk-put', () => accepted(receiver!).find((entry) => entry.detail.startsWith('e2e-bulk-put ')), receiverLog(receiver));
    expect(delivery).toMatchObject({ type: 'event.created', detail: `e2e-bulk-put (revision 1): ${record.title}` });
  });

  it('logs every delivery once, delivered with status 204 and a latency, matching what the receiver accepted', async () => {
    const log = await deliveries(subscriptionId);
    expect(log.map(({ type, record_id }) => `${type} ${record_id}`).sort()).toEqual(['event.created e2e-bulk-put', 'event.created e2e-posted', 'event.updated e2e-posted', 'ping null', 'ping null']);
    for (const entry of log) {
      expect(entry).toMatchObject({ outcome: 'delivered', status: 204, attempt: 1, error: null });
      expect(entry.latency_ms).toEqual(expect.any(Number));
      expect(entry.latency_ms).toBeGreaterThanOrEqual(0);
    }
    expect(new Set(log.map((entry) => entry.msg_id))).toEqual(new Set(accepted(receiver!).map((delivery) => delivery.msgId)));
    expect(receiver!.lines.filter((line) => / again \(a retry or duplicate\)|^rejected: /.test(line))).toEqual([]);
  });

  it('gives up at once on a receiver with the wrong secret: its 400 is logged failed, then dead-lettered', async () => {
    const subscription = await subscribe();
    wrongSecretReceiver = await startReceiver(secret, subscription.port); // the first subscription's secret, not this one's
    const ping = await api('POST', `/subscriptions/${subscription.id}/test`);
    expect(ping.status).toBe(202);

    const log = await waitFor(
      'the dead letter of the rejected ping',
      async () => {
        const entries = await deliveries(subscription.id);
        return entries.some((entry) => entry.outcome === 'dead_lettered') ? entries : undefined;
      },
      receiverLog(wrongSecretReceiver),
    );
    // 400 is a permanent failure (functions/domain/delivery-policy.ts): one attempt, no retry.
    expect(log.map(({ outcome, status, error, attempt, msg_id }) => ({ outcome, status, error, attempt, msg_id }))).toEqual([
      { outcome: 'dead_lettered', status: null, error: 'HTTP 400', attempt: 1, msg_id: ping.body.msg_id },
      { outcome: 'failed', status: 400, error: 'HTTP 400', attempt: 1, msg_id: ping.body.msg_id },
    ]);
    expect(log[1]!.latency_ms).toEqual(expect.any(Number));
    expect(wrongSecretReceiver.lines.filter((line) => line.startsWith('rejected: '))).toHaveLength(1);
    expect(accepted(wrongSecretReceiver)).toEqual([]);

    const letters = await api('GET', `/subscriptions/${subscription.id}/dead-letters`);
    expect(letters.body.data).toMatchObject([{ msg_id: ping.body.msg_id, type: 'ping', reason: 'HTTP 400', attempts: 1 }]);
    const state = await api('GET', `/subscriptions/${subscription.id}`);
    expect(state.body).toMatchObject({ status: 'active', health: { consecutive_failures: 1, last_failure: 'HTTP 400' } });
  });
  it('alerts a retraction as event.deleted, verified by the receiver', async () => {
    const retracted = await api('DELETE', '/events/e2e-posted', { reason: 'Duplicate report' });
    expect(retracted.status).toBe(200);
    expect(retracted.body).toMatchObject({ id: 'e2e-posted', revision: 3, reason: 'Duplicate report' });
    const delivery = await waitFor('event.deleted for e2e-posted', () => accepted(receiver!).find((entry) => entry.type === 'event.deleted'), receiverLog(receiver));
    expect(delivery.detail).toBe('e2e-posted (revision 3): retracted, Duplicate report');
    expect((await fetch(`${worker!.base}/events/e2e-posted`, { headers: { accept: 'application/json' } })).status).toBe(410);
    expect(receiver!.lines.filter((line) => line.startsWith('rejected: '))).toEqual([]);
  });

  it('signs with both secrets after rotate-secret: each verifies alone, and a receiver holding the old one goes on accepting', async () => {
    const subscription = await subscribe();
    const capture = await startCapture(subscription.port);
    captures.push(capture.server);
    const rotation = await api('POST', `/subscriptions/${subscription.id}/rotate-secret`, { grace_seconds: 3_600 });
    expect(rotation.status).toBe(200);
    const newSecret: string = rotation.body.secret;
    expect(newSecret).not.toBe(subscription.secret);

    const record = makeEventInput('e2e-rotated', '2024-04-04');
    expect((await api('POST', '/events', record)).status).toBe(201);
    const delivery = await waitFor('event.created for e2e-rotated at the capturing server', () => capture.requests.find((request) => request.body.includes('"e2e-rotated"')), workerLog);
    expect(String(delivery.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifies(subscription.secret, delivery)).toBe(true);
    expect(verifies(newSecret, delivery)).toBe(true);
    expect(verifies(secret, delivery)).toBe(false); // another subscription's secret

    // The example receiver's subscription, rotated too: the receiver still holds the old secret and accepts.
    const mainRotation = await api('POST', `/subscriptions/${subscriptionId}/rotate-secret`);
    expect(mainRotation.status).toBe(200);
    const received = await waitFor('event.created for e2e-rotated at the example receiver', () => accepted(receiver!).find((entry) => entry.detail.startsWith('e2e-rotated ')), receiverLog(receiver));
    expect(received.type).toBe('event.created');
    const ping = await pingAndWait();
    expect(ping).toMatch(/^msg_/);
  });

  it('replays the change log with the original webhook-ids, which the receiver recognises as repeats', async () => {
    const changes: ChangeEntry[] = [];
    for (let since = ''; ; ) {
      const page = (await (await fetch(`${worker!.base}/changes${since ? `?since=${since}` : ''}`)).json()) as { data: ChangeEntry[]; next: string };
      if (page.data.length === 0) break;
      changes.push(...page.data);
      since = page.next;
    }
    expect(changes.map((change) => `${change.kind} ${change.id}`)).toEqual(['created e2e-posted', 'updated e2e-posted', 'created e2e-bulk-put', 'retracted e2e-posted', 'created e2e-rotated']);
    const originals = accepted(receiver!).filter((delivery) => delivery.type !== 'ping');
    expect(originals).toHaveLength(5);

    const until = new Date(Date.parse(changes.at(-1)!.changed_at) + 1).toISOString();
    const started = await api('POST', `/subscriptions/${subscriptionId}/replay`, { since: changes[0]!.changed_at, until });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body).toMatchObject({ replay_id: expect.stringMatching(/^rpl_/), changes_in_window: 5, status: 'queued' });
    const repeats = () => receiver!.lines.flatMap((line) => /^(msg_[0-9a-f]{32}) again \(a retry or duplicate\)/.exec(line)?.[1] ?? []);
    await waitFor('five repeats at the receiver', () => (repeats().length >= 5 ? true : undefined), receiverLog(receiver));
    expect(new Set(repeats())).toEqual(new Set(originals.map((delivery) => delivery.msgId)));
    expect(receiver!.lines.filter((line) => line.startsWith('rejected: '))).toEqual([]);
    const log = await deliveries(subscriptionId);
    expect(new Set(log.filter((entry) => entry.replay_id === started.body.replay_id && entry.outcome === 'delivered').map((entry) => entry.msg_id))).toEqual(new Set(originals.map((delivery) => delivery.msgId)));
  });

  it('verifies a WebSub subscriber\'s intent with hub.challenge, then pushes the topic\'s new feed with X-Hub-Signature', async () => {
    const [port] = await freePorts(1);
    const subscriber = await startCapture(port!);
    captures.push(subscriber.server);
    const callback = `http://127.0.0.1:${port}/websub-callback`;
    const topic = `${worker!.base}/feed.atom?country=SY`;
    const hubSecret = 'e2e websub secret';
    const subscribed = await fetch(`${worker!.base}/websub`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ 'hub.mode': 'subscribe', 'hub.topic': topic, 'hub.callback': callback, 'hub.secret': hubSecret }).toString(),
    });
    expect(subscribed.status, await subscribed.clone().text()).toBe(202);
    const verification = await waitFor('the hub to verify intent', () => subscriber.requests.find((request) => request.method === 'GET'), workerLog);
    expect(verification.url.pathname).toBe('/websub-callback');
    expect(verification.url.searchParams.get('hub.mode')).toBe('subscribe');
    expect(verification.url.searchParams.get('hub.topic')).toBe(topic);
    expect(verification.url.searchParams.get('hub.challenge')).toMatch(/^[0-9a-f]{64}$/);
    // The hub activates the subscription once the callback has answered: the operator's list shows it then.
    const active = await waitFor('the WebSub subscription to become active', async () => {
      const listed = await api('GET', '/admin/websub');
      return (listed.body.data as { id: string; callback: string; topic: string; signed: boolean }[]).find((subscription) => subscription.callback === callback);
    }, workerLog);
    expect(active).toMatchObject({ topic, signed: true });

    const record = makeEventInput('e2e-websub-syria', '2024-05-05', { location: { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' } });
    expect((await api('POST', '/events', record)).status).toBe(201);
    const push = await waitFor('the pushed feed', () => subscriber.requests.find((request) => request.method === 'POST'), workerLog);
    expect(push.url.pathname).toBe('/websub-callback');
    expect(push.headers['content-type']).toMatch(/^application\/atom\+xml/);
    expect(push.headers.link).toBe(`<${worker!.base}/websub>; rel="hub", <${topic}>; rel="self"`);
    expect(push.headers['x-hub-signature']).toBe(`sha256=${createHmac('sha256', hubSecret).update(push.body).digest('hex')}`);
    expect(push.body).toContain('<feed');
    expect(push.body).toContain('tag:strikewire,2026:event:e2e-websub-syria');
    expect(push.body).not.toContain('e2e-rotated'); // an Iraqi record: not in this topic
    const log = await waitFor('the push in the WebSub delivery log', async () => {
      const entries = (await api('GET', `/admin/websub/${active.id}/deliveries`)).body.data as { outcome: string }[];
      return entries.length > 0 ? entries : undefined;
    }, workerLog);
    expect(log.map((entry) => entry.outcome)).toEqual(['delivered']);
  });
});
