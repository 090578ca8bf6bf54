/**
 * Two test projects, both run by `npm test`:
 * - workers: tests/*.test.ts inside workerd through
 *   @cloudflare/vitest-pool-workers, with the bindings of wrangler.toml. Its
 *   entry is tests/platform/worker.ts: the real Worker, whose Coordinator
 *   writes KV through the platform simulation (429 on a second write of a key
 *   within a second, six connections; see tests/platform/simulated-kv.ts).
 *   Bundled seeding is off so each test controls its data; the admin token is
 *   a test value; queue batches are flushed quickly.
 * - clients: tests/clients/*.test.ts in Node, against the Worker served over
 *   HTTP by local workerd, read by real clients (feedparser, xmllint).
 */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            main: './tests/platform/worker.ts',
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: { SEED_FROM_BUNDLE: 'false', ADMIN_TOKEN: 'test-admin-token' },
              kvNamespaces: ['SPARE_EVENTS'],
              queueConsumers: { 'strikewire-deliveries': { maxBatchTimeout: 0.05 }, 'strikewire-deliveries-dlq': { maxBatchTimeout: 0.05 } },
            },
          }),
        ],
        test: { name: 'workers', include: ['tests/**/*.test.ts'], exclude: ['tests/clients/**'] },
      },
      {
        test: { name: 'clients', include: ['tests/clients/**/*.test.ts'], environment: 'node', hookTimeout: 120_000 },
      },
    ],
  },
});
