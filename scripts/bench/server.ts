/**
 * The Worker under test: `wrangler dev` (local workerd, local KV, the
 * Coordinator's storage) on a free loopback port with its state in a
 * temporary folder, bundled seeding off and a random admin token for the
 * write API.
 *
 * wrangler dev exits as a whole when its proxy loses the connection to the
 * Worker's workerd ("Error inside ProxyWorker: Network connection lost"),
 * which happens now and then under sustained load on a busy machine; the
 * benchmark can then `restart()` it on the same state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running `wrangler dev` and how to call it. */
export interface DevServer {
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** The admin bearer token it was started with. */
  readonly token: string;
  /** Resolves true if wrangler has exited or exits within `ms`. */
  exitsWithin(ms: number): Promise<boolean>;
  /** Ends wrangler (if still running) and starts it again on the same port and state. */
  restart(): Promise<void>;
  /** Ends wrangler and workerd and deletes the temporary state. */
  stop(): Promise<void>;
}

/**
 * Whether `wrangler dev` runs its local observability collector
 * (`X_LOCAL_OBSERVABILITY`, on by default in wrangler 4): it streams a trace
 * of every invocation, every storage call and fetch included, to a collector
 * Worker in the same single-threaded workerd, which took about a fifth of
 * workerd's CPU in a `perf` profile of the webhook benchmark and halved its
 * delivery rate. Cloudflare collects traces outside the Worker's thread, so
 * the benchmarks leave it off; `X_LOCAL_OBSERVABILITY=true npm run bench…`
 * measures with it.
 */
export const LOCAL_OBSERVABILITY = process.env.X_LOCAL_OBSERVABILITY ?? 'false';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP address for a port-0 listener');
  return address.port;
}

const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/** Ends `child` and its process group (wrangler and workerd): SIGTERM, then SIGKILL after 5 s. */
export async function endGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || hasExited(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts `wrangler dev` (on `port`, or a free one, with `vars` set on top of
 * the others, running `entry` instead of wrangler.toml's `main` when given)
 * and resolves once `/healthz` answers.
 */
export async function startDevServer(port?: number, vars: Record<string, string> = {}, entry?: string): Promise<DevServer> {
  const chosenPort = port ?? (await freePort());
  const base = `http://127.0.0.1:${chosenPort}`;
  const token = randomBytes(24).toString('base64url');
  const state = mkdtempSync(join(tmpdir(), 'strikewire-bench-'));
  let child: ChildProcess;

  async function launch(): Promise<void> {
    child = spawn(
      'wrangler',
      ['dev', ...(entry === undefined ? [] : [entry]), '--port', String(chosenPort), '--ip', '127.0.0.1', '--persist-to', state, '--var', 'SEED_FROM_BUNDLE:false', '--var', `ADMIN_TOKEN:${token}`, ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]), '--log-level', 'error'],
      // Own process group, so that ending it also ends workerd; no metrics, no fetch of the Request.cf placeholder;
      // and, unless the caller's environment asks for it, without wrangler's local observability collector (see LOCAL_OBSERVABILITY).
      { detached: true, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', X_LOCAL_OBSERVABILITY: LOCAL_OBSERVABILITY } },
    );
    for (let attempt = 0; attempt < 240 && !hasExited(child); attempt++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await endGroup(child);
    throw new Error('wrangler dev did not start');
  }

  const server: DevServer = {
    base,
    token,
    async exitsWithin(ms) {
      if (hasExited(child)) return true;
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
    async restart() {
      await endGroup(child);
      await launch();
    },
    async stop() {
      await endGroup(child);
      rmSync(state, { recursive: true, force: true });
    },
  };
  try {
    await launch();
  } catch (error) {
    rmSync(state, { recursive: true, force: true });
    throw error;
  }
  return server;
}
