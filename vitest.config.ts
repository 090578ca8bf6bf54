/**
 * Tests run inside workerd through @cloudflare/vitest-pool-workers, with the
 * bindings of wrangler.toml. Bundled seeding is off so each test controls its data.
 */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: { bindings: { SEED_FROM_BUNDLE: 'false' }, kvNamespaces: ['SPARE_EVENTS'] },
    }),
  ],
  test: { include: ['tests/**/*.test.ts'] },
});
