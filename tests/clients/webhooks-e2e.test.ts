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
 * `wrangler dev` rather than wrangler's test harness: the harness keeps its
 * storage to itself, and the bulk put must reach the same local KV.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventKey } from '../../functions/domain/layout.ts';
import type { Event, EventInput } from '../../functions/domain/schema.ts';
import type { DeliveryAttempt } from '../../functions/store/subscriptions-table.ts';
import { makeEvent } from '../fixtures/records.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RECEIVER_SCRIPT = fileURLToPath(new URL('../../examples/receiver.mjs', import.meta.url));
const WRANGLER = join(createRequire(import.meta.url).resolve('wrangler/package.json'), '../bin/wrangler.js');
const TOKEN = 'e2e-admin-token';
/** Child environment for wrangler: no metrics, and no fetch of the `Request.cf` placeholder from the network. */
const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
/** How long one expected delivery may take: the local queue batches for up to 2 s (wrangler.toml). */
const DELIVERY_DEADLINE_MS = 20_000;

/** A child process started by this file, with every line it wrote to stdout and stderr. */
interface Started {
  child: ChildProcess;
  lines: string[];
}

/** A running example receiver and the URL it listens on. */
interface Receiver extends Started {
  url: string;
}

/** One delivery the example receiver accepted, parsed from its log line. */
interface Accepted {
  msgId: string;
  type: string;
  /** `subscription <id>` for a ping, `<record id> (revision <n>): <title>` for a record. */
  detail: string;
}

/** `count` distinct ports on 127.0.0.1 that were free a moment ago (all are held open until all are chosen). */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(
    servers.map(async (server) => {
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address for a port-0 listener');
      return address.port;
    }),
  );
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Starts `node <args>` in its own process group (so that `stop` ends its children too), collecting its output lines. */
function start(args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream! }).on('line', (line) => lines.push(line));
  return { child, lines };
}

/** Whether a started process has ended. */
const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/** Ends a started process and its process group: SIGTERM, then SIGKILL if it has not exited within 5 s. */
async function stop(started: Started | undefined): Promise<void> {
  const { child } = started ?? {};
  if (!child?.pid || hasExited(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Polls `probe` every 100 ms until it returns a value other than undefined; throws after `timeoutMs`, with `context()` in the message. */
async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, context: () => string, timeoutMs = DELIVERY_DEADLINE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The deliveries a receiver accepted, in arrival order. */
function accepted(receiver: Receiver): Accepted[] {
  return receiver.lines.flatMap((line) => {
    const match = /^(msg_[0-9a-f]{32}) (ping|event\.created|event\.updated) at \S+: (.*)$/.exec(line);
    return match ? [{ msgId: match[1]!, type: match[2]!, detail: match[3]! }] : [];
  });
}

/** A valid record as a writer submits it: the server keeps revision and timestamps. */
function eventInput(id: string, date: string, title = `Synthetic event ${id}`): EventInput {
  const { revision: _revision, created_at: _created, updated_at: _updated, ...input } = makeEvent(id, date, { title });
  return input;
}

describe('webhook alerts to the example receiver, from wrangler dev', { timeout: 60_000 }, () => {
  let tmp = '';
  let persistTo = '';
  let base = '';
  let worker: Started | undefined;
  let receiver: Receiver | undefined;
  let wrongSecretReceiver: Receiver | undefined;
  let subscriptionId = '';
  let secret = '';

  const workerLog = () => `wrangler dev output:\n${worker?.lines.slice(-40).join('\n')}`;
  const receiverLog = (which: Receiver | undefined) => () => `receiver output:\n${which?.lines.join('\n')}\n${workerLog()}`;

  /** Calls the Worker with the admin token; JSON bodies are sent and parsed. */
  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${base}${path}`, {
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

  /** Starts examples/receiver.mjs with `webhookSecret` on `port` and waits until it listens. */
  async function startReceiver(webhookSecret: string, port: number): Promise<Receiver> {
    const started = { ...start([RECEIVER_SCRIPT], { ...process.env, WEBHOOK_SECRET: webhookSecret, PORT: String(port) }), url: `http://127.0.0.1:${port}/` };
    await waitFor(`the receiver to listen on ${started.url}`, () => (started.lines.includes(`listening on ${started.url}`) ? true : undefined), receiverLog(started), 10_000);
    return started;
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
    const [port, inspectorPort] = (await freePorts(2)) as [number, number];
    base = `http://127.0.0.1:${port}`;
    worker = start(
      [
        WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort), '--persist-to', persistTo,
        '--var', `ADMIN_TOKEN:${TOKEN}`, '--var', 'ALLOW_LOOPBACK_WEBHOOKS:true', '--var', 'SEED_FROM_BUNDLE:false', '--show-interactive-dev-session=false',
      ],
      WRANGLER_ENV,
    );
    await waitFor(
      `wrangler dev to serve ${base}/healthz`,
      async () => {
        if (hasExited(worker!.child)) throw new Error(`wrangler dev exited (${worker!.child.exitCode ?? worker!.child.signalCode})\n${workerLog()}`);
        return (await fetch(`${base}/healthz`).catch(() => null))?.ok ? true : undefined;
      },
      workerLog,
      60_000,
    );
    const subscription = await subscribe();
    subscriptionId = subscription.id;
    secret = subscription.secret;
    receiver = await startReceiver(secret, subscription.port);
  });

  afterAll(async () => {
    await Promise.all([stop(receiver), stop(wrongSecretReceiver), stop(worker)]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('delivers a test ping that the receiver verifies', async () => {
    const msgId = await pingAndWait();
    expect(accepted(receiver!)).toEqual([{ msgId, type: 'ping', detail: `subscription ${subscriptionId}` }]);
  });

  it('alerts a new record once as event.created, and the same record posted again not at all', async () => {
    const record = eventInput('e2e-posted', '2024-02-02');
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
    const edited = eventInput('e2e-posted', '2024-02-02', 'Synthetic event e2e-posted, corrected');
    const updated = await api('POST', '/events', edited);
    expect(updated.status).toBe(200);
    expect(updated.body.results).toMatchObject([{ id: edited.id, change: 'updated', revision: 2 }]);
    const delivery = await waitFor('event.updated for e2e-posted', () => accepted(receiver!).find((entry) => entry.type === 'event.updated'), receiverLog(receiver));
    expect(delivery.detail).toBe(`e2e-posted (revision 2): ${edited.title}`);
  });

  it('alerts a record put into local KV by `wrangler kv bulk put` once the cron runs', async () => {
    const record: Event = { ...eventInput('e2e-bulk-put', '2024-03-03'), revision: 1, created_at: '2024-03-04T00:00:00.000Z', updated_at: '2024-03-04T00:00:00.000Z' };
    const file = join(tmp, 'bulk.json');
    writeFileSync(file, JSON.stringify([{ key: eventKey(record.id), value: JSON.stringify(record) }]));
    await promisify(execFile)(process.execPath, [WRANGLER, 'kv', 'bulk', 'put', '--local', '--binding', 'EVENTS', file, '--persist-to', persistTo], { cwd: ROOT, env: WRANGLER_ENV });

    const listed = async () => (await (await fetch(`${base}/events?since=2024-03-01&until=2024-03-31`)).json()) as { data: { id: string }[] };
    expect((await listed()).data).toEqual([]);
    expect(accepted(receiver!).some((delivery) => delivery.detail.startsWith('e2e-bulk-put '))).toBe(false);

    const cron = await fetch(`${base}/cdn-cgi/local/scheduled`);
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
});
