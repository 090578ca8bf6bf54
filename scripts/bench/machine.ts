/**
 * Where the benchmark ran: CPU, cores, memory, Node, wrangler and the code's
 * commit, so that figures are read next to the machine they came from.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { LOCAL_OBSERVABILITY } from './server.ts';

/** The Worker's files: what `wrangler dev` runs. */
const WORKER_PATHS = ['functions', 'wrangler.toml', 'package-lock.json'];

/** The code under test: the commit checked out, the last commit that changed the Worker, and whether it has uncommitted changes. */
function codeVersion(): string {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  try {
    const worker = git('log', '-1', '--format=%h', '--', ...WORKER_PATHS);
    const dirty = git('status', '--porcelain', '--', ...WORKER_PATHS) !== '';
    return `${git('rev-parse', '--short', 'HEAD')} (Worker as of ${worker}${dirty ? ' plus uncommitted changes' : ''})`;
  } catch {
    return 'unknown (not a git work tree)';
  }
}

/** One line describing the machine and the software the benchmark ran on. */
export function describeMachine(): string {
  const cores = cpus();
  const wranglerPackage = createRequire(import.meta.url).resolve('wrangler/package.json');
  const wranglerVersion = (JSON.parse(readFileSync(wranglerPackage, 'utf8')) as { version: string }).version;
  const memoryGiB = (totalmem() / 1024 ** 3).toFixed(1);
  return `machine: ${cores[0]?.model.trim() ?? 'unknown CPU'}, ${cores.length} cores, ${memoryGiB} GiB RAM, Node ${process.version}, wrangler ${wranglerVersion}, code ${codeVersion()}; local workerd under wrangler dev (its local observability collector ${LOCAL_OBSERVABILITY === 'false' ? 'off' : 'on'}), not Cloudflare's edge`;
}
