/**
 * Worker entry point: HTTP requests go to the Hono app; the cron trigger
 * hands the bundled dataset to the Coordinator (a no-op unless data/
 * changed) and starts a reconciliation pass of KV against the truth; the
 * queue handler delivers webhooks and WebSub notifications (rendering a
 * topic's feed by calling the app itself) and keeps dead letters. The cron
 * also drops WebSub subscriptions whose lease has ended.
 */
import { app } from './app.ts';
import { isWebSubMessage, type DeadLetter, type DeliveryMessage, type WebSubMessage } from './domain/delivery-messages.ts';
import type { Env } from './env.ts';
import { DEAD_LETTER_QUEUE, deliverBatch, storeDeadLetters } from './jobs/deliver.ts';
import { ensureBundlePublished } from './jobs/publish-bundle.ts';
import { deliverWebSub } from './jobs/websub.ts';
import { coordinator } from './store/coordinator-stub.ts';

export { Coordinator } from './store/coordinator.ts';

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    const now = new Date(controller.scheduledTime).toISOString();
    if (env.SEED_FROM_BUNDLE === 'true') await ensureBundlePublished(env, now, true);
    const report = await coordinator(env).reconcile(now);
    if (report.adopted.length > 0 || report.quarantined.length > 0 || report.retracted.length > 0) console.log('reconciled', JSON.stringify(report));
    const expired = await coordinator(env).expireWebSub(now);
    if (expired.length > 0) console.log('WebSub leases ended', JSON.stringify(expired));
  },
  async queue(batch, env, ctx) {
    if (batch.queue === DEAD_LETTER_QUEUE) return storeDeadLetters(batch as MessageBatch<DeadLetter | DeliveryMessage>, env);
    const messages = (batch as MessageBatch<DeliveryMessage>).messages;
    const websub = messages.filter((message): message is Message<WebSubMessage> => isWebSubMessage(message.body));
    const webhooks = messages.filter((message) => !isWebSubMessage(message.body));
    const webhookBatch: MessageBatch<DeliveryMessage> = {
      queue: batch.queue,
      metadata: batch.metadata,
      messages: webhooks,
      ackAll: () => webhooks.forEach((message) => message.ack()),
      retryAll: (options) => webhooks.forEach((message) => message.retry(options)),
    };
    if (webhooks.length > 0) await deliverBatch(webhookBatch, env, {}, ctx);
    await deliverWebSub(websub, env, async (topicUrl) => app.fetch(new Request(topicUrl), env, ctx), {}, ctx);
  },
} satisfies ExportedHandler<Env>;
