/**
 * The WebSub hub's outgoing requests.
 *
 * `verifyIntent` runs after `POST /websub` answered 202: it GETs the callback
 * with `hub.mode`, `hub.topic`, a random `hub.challenge` and (to subscribe)
 * `hub.lease_seconds`; only a 2xx whose body is exactly the challenge makes
 * the subscription active (or removes it, to unsubscribe). A subscription
 * the caps no longer allow by then is denied: the callback gets
 * `hub.mode=denied` with the topic and the reason.
 *
 * `deliverWebSub` consumes the WebSub notifications of a delivery queue
 * batch (one per subscription and write, by reference): it waits until the
 * revision that made it is published, renders the topic's feed by calling
 * the app itself (no network), and POSTs the body to the callback with the
 * feed's Content-Type, the hub and self `Link`s and, when a secret was
 * given, `X-Hub-Signature: sha256=<hex HMAC>`, under the webhooks' rules: the
 * callback re-checked by the target rules before every attempt, redirects
 * not followed, the same timeout, retry schedule and delivery log, and the
 * same hand-off: after HANDOFF_AFTER_MS the batch stops waiting for slow
 * callbacks (their messages are acknowledged, their requests finish and are
 * recorded in `ctx.waitUntil`, retries come from the outbox) and those not
 * started yet go back to the queue, so a silent callback never holds up the
 * batch, or the next one, for its 10 s timeout.
 */
import { decideRetry, judgeAttempt } from '../domain/delivery-policy.ts';
import type { WebSubMessage } from '../domain/delivery-messages.ts';
import { checkWebhookTarget } from '../domain/webhook-targets.ts';
import { WEBSUB_LIMITS, hubLinkHeader, hubSignature, newChallenge, verificationUrl, type WebSubRequest } from '../domain/websub.ts';
import type { Env } from '../env.ts';
import { coordinator } from '../store/coordinator-stub.ts';
import { readHead } from '../store/events-store.ts';
import type { WebSubReport, WebSubTarget } from '../store/websub-table.ts';
import { DELIVERY_TIMEOUT_MS, HANDOFF_AFTER_MS, PLATFORM_RETRY_SECONDS, attempt } from './deliver.ts';
import { settleOrHandOff, startFairly } from './fair-slots.ts';

/** Seconds a notification waits for its revision to be published before it is tried again (no attempt counted). */
const UNPUBLISHED_RETRY_SECONDS = 2;

/** Renders a topic's feed as the app serves it (the Worker calls itself, no network). */
export type RenderTopic = (topicUrl: string) => Promise<Response>;

/** Whether the callback confirmed the intent: a 2xx whose body is exactly the challenge. */
async function confirms(url: string, challenge: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(WEBSUB_LIMITS.verifyTimeoutMs) });
    const body = await response.text();
    return response.status >= 200 && response.status < 300 && body === challenge;
  } catch {
    return false;
  }
}

/** Tells a callback its subscription is denied (the spec's `hub.mode=denied`); its answer does not matter. */
async function deny(request: WebSubRequest, reason: string): Promise<void> {
  try {
    const response = await fetch(verificationUrl(request.callback, { 'hub.mode': 'denied', 'hub.topic': request.topic.url, 'hub.reason': reason }), { redirect: 'manual', signal: AbortSignal.timeout(WEBSUB_LIMITS.verifyTimeoutMs) });
    await response.body?.cancel();
  } catch {
    // The denial is a courtesy: nothing is kept for a callback that does not answer.
  }
}

/** Verifies the intent of an accepted request and applies it; returns what happened, for logs and tests. */
export async function verifyIntent(request: WebSubRequest, id: string, env: Env): Promise<'active' | 'removed' | 'not_verified' | 'denied'> {
  const allowLoopbackHttp = env.ALLOW_LOOPBACK_WEBHOOKS === 'true';
  if (!checkWebhookTarget(request.callback, { allowLoopbackHttp }).ok) return 'not_verified';
  const challenge = newChallenge();
  const params: Record<string, string> = { 'hub.mode': request.mode, 'hub.topic': request.topic.url, 'hub.challenge': challenge };
  if (request.mode === 'subscribe') params['hub.lease_seconds'] = String(request.lease_seconds);
  if (!(await confirms(verificationUrl(request.callback, params), challenge))) return 'not_verified';
  const stub = coordinator(env);
  if (request.mode === 'unsubscribe') {
    await stub.removeWebSub(id);
    return 'removed';
  }
  const problem = await stub.activateWebSub(
    { id, callback: request.callback, topic: request.topic.url, filters: request.topic.filters, secret: request.secret, lease_seconds: request.lease_seconds },
    new Date().toISOString(),
  );
  if (problem === null) return 'active';
  await deny(request, problem.message);
  return 'denied';
}

/** Knobs of `deliverWebSub`; tests shorten the timeout and the hand-off and fix the jitter. */
export interface WebSubDeliveryOptions {
  /** Retry jitter source, values in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** How long one request may take (default DELIVERY_TIMEOUT_MS). */
  timeoutMs?: number;
  /** How long the batch waits before handing slow requests off (default HANDOFF_AFTER_MS); only with an execution context. */
  handoffAfterMs?: number;
}

/** A finished attempt: its outcome to record, and how to settle its message once recorded. */
interface WebSubOutcome {
  report: WebSubReport;
  settle(): void;
}

/**
 * Sends a batch's WebSub notifications (see the module comment); every
 * message is acknowledged or retried by the time it returns (handed-off
 * ones are acknowledged, their outcomes recorded in `ctx.waitUntil`); never throws.
 */
export async function deliverWebSub(
  messages: readonly Message<WebSubMessage>[],
  env: Env,
  render: RenderTopic,
  { random = Math.random, timeoutMs = DELIVERY_TIMEOUT_MS, handoffAfterMs = HANDOFF_AFTER_MS }: WebSubDeliveryOptions = {},
  ctx?: ExecutionContext,
): Promise<void> {
  if (messages.length === 0) return;
  const stub = coordinator(env);
  let plan: Awaited<ReturnType<typeof stub.webSubTargets>>;
  let publishedRevision: number;
  try {
    plan = await stub.webSubTargets(messages.map(({ body }) => ({ msg_id: body.msg_id, subscription_id: body.subscription_id })));
    publishedRevision = (await readHead(env.EVENTS)).revision;
  } catch (error) {
    console.error('WebSub targets unavailable; the batch is retried without counting an attempt:', error instanceof Error ? error.message : String(error));
    for (const message of messages) message.retry({ delaySeconds: PLATFORM_RETRY_SECONDS });
    return;
  }
  const sends = messages.filter((message) => {
    const target = plan.targets[message.body.subscription_id];
    const recorded = plan.recorded_attempts[message.body.msg_id];
    if (!target || recorded === undefined) {
      message.ack(); // unsubscribed, expired, or an earlier copy was settled
      return false;
    }
    if (publishedRevision < message.body.revision) {
      message.retry({ delaySeconds: UNPUBLISHED_RETRY_SECONDS }); // the feed would not show the change yet
      return false;
    }
    return true;
  });
  const allowLoopbackHttp = env.ALLOW_LOOPBACK_WEBHOOKS === 'true';
  let finished: WebSubOutcome[] = [];
  const handedOff = new Set<Message<WebSubMessage>>();
  const run = startFairly(sends, (message) => plan.targets[message.body.subscription_id]!.callback, async (message) => {
    const outcome = await distribute(message, plan.targets[message.body.subscription_id]!, plan.recorded_attempts[message.body.msg_id]! + 1, { render, random, timeoutMs, allowLoopbackHttp });
    // A handed-off message is already acknowledged: only its outcome is still recorded.
    finished.push(handedOff.has(message) ? { ...outcome, settle: () => undefined } : outcome);
  });
  /** Records the outcomes finished so far, then settles their messages. */
  const recordFinished = async (): Promise<void> => {
    const outcomes = finished;
    finished = [];
    if (outcomes.length === 0) return;
    try {
      await stub.recordWebSubDeliveries(outcomes.map((outcome) => outcome.report));
    } catch (error) {
      // Unrecorded: the outbox, without news, sends each message again later with its id.
      console.error('could not record WebSub outcomes:', error instanceof Error ? error.message : String(error));
    }
    for (const outcome of outcomes) outcome.settle();
  };
  const handOff = await settleOrHandOff(run, handoffAfterMs, ctx);
  if (handOff && ctx) {
    // Not attempted yet: back to the queue, no attempt counted.
    for (const waiting of handOff.notStarted) waiting.retry({ delaySeconds: 1 });
    for (const message of handOff.inFlight) {
      handedOff.add(message);
      message.ack();
    }
    ctx.waitUntil(run.settled.then(recordFinished));
  }
  await recordFinished();
}

/** What one distribution needs besides its message and target. */
interface DistributionContext {
  render: RenderTopic;
  random: () => number;
  timeoutMs: number;
  allowLoopbackHttp: boolean;
}

/** One attempt to POST a topic's feed to a subscription's callback, sent now: its outcome, and how to settle its message. */
async function distribute(message: Message<WebSubMessage>, target: WebSubTarget, attemptNumber: number, { render, random, timeoutMs, allowLoopbackHttp }: DistributionContext): Promise<WebSubOutcome> {
  const sentAt = new Date();
  const base = { subscription_id: message.body.subscription_id, msg_id: message.body.msg_id, type: message.body.type, record_id: null, revision: message.body.revision, attempt: attemptNumber, at: sentAt.toISOString() };
  const check = checkWebhookTarget(target.callback, { allowLoopbackHttp });
  const feed = check.ok ? await render(target.topic) : null;
  if (!check.ok || !feed || feed.status !== 200) {
    const error = !check.ok ? `target refused: url ${check.reason}` : `the topic's feed answered ${feed?.status}`;
    await feed?.body?.cancel();
    return { report: { entry: { ...base, status: null, latency_ms: null, outcome: 'failed', error }, next_attempt_at: null }, settle: () => message.ack() };
  }
  const body = await feed.text();
  const headers: Record<string, string> = {
    'content-type': feed.headers.get('content-type') ?? 'application/octet-stream',
    link: hubLinkHeader(new URL(target.topic).origin, target.topic),
    'user-agent': 'strikewire-websub/1',
  };
  if (target.secret !== null) headers['x-hub-signature'] = await hubSignature(target.secret, body);
  const { result, latencyMs } = await attempt(check.url, headers, body, timeoutMs);
  const verdict = judgeAttempt(result, new Date());
  const logged = { ...base, status: result.kind === 'response' ? result.status : null, latency_ms: latencyMs };
  if (verdict.outcome === 'delivered') return { report: { entry: { ...logged, outcome: 'delivered', error: null }, next_attempt_at: null }, settle: () => message.ack() };
  const decision = decideRetry(verdict, attemptNumber, random);
  if (decision.action === 'give_up') return { report: { entry: { ...logged, outcome: 'failed', error: `${verdict.reason}; ${decision.reason}` }, next_attempt_at: null }, settle: () => message.ack() };
  return {
    report: { entry: { ...logged, outcome: 'retrying', error: verdict.reason }, next_attempt_at: new Date(sentAt.getTime() + decision.delaySeconds * 1_000).toISOString() },
    settle: () => message.retry({ delaySeconds: decision.delaySeconds }),
  };
}
