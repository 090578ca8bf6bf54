/**
 * Tests run inside workerd through @cloudflare/vitest-pool-workers, with the
 * bindings of wrangler.toml. Bundled seeding is off so each test controls its
 * data; the admin token is a test value; queue batches are flushed quickly.
 */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: { SEED_FROM_BUNDLE: 'false', ADMIN_TOKEN: 'test-admin-token' },
        kvNamespaces: ['SPARE_EVENTS'],
        queueConsumers: { 'strikewire-deliveries': { maxBatchTimeout: 0.05 }, 'strikewire-deliveries-dlq': { maxBatchTimeout: 0.05 } },
      },
    }),
  ],
  test: { include: ['tests/**/*.test.ts'] },
});
