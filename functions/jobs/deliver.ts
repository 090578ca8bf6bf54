/**
 * The delivery queue's consumers.
 *
 * `deliverBatch` asks the Coordinator once for the batch's targets, sends
 * each message to its subscription's URL, signed per Standard Webhooks, with
 * at most six requests in flight shared fairly between endpoints (each
 * request's timeout starts when it is sent), and reports the outcomes back in
 * as few calls as possible: those that finish within RECORD_WINDOW_MS of one
 * another go together, so a batch that finishes together makes two
 * Coordinator calls in all. A delivered message is acknowledged at once;
 * any other is acknowledged or retried as soon as its outcome is recorded,
 * never after the slowest request of its batch. A batch whose messages are
 * all acknowledged returns without waiting for its outcomes to be recorded
 * (`ctx.waitUntil`), so the next batch starts sooner.
 *
 * Record alerts are queued by reference (domain/delivery-messages.ts): the
 * targets call also brings the payload of each record revision the batch
 * refers to, once per revision however many subscribers it goes to.
 *
 * A failing Coordinator is not the receiver's fault: the message is retried
 * after PLATFORM_RETRY_SECONDS with nothing logged and no change to endpoint
 * health, and since attempts are numbered from what the Coordinator
 * recorded, such runs spend none of the receiver's budget. A message that
 * was delivered but whose outcome could not be recorded is acknowledged all
 * the same; the outbox, having heard nothing, sends it once more later with
 * the same webhook-id (receivers ignore the repeat).
 *
 * The target URL is checked again before it is sent to, under the
 * deployment's rules of today (once per URL and batch: the rules do not
 * change within one): a URL the rules now refuse is never fetched, and its
 * message fails for good (logged `failed`, then dead-lettered). A batch signs
 * with each secret's key imported once.
 *
 * `storeDeadLetters` keeps what the queue itself dead-lettered (a consumer
 * that kept crashing) in the Coordinator; messages the consumer gives up on
 * are stored there directly, with their outcome.
 */
import { MAX_ATTEMPTS, decideRetry, judgeAttempt, type AttemptResult, type AttemptVerdict } from '../domain/delivery-policy.ts';
import { isReference, payloadKey, type DeadLetter, type DeliveryMessage } from '../domain/delivery-messages.ts';
import { webhookSigner, type WebhookSigner } from '../domain/webhook-signing.ts';
import { checkWebhookTarget, type WebhookTargetCheck } from '../domain/webhook-targets.ts';
import type { Env } from '../env.ts';
import { coordinator } from '../store/coordinator-stub.ts';
import type { DeliveryPlan, DeliveryReport } from '../store/coordinator.ts';
import type { DeliveryTarget } from '../store/subscriptions-table.ts';
import { settleOrHandOff, startFairly } from './fair-slots.ts';

/** Name of the dead-letter queue (wrangler.toml). */
export const DEAD_LETTER_QUEUE = 'strikewire-deliveries-dlq';

/** How long one delivery attempt may take, from when its request is sent, before it counts as a network failure. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** Wait before retrying a message the platform (Coordinator) failed, in seconds; not a receiver attempt. */
export const PLATFORM_RETRY_SECONDS = 10;

/** Outcomes finishing within this long of the first unrecorded one are recorded in one Coordinator call. */
export const RECORD_WINDOW_MS = 100;

/**
 * How long a batch waits for its requests before handing the slow ones off:
 * their messages are acknowledged, their requests finish in the background
 * (`ctx.waitUntil`) and their outcomes are recorded as usual, so retries of a
 * handed-off message come from the outbox. The batch, and the next one, never
 * wait for a slow endpoint.
 */
export const HANDOFF_AFTER_MS = 500;

/** Knobs of `deliverBatch`; tests shorten the timeout and fix the jitter. */
export interface DeliveryOptions {
  /** Retry jitter source, values in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** How long one request may take (default DELIVERY_TIMEOUT_MS). */
  timeoutMs?: number;
  /** How long the batch waits before handing slow requests off (default HANDOFF_AFTER_MS); only with an execution context. */
  handoffAfterMs?: number;
}

/** One POST of `body` to `url` (redirects not followed, `timeoutMs` from now): the receiver's answer or the network error, and the latency; also sends WebSub distributions (jobs/websub.ts). */
export async function attempt(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ result: AttemptResult; latencyMs: number }> {
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

type CoordinatorStub = ReturnType<typeof coordinator>;

/** An outcome waiting to be recorded, with how to settle its message once it is (or once recording failed). */
interface PendingOutcome {
  report: DeliveryReport;
  recorded(result: { dead_lettered: boolean }): void;
  unrecorded(): void;
  /** The message is already acknowledged (delivered): nothing waits for this outcome to be recorded. */
  settled?: true;
}

/**
 * Records outcomes in few calls: the first outcome opens a window of
 * RECORD_WINDOW_MS, and everything added until it closes (or until `drain`)
 * goes in one `recordDeliveries` call; one call runs at a time.
 */
class OutcomeRecorder {
  private pending: PendingOutcome[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Outcomes added whose message is settled only once they are recorded. */
  private unsettled = 0;

  constructor(private readonly stub: CoordinatorStub) {}

  add(outcome: PendingOutcome): void {
    this.pending.push(outcome);
    if (!outcome.settled) this.unsettled++;
    this.timer ??= setTimeout(() => void this.flush(), RECORD_WINDOW_MS);
  }

  /** Whether some message still waits for its outcome to be recorded before it can be acknowledged or retried. */
  holdsMessages(): boolean {
    return this.unsettled > 0;
  }

  /** Records whatever is still pending and waits for every call to end. */
  async drain(): Promise<void> {
    await this.flush();
  }

  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      const outcomes = this.pending;
      this.pending = [];
      if (outcomes.length === 0) return;
      this.unsettled -= outcomes.filter((outcome) => !outcome.settled).length;
      let results: { dead_lettered: boolean }[];
      try {
        results = await this.stub.recordDeliveries(outcomes.map((outcome) => outcome.report));
      } catch (error) {
        console.error('could not record delivery outcomes; their messages are settled without them:', error instanceof Error ? error.message : String(error));
        for (const outcome of outcomes) outcome.unrecorded();
        return;
      }
      outcomes.forEach((outcome, index) => outcome.recorded(results[index]!));
    });
    return this.flushing;
  }
}

/** A message about to be sent: the delivery with its payload, its target and the number of this attempt. */
interface Send {
  message: Message<DeliveryMessage>;
  delivery: DeliveryMessage;
  target: DeliveryTarget;
  attempt: number;
}

/**
 * The delivery to send for a queued message: as queued, or, for a record
 * alert queued by reference, with the payload the plan carries; null when
 * the plan has none because the outbox no longer holds the message.
 */
function withPayload(queued: DeliveryMessage, plan: DeliveryPlan): DeliveryMessage | null {
  if (!isReference(queued)) return queued;
  const payload = plan.payloads[payloadKey(queued.record_id, queued.revision)];
  return payload === undefined ? null : { ...queued, payload };
}

/**
 * Consumes a batch of the delivery queue (see the module comment). Resolves
 * once every message is acknowledged or retried; never throws.
 */
export async function deliverBatch(
  batch: MessageBatch<DeliveryMessage>,
  env: Env,
  { random = Math.random, timeoutMs = DELIVERY_TIMEOUT_MS, handoffAfterMs = HANDOFF_AFTER_MS }: DeliveryOptions = {},
  ctx?: ExecutionContext,
): Promise<void> {
  const stub = coordinator(env);
  let plan: DeliveryPlan;
  try {
    plan = await stub.deliveryTargets(
      batch.messages.map(({ body }) => ({ msg_id: body.msg_id, subscription_id: body.subscription_id, payload_of: isReference(body) ? { record_id: body.record_id, revision: body.revision } : null })),
    );
  } catch (error) {
    console.error('Coordinator unavailable; the batch is retried without counting an attempt:', error instanceof Error ? error.message : String(error));
    for (const message of batch.messages) message.retry({ delaySeconds: PLATFORM_RETRY_SECONDS });
    return;
  }
  const recorder = new OutcomeRecorder(stub);
  const sends: Send[] = [];
  for (const message of batch.messages) {
    const target = plan.targets[message.body.subscription_id];
    if (!target) {
      message.ack(); // the subscription was deleted
      continue;
    }
    const delivery = withPayload(message.body, plan);
    if (delivery === null) {
      message.ack(); // the outbox is done with it (an earlier copy was settled, or its payload is gone and it is a dead letter)
      continue;
    }
    // Numbered from the attempts recorded, so runs the platform failed spend none; a message the outbox
    // no longer holds falls back to the queue's count plus the attempts made before the outbox resent it.
    const recorded = plan.recorded_attempts[delivery.msg_id];
    const attempt = recorded === undefined ? message.attempts + (delivery.prior_attempts ?? 0) : recorded + 1;
    if (target.status === 'active') {
      sends.push({ message, delivery, target, attempt });
      continue;
    }
    recorder.add({
      report: { entry: { ...logBase(delivery, attempt), at: new Date().toISOString(), status: null, latency_ms: null, outcome: 'skipped', error: 'subscription disabled' }, verdict: null, next_attempt_at: null, message: null, give_up_reason: null },
      recorded: () => message.ack(),
      unrecorded: () => message.retry({ delaySeconds: PLATFORM_RETRY_SECONDS }),
    });
  }
  const sending = batchSending(env, random, timeoutMs);
  const handedOff = new Set<Send>();
  const run = startFairly(sends, (send) => send.target.url, async (send) => {
    const outcome = await deliver(send, sending);
    // A handed-off message is already acknowledged: only its outcome is still recorded.
    recorder.add(handedOff.has(send) ? { ...outcome, recorded: () => undefined, unrecorded: () => undefined, settled: true } : outcome);
  });
  const handOff = await settleOrHandOff(run, handoffAfterMs, ctx);
  if (handOff && ctx) {
    // Not attempted yet: back to the queue, no attempt counted.
    for (const waiting of handOff.notStarted) waiting.message.retry({ delaySeconds: 1 });
    for (const send of handOff.inFlight) {
      handedOff.add(send);
      send.message.ack();
    }
    ctx.waitUntil(run.settled.then(() => recorder.drain()));
  }
  // When every message is already acknowledged, their outcomes are recorded without holding up the next batch.
  if (ctx && !recorder.holdsMessages()) ctx.waitUntil(recorder.drain());
  else await recorder.drain();
}


/** The fields of a delivery log entry that come from the message. */
const logBase = (delivery: DeliveryMessage, attempt: number) => ({ subscription_id: delivery.subscription_id, msg_id: delivery.msg_id, type: delivery.type, record_id: delivery.record_id, revision: delivery.revision ?? null, replay_id: delivery.replay_id ?? null, attempt });

/** What every attempt of a batch shares: the retry jitter, the timeout, the signer and the target check. */
interface BatchSending {
  random: () => number;
  timeoutMs: number;
  /** Signs with keys imported once per secret for the batch. */
  sign: WebhookSigner;
  /** The target rules of the deployment, applied once per URL for the batch (they do not change within one). */
  checkTarget(url: string): WebhookTargetCheck;
}

/** The shared state of one batch's attempts (see BatchSending). */
function batchSending(env: Env, random: () => number, timeoutMs: number): BatchSending {
  const allowLoopbackHttp = env.ALLOW_LOOPBACK_WEBHOOKS === 'true';
  const checks = new Map<string, WebhookTargetCheck>();
  return {
    random,
    timeoutMs,
    sign: webhookSigner(),
    checkTarget(url) {
      let check = checks.get(url);
      if (check === undefined) {
        check = checkWebhookTarget(url, { allowLoopbackHttp });
        checks.set(url, check);
      }
      return check;
    },
  };
}

/** One delivery attempt of one message, sent now: its outcome to record, and how to settle the message after. */
async function deliver({ message, delivery, target, attempt: attemptNumber }: Send, { random, timeoutMs, sign, checkTarget }: BatchSending): Promise<PendingOutcome> {
  const sentAt = new Date();
  const check = checkTarget(target.url);
  if (!check.ok) {
    const verdict: AttemptVerdict = { outcome: 'permanent', reason: `target refused: url ${check.reason}`, gone: false };
    return {
      report: { entry: { ...logBase(delivery, attemptNumber), at: sentAt.toISOString(), status: null, latency_ms: null, outcome: 'failed', error: verdict.reason }, verdict, next_attempt_at: null, message: delivery, give_up_reason: verdict.reason },
      recorded: () => message.ack(),
      unrecorded: () => message.retry({ delaySeconds: PLATFORM_RETRY_SECONDS }),
    };
  }
  const headers = await sign({ secret: target.secrets, msgId: delivery.msg_id, timestamp: sentAt, body: delivery.payload });
  const { result, latencyMs } = await attempt(check.url, { ...headers, 'user-agent': 'strikewire-webhooks/1' }, delivery.payload, timeoutMs);
  const verdict = judgeAttempt(result, new Date());
  const base = { ...logBase(delivery, attemptNumber), at: sentAt.toISOString(), status: result.kind === 'response' ? result.status : null, latency_ms: latencyMs };
  if (verdict.outcome === 'delivered') {
    // The receiver has it: acknowledged at once. Should its outcome go unrecorded, the outbox, without news, sends it once more later with the same webhook-id.
    message.ack();
    return {
      report: { entry: { ...base, outcome: 'delivered', error: null }, verdict, next_attempt_at: null, message: null, give_up_reason: null },
      recorded: () => undefined,
      unrecorded: () => undefined,
      settled: true,
    };
  }
  const decision = decideRetry(verdict, attemptNumber, random);
  if (decision.action === 'give_up') {
    return {
      report: { entry: { ...base, outcome: 'failed', error: verdict.reason }, verdict, next_attempt_at: null, message: delivery, give_up_reason: decision.reason },
      recorded: () => message.ack(),
      unrecorded: () => message.retry({ delaySeconds: PLATFORM_RETRY_SECONDS }),
    };
  }
  const nextAttemptAt = new Date(sentAt.getTime() + decision.delaySeconds * 1_000).toISOString();
  return {
    report: { entry: { ...base, outcome: 'retrying', error: verdict.reason }, verdict, next_attempt_at: nextAttemptAt, message: delivery, give_up_reason: null },
    recorded: ({ dead_lettered }) => (dead_lettered ? message.ack() : message.retry({ delaySeconds: decision.delaySeconds })),
    // Unrecorded, this attempt counts for nothing, but the receiver's backoff is still respected.
    unrecorded: () => message.retry({ delaySeconds: decision.delaySeconds }),
  };
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
