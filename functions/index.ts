/**
 * Worker entry point: HTTP requests go to the Hono app; the cron trigger
 * keeps KV in step with the bundled dataset.
 */
import { app } from './app.ts';
import type { Env } from './env.ts';
import { publishBundledDataset } from './jobs/publish-bundle.ts';

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    if (env.SEED_FROM_BUNDLE === 'true') await publishBundledDataset(env.EVENTS, new Date(controller.scheduledTime).toISOString());
  },
} satisfies ExportedHandler<Env>;
