/**
 * The peer a user might pick instead of strikewire: json-server (0.17, the
 * npm package's latest release) serving the same synthetic records from a
 * JSON file, read-only. At one dataset size, requests/s of a page of the 50
 * newest records from each (`/events?limit=50` here, `/events?_sort=date&_order=desc&_limit=50`
 * there), with the same keep-alive clients, in alternating slices as the
 * hot path measures them (scripts/bench/hot.ts). json-server sorts its whole
 * collection in memory on every request and caches nothing; strikewire's
 * repeated page is served from its rendered-body cache, so this compares
 * what a dashboard polling the same page gets from each.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestsPerSecond } from './hot.ts';
import { syntheticRecords } from './records.ts';
import { endGroup, freePort } from './server.ts';
import { summarize, type Summary } from './stats.ts';

/** Requests/s of the page of 50 from strikewire and from json-server, and strikewire / json-server per pair of slices. */
export interface PeerResult {
  records: number;
  strikewire: Summary;
  peer: Summary;
  ratio: Summary;
}

/** Seconds json-server may take to load its file and answer. */
const START_SECONDS = 120;

/**
 * Starts json-server on synthetic records 0 … `records` - 1 (the store's,
 * apart from the few records the benchmark's other steps add) and compares
 * the page of 50 in `pairs` pairs of `seconds` slices with `connections`
 * connections. json-server is stopped and its file deleted after.
 */
export async function measurePeer(base: string, records: number, connections: number, seconds: number, pairs: number): Promise<PeerResult> {
  const folder = await mkdtemp(join(tmpdir(), 'strikewire-peer-'));
  const port = await freePort();
  const peerBase = `http://127.0.0.1:${port}`;
  const peerPath = '/events?_sort=date&_order=desc&_limit=50';
  const ownPath = '/events?limit=50';
  await writeFile(join(folder, 'db.json'), JSON.stringify({ events: syntheticRecords(0, records) }));
  const child = spawn('json-server', ['--read-only', '--quiet', '--no-gzip', '--host', '127.0.0.1', '--port', String(port), join(folder, 'db.json')], { detached: true, stdio: 'ignore' });
  try {
    const started = performance.now();
    for (;;) {
      const ready = await fetch(`${peerBase}${peerPath}`).then((response) => response.ok, () => false);
      if (ready) break;
      if (performance.now() - started > START_SECONDS * 1000) throw new Error(`json-server did not answer within ${START_SECONDS} s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const own: number[] = [];
    const peer: number[] = [];
    const measureOwn = async () => own.push(await requestsPerSecond(base, ownPath, { Accept: 'application/json' }, 200, connections, seconds));
    const measurePeerSlice = async () => peer.push(await requestsPerSecond(peerBase, peerPath, {}, 200, connections, seconds));
    for (let pair = 0; pair < pairs; pair++) {
      for (const measure of pair % 2 === 0 ? [measurePeerSlice, measureOwn] : [measureOwn, measurePeerSlice]) await measure();
    }
    return { records, strikewire: summarize(own), peer: summarize(peer), ratio: summarize(own.map((value, index) => value / peer[index]!)) };
  } finally {
    await endGroup(child);
    await rm(folder, { recursive: true, force: true });
  }
}
