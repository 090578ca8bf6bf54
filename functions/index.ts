/**
 * Worker entry point: HTTP requests go to the Hono app; the cron trigger
 * hands the bundled dataset to the Coordinator (a no-op unless data/
 * changed) and starts a reconciliation pass of KV against the truth; the
 * queue handler delivers webhooks and keeps dead letters.
 */
import { app } from './app.ts';
import type { DeadLetter, DeliveryMessage } from './domain/delivery-messages.ts';
import type { Env } from './env.ts';
import { DEAD_LETTER_QUEUE, deliverBatch, storeDeadLetters } from './jobs/deliver.ts';
import { ensureBundlePublished } from './jobs/publish-bundle.ts';
import { coordinator } from './store/coordinator-stub.ts';

export { Coordinator } from './store/coordinator.ts';

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    const now = new Date(controller.scheduledTime).toISOString();
    if (env.SEED_FROM_BUNDLE === 'true') await ensureBundlePublished(env, now, true);
    const report = await coordinator(env).reconcile(now);
    if (report.adopted.length > 0 || report.quarantined.length > 0 || report.retracted.length > 0) console.log('reconciled', JSON.stringify(report));
  },
  async queue(batch, env, ctx) {
    if (batch.queue === DEAD_LETTER_QUEUE) await storeDeadLetters(batch as MessageBatch<DeadLetter | DeliveryMessage>, env);
    else await deliverBatch(batch as MessageBatch<DeliveryMessage>, env, {}, ctx);
  },
} satisfies ExportedHandler<Env>;
