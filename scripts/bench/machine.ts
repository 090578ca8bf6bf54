/**
 * Where the benchmark ran: CPU, cores, memory, Node, wrangler and the code's
 * commit, so that figures are read next to the machine they came from.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';

/** The code under test: short commit, with `+changes` when the work tree differs from it. */
function codeVersion(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'functions', 'wrangler.toml'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit}+changes in functions/` : commit;
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
  return `machine: ${cores[0]?.model.trim() ?? 'unknown CPU'}, ${cores.length} cores, ${memoryGiB} GiB RAM, Node ${process.version}, wrangler ${wranglerVersion}, code ${codeVersion()}; local workerd under wrangler dev, not Cloudflare's edge`;
}
