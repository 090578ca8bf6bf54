/**
 * Worker entry point: HTTP requests go to the Hono app; the cron trigger
 * republishes data/ when it changed and reconciles KV with the index and the
 * alert ledger; the queue handler delivers webhooks and keeps dead letters.
 */
import { app } from './app.ts';
import type { Env } from './env.ts';
import { DEAD_LETTER_QUEUE, deliverBatch, storeDeadLetters, type DeadLetter, type DeliveryMessage } from './jobs/deliver.ts';
import { coordinator } from './routes/ingest.ts';

export { Coordinator } from './store/coordinator.ts';

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    const now = new Date(controller.scheduledTime).toISOString();
    if (env.SEED_FROM_BUNDLE === 'true') await coordinator(env).publishBundle(now);
    const report = await coordinator(env).reconcile(now);
    if (report.indexed.length > 0 || report.invalid.length > 0) console.log('reconciled', JSON.stringify(report));
  },
  async queue(batch, env) {
    if (batch.queue === DEAD_LETTER_QUEUE) await storeDeadLetters(batch as MessageBatch<DeadLetter | DeliveryMessage>, env);
    else await deliverBatch(batch as MessageBatch<DeliveryMessage>, env);
  },
} satisfies ExportedHandler<Env>;
