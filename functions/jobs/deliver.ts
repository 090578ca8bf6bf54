/**
 * The delivery queue's consumers. `deliverBatch` sends each message to its
 * subscription's URL, signed per Standard Webhooks, and records the attempt;
 * failures are retried with the policy's backoff, and messages it gives up
 * on go to the dead-letter queue. `storeDeadLetters` keeps dead letters in
 * the Coordinator so they can be inspected and redelivered.
 */
import { MAX_ATTEMPTS, decideRetry, judgeAttempt, type AttemptResult } from '../domain/delivery-policy.ts';
import type { DeadLetter, DeliveryMessage } from '../domain/delivery-messages.ts';
import { webhookHeaders } from '../domain/webhook-signing.ts';
import type { Env } from '../env.ts';
import { coordinator } from '../store/coordinator-stub.ts';

/** Name of the dead-letter queue (wrangler.toml). */
export const DEAD_LETTER_QUEUE = 'strikewire-deliveries-dlq';

/** How long one delivery attempt may take before it counts as a network failure. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** Knobs of `deliverBatch`; tests shorten the timeout and fix the jitter. */
export interface DeliveryOptions {
  /** Retry jitter source, values in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** How long one request may take (default DELIVERY_TIMEOUT_MS). */
  timeoutMs?: number;
}

async function attempt(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ result: AttemptResult; latencyMs: number }> {
  const started = Date.now();
  try {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return { result: { kind: 'response', status: response.status, retryAfter: response.headers.get('retry-after') }, latencyMs: Date.now() - started };
  } catch (error) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { result: { kind: 'network_error', detail }, latencyMs: Date.now() - started };
  }
}

/**
 * Consumes a batch of the delivery queue, its messages in parallel; `random`
 * drives retry jitter. A message whose handling throws is retried by the
 * queue; the others keep their ack or retry.
 */
export async function deliverBatch(batch: MessageBatch<DeliveryMessage>, env: Env, { random = Math.random, timeoutMs = DELIVERY_TIMEOUT_MS }: DeliveryOptions = {}): Promise<void> {
  const stub = coordinator(env);
  await Promise.all(batch.messages.map((message) => deliver(message, stub, env, random, timeoutMs)));
}

/** One delivery attempt of one message: skip, deliver, retry later or dead-letter. */
async function deliver(message: Message<DeliveryMessage>, stub: ReturnType<typeof coordinator>, env: Env, random: () => number, timeoutMs: number): Promise<void> {
  const delivery = message.body;
  const target = await stub.deliveryTarget(delivery.subscription_id);
  if (!target) {
    message.ack(); // the subscription was deleted
    return;
  }
  // A message the outbox sent again carries the attempts made before, so the retry budget goes on.
  const attemptNumber = message.attempts + (delivery.prior_attempts ?? 0);
  const base = { subscription_id: delivery.subscription_id, msg_id: delivery.msg_id, type: delivery.type, record_id: delivery.record_id, attempt: attemptNumber };
  if (target.status !== 'active') {
    await stub.recordDelivery({ ...base, at: new Date().toISOString(), status: null, latency_ms: null, outcome: 'skipped', error: 'subscription disabled' }, null);
    message.ack();
    return;
  }
  const sentAt = new Date();
  const headers = await webhookHeaders({ secret: target.secret, msgId: delivery.msg_id, timestamp: sentAt, body: delivery.payload });
  const { result, latencyMs } = await attempt(target.url, { ...headers, 'user-agent': 'strikewire-webhooks/1' }, delivery.payload, timeoutMs);
  const verdict = judgeAttempt(result, new Date());
  const status = result.kind === 'response' ? result.status : null;
  if (verdict.outcome === 'delivered') {
    await stub.recordDelivery({ ...base, at: sentAt.toISOString(), status, latency_ms: latencyMs, outcome: 'delivered', error: null }, verdict);
    message.ack();
    return;
  }
  const decision = decideRetry(verdict, attemptNumber, random);
  const nextAttemptAt = decision.action === 'retry' ? new Date(sentAt.getTime() + decision.delaySeconds * 1_000).toISOString() : null;
  const { disabled } = await stub.recordDelivery(
    { ...base, at: sentAt.toISOString(), status, latency_ms: latencyMs, outcome: decision.action === 'retry' ? 'retrying' : 'failed', error: verdict.reason },
    verdict,
    nextAttemptAt,
  );
  if (decision.action === 'retry' && !disabled) {
    message.retry({ delaySeconds: decision.delaySeconds });
    return;
  }
  const reason = decision.action === 'give_up' ? decision.reason : `${verdict.reason}; subscription disabled`;
  await env.DEAD_LETTERS.send({ ...delivery, reason, attempts: attemptNumber } satisfies DeadLetter, { contentType: 'json' });
  message.ack();
}

/** Consumes the dead-letter queue: each dead letter is stored with the Coordinator for inspection and redelivery. */
export async function storeDeadLetters(batch: MessageBatch<DeadLetter | DeliveryMessage>, env: Env): Promise<void> {
  const stub = coordinator(env);
  for (const message of batch.messages) {
    // Messages the queue itself dead-lettered (a crashing consumer, max_retries reached) carry no reason.
    const letter: DeadLetter = 'reason' in message.body ? message.body : { ...message.body, reason: `queue retries exhausted (over ${MAX_ATTEMPTS} attempts)`, attempts: message.attempts };
    await stub.storeDeadLetter(letter, new Date().toISOString());
    message.ack();
  }
}
