/**
 * Benchmark: latency of `/events` pages as the dataset grows, to check the
 * KV layout's promise that a page costs the same whatever the dataset size.
 *
 * Starts `wrangler dev` (local workerd + local KV in a temporary folder) on a
 * spare port, ingests synthetic records through `POST /events` in steps, and
 * after each step times unfiltered, filtered and deep-cursor pages. Target:
 * the p95 of an unfiltered page of 50 at the largest size is within 2x of
 * the p95 at the smallest. Exits 1 when the target is missed.
 *
 * Usage: npm run bench [-- --sizes 1000,5000,20000 --requests 200]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1000,5000,20000' }, requests: { type: 'string', default: '200' }, port: { type: 'string', default: '8797' } } });
const sizes = values.sizes.split(',').map(Number);
const requests = Number(values.requests);
const base = `http://127.0.0.1:${values.port}`;
const token = 'bench-admin-token';
const state = mkdtempSync(join(tmpdir(), 'strikewire-bench-'));

const server = spawn(
  'wrangler',
  ['dev', '--port', values.port, '--ip', '127.0.0.1', '--persist-to', state, '--var', 'SEED_FROM_BUNDLE:false', '--var', `ADMIN_TOKEN:${token}`, '--log-level', 'error'],
  { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
);

function record(i: number) {
  const day = new Date(Date.UTC(1990, 0, 1 + i)).toISOString().slice(0, 10);
  const inSyria = i % 37 === 0;
  return {
    id: `bench-${String(i).padStart(6, '0')}`,
    type: i % 5 === 0 ? 'strike' : 'attack',
    title: `Benchmark event ${i}`,
    summary: 'A synthetic record for the benchmark.',
    date: day,
    date_precision: 'day',
    location: inSyria ? { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' } : { name: 'Al-Asad Air Base', country: 'IQ', lat: 33.78, lon: 42.44, precision: 'site' },
    actors: { perpetrator: ['Benchmark Militia'], target: ['US forces'], claimed_by: [] },
    weapons: ['rocket'],
    casualties: i % 11 === 0 ? [{ group: 'us_military', killed: null, injured: 1 }] : [],
    sources: [{ document: '000_47b8be4f10ca94f1.txt', publisher: 'Benchmark', quote: 'Last Friday' }],
    related: [],
  };
}

async function waitForServer(): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error('wrangler dev did not start');
}

async function ingest(from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 500) {
    const batch = Array.from({ length: Math.min(500, to - start) }, (_, offset) => record(start + offset));
    const response = await fetch(`${base}/events`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    if (!response.ok) throw new Error(`ingest failed: ${response.status} ${await response.text()}`);
  }
}

async function time(path: string): Promise<{ p50: number; p95: number }> {
  const samples: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const response = await fetch(`${base}${path}`);
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length / 2)]!, p95: samples[Math.floor(samples.length * 0.95)]! };
}

const rows: { size: number; query: string; p50: number; p95: number }[] = [];
try {
  await waitForServer();
  let stored = 0;
  for (const size of sizes) {
    await ingest(stored, size);
    stored = size;
    const middle = await (await fetch(`${base}/events?limit=1&until=${record(Math.floor(size / 2)).date}`)).json();
    const queries = {
      'page of 50': '/events?limit=50',
      'page of 500': '/events?limit=500',
      'filtered (SY strikes)': '/events?country=SY&type=strike&limit=50',
      'deep cursor (middle)': `/events?limit=50&cursor=${(middle as { next_cursor: string }).next_cursor}`,
    };
    for (const [query, path] of Object.entries(queries)) rows.push({ size, query, ...(await time(path)) });
  }
} finally {
  server.kill('SIGTERM');
  rmSync(state, { recursive: true, force: true });
}

console.log('\nrecords  query                   p50 ms   p95 ms');
for (const row of rows) console.log(`${String(row.size).padStart(7)}  ${row.query.padEnd(22)}  ${row.p50.toFixed(1).padStart(6)}   ${row.p95.toFixed(1).padStart(6)}`);
const page = (size: number) => rows.find((row) => row.size === size && row.query === 'page of 50')!.p95;
const ratio = page(sizes.at(-1)!) / page(sizes[0]!);
console.log(`\ntarget: p95 of a page of 50 at ${sizes.at(-1)} records within 2x of ${sizes[0]} records: ${ratio.toFixed(2)}x ${ratio <= 2 ? 'MET' : 'MISSED'}`);
process.exit(ratio <= 2 ? 0 : 1);
