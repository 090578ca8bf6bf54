/**
 * Real processes for the client tests: `wrangler dev` serving the Worker on a
 * free loopback port with its local state persisted to a folder (empty, or
 * with the curated dataset published), the example
 * webhook receiver `examples/receiver.mjs`, and `wrangler kv bulk put
 * --local` into the same persisted KV. Every process runs in its own process
 * group, so that stopping or killing it ends its children (workerd) too.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import events from '../../data/events.json';

/** The repository root, the working directory of every process started here. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RECEIVER_SCRIPT = fileURLToPath(new URL('../../examples/receiver.mjs', import.meta.url));
const WRANGLER = join(createRequire(import.meta.url).resolve('wrangler/package.json'), '../bin/wrangler.js');
/** Child environment for wrangler: no metrics, and no fetch of the `Request.cf` placeholder from the network. */
const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
/** How long one expected webhook delivery may take: the local queue batches for up to 2 s (wrangler.toml). */
const DELIVERY_DEADLINE_MS = 20_000;

/** A child process started by this module, with every line it wrote to stdout and stderr. */
export interface Started {
  child: ChildProcess;
  lines: string[];
}

/** A running `wrangler dev` and the base URL it serves. */
export interface DevServer extends Started {
  base: string;
}

/** A running example receiver and the URL it listens on. */
export interface Receiver extends Started {
  url: string;
}

/** One delivery the example receiver accepted, parsed from its log line. */
export interface Accepted {
  msgId: string;
  type: string;
  /** `subscription <id>` for a ping, `<record id> (revision <n>): <title>` for a record, `<record id> (revision <n>): retracted, <reason>` for a retraction. */
  detail: string;
}

/**
 * The ports to pick from, as `STRIKEWIRE_TEST_PORTS=9100-9999` gives them
 * (on a machine shared by several test runs); null when unset: any port the
 * system hands out.
 */
function portRange(): { low: number; high: number } | null {
  const match = /^(\d+)-(\d+)$/.exec(process.env.STRIKEWIRE_TEST_PORTS ?? '');
  return match ? { low: Number(match[1]), high: Number(match[2]) } : null;
}

/** Listens on 127.0.0.1:`port` (0: any free port); the port, or null when it is taken. */
async function holdPort(server: ReturnType<typeof createServer>, port: number): Promise<number | null> {
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  } catch {
    return null;
  }
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address for a listener');
  return address.port;
}

/** `count` distinct ports on 127.0.0.1 that were free a moment ago (all are held open until all are chosen), within `STRIKEWIRE_TEST_PORTS` when set. */
export async function freePorts(count: number): Promise<number[]> {
  const range = portRange();
  const servers: ReturnType<typeof createServer>[] = [];
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (range && tries > 10 * (range.high - range.low + 1)) throw new Error(`no ${count} free ports in STRIKEWIRE_TEST_PORTS=${process.env.STRIKEWIRE_TEST_PORTS}`);
    const server = createServer();
    const port = await holdPort(server, range ? range.low + Math.floor(Math.random() * (range.high - range.low + 1)) : 0);
    if (port === null) continue;
    servers.push(server);
    ports.push(port);
  }
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
export const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/** Whether any process of the group led by `pid` is still alive. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until every process of the group led by `pid` has gone (zombies of other parents included); throws after 10 s. */
async function groupGone(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process group ${pid} still has processes 10 s after SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The text of wrangler 4.124's dev-proxy race (workers-sdk #14926, #15317,
 * #15451): its ProxyWorker and the Worker's workerd both drop a pooled
 * connection that has been idle about 5 s, and a request sent on it as it
 * closes fails with this message: the client gets a 500 carrying it, and
 * wrangler reports "Error inside ProxyWorker" and exits. It is the dev
 * server's fault, not the Worker's; tests treat it as one more crash.
 */
export const PROXY_RACE_MESSAGE = 'Network connection lost';

/** Whether the output of `wrangler dev` carries the ProxyWorker's error with PROXY_RACE_MESSAGE. */
const reportedProxyRace = (server: Started): boolean => server.lines.some((line) => line.includes('Error inside ProxyWorker')) && server.lines.some((line) => line.includes(PROXY_RACE_MESSAGE));

/** Whether `wrangler dev` exited of the proxy race: it is not running and its output carries the ProxyWorker's error with PROXY_RACE_MESSAGE. */
export const exitedOfProxyRace = (server: Started): boolean => hasExited(server.child) && reportedProxyRace(server);

/** Whether `wrangler dev` reports the proxy race within `waitMs` (after a 500 carrying PROXY_RACE_MESSAGE: a 500 the Worker itself sent is never taken for it). */
export async function reportsProxyRace(server: Started, waitMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  while (!reportedProxyRace(server) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return reportedProxyRace(server);
}

/** Ends a started process and its process group: SIGTERM, then SIGKILL if it has not exited within 5 s. */
export async function stop(started: Started | undefined): Promise<void> {
  const { child } = started ?? {};
  if (!child?.pid || hasExited(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** `kill -9` of a started process's whole group (wrangler, workerd and any helper), returning once none of them is left. */
export async function crash(started: Started): Promise<void> {
  const pid = started.child.pid!;
  const exited = hasExited(started.child) ? Promise.resolve() : new Promise((resolve) => started.child.once('exit', resolve));
  if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
  await exited;
  await groupGone(pid);
}

/** Polls `probe` every 100 ms until it returns a value other than undefined; throws after `timeoutMs`, with `context()` in the message. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, context: () => string, timeoutMs = DELIVERY_DEADLINE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The last `count` output lines of a started process, for failure messages. */
export const lastLines = (started: Started | undefined, count = 40): string => started?.lines.slice(-count).join('\n') ?? '(not started)';

/**
 * Starts `wrangler dev` on a free loopback port with its local KV, Durable
 * Object storage and queues persisted to `persistTo`, the admin token
 * `adminToken`, loopback webhook targets allowed and bundled seeding off,
 * and waits until it serves `/healthz`.
 */
export async function startWranglerDev(persistTo: string, adminToken: string): Promise<DevServer> {
  const [port, inspectorPort] = (await freePorts(2)) as [number, number];
  const base = `http://127.0.0.1:${port}`;
  const worker = {
    ...start(
      [
        WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort), '--persist-to', persistTo,
        '--var', `ADMIN_TOKEN:${adminToken}`, '--var', 'ALLOW_LOOPBACK_WEBHOOKS:true', '--var', 'SEED_FROM_BUNDLE:false', '--show-interactive-dev-session=false',
      ],
      WRANGLER_ENV,
    ),
    base,
  };
  try {
    await waitFor(
      `wrangler dev to serve ${base}/healthz`,
      async () => {
        if (hasExited(worker.child)) throw new Error(`wrangler dev exited (${worker.child.exitCode ?? worker.child.signalCode})\n${lastLines(worker)}`);
        return (await fetch(`${base}/healthz`).catch(() => null))?.ok ? true : undefined;
      },
      () => `wrangler dev output:\n${lastLines(worker)}`,
      60_000,
    );
  } catch (error) {
    await stop(worker);
    throw error;
  }
  return worker;
}

/**
 * Starts `wrangler dev` (as `startWranglerDev`) and posts the curated dataset
 * of `data/events.json` to it, returning once it is published.
 */
export async function startWithCuratedData(persistTo: string): Promise<DevServer> {
  const token = 'curated-data-admin-token';
  const worker = await startWranglerDev(persistTo, token);
  try {
    const admin = { authorization: `Bearer ${token}` };
    const posted = await fetch(`${worker.base}/events`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(events) });
    if (posted.status !== 201) throw new Error(`POST /events answered ${posted.status}: ${await posted.text()}`);
    await waitFor(
      'the dataset to be published',
      async () => ((await (await fetch(`${worker.base}/admin/status`, { headers: admin })).json()) as { publish: { up_to_date: boolean } }).publish.up_to_date || undefined,
      () => lastLines(worker),
    );
  } catch (error) {
    await stop(worker);
    throw error;
  }
  return worker;
}

/** Starts examples/receiver.mjs with `webhookSecret` on `port` and waits until it listens. */
export async function startReceiver(webhookSecret: string, port: number): Promise<Receiver> {
  const receiver = { ...start([RECEIVER_SCRIPT], { ...process.env, WEBHOOK_SECRET: webhookSecret, PORT: String(port) }), url: `http://127.0.0.1:${port}/` };
  try {
    await waitFor(`the receiver to listen on ${receiver.url}`, () => (receiver.lines.includes(`listening on ${receiver.url}`) ? true : undefined), () => `receiver output:\n${lastLines(receiver)}`, 10_000);
  } catch (error) {
    await stop(receiver);
    throw error;
  }
  return receiver;
}

/** The deliveries a receiver accepted, in arrival order (repeats of a webhook-id are logged apart and not listed). */
export function accepted(receiver: Receiver): Accepted[] {
  return receiver.lines.flatMap((line) => {
    const match = /^(msg_[0-9a-f]{32}) (ping|event\.created|event\.updated|event\.deleted) at \S+: (.*)$/.exec(line);
    return match ? [{ msgId: match[1]!, type: match[2]!, detail: match[3]! }] : [];
  });
}

/**
 * Writes `entries` (raw string values) into the `EVENTS` namespace of the
 * local KV persisted in `persistTo`, with `wrangler kv bulk put --local`, as
 * an operator would, bypassing the Worker. The JSON file goes to `scratchDir`.
 */
export async function bulkPutKv(persistTo: string, scratchDir: string, entries: readonly { key: string; value: string }[]): Promise<void> {
  const file = join(scratchDir, `bulk-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(entries));
  await promisify(execFile)(process.execPath, [WRANGLER, 'kv', 'bulk', 'put', '--local', '--binding', 'EVENTS', file, '--persist-to', persistTo], { cwd: ROOT, env: WRANGLER_ENV });
}
