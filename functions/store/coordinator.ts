/**
 * The Coordinator Durable Object: the single writer and the source of truth.
 *
 * Its SQLite storage holds every record, the index and a dataset revision
 * that only goes up (dataset-table.ts), the webhook outbox (alert-outbox.ts),
 * subscriptions and their logs (subscriptions-table.ts), the publishing queue
 * (publisher.ts), the quarantine (reconciler.ts) and the WebSub hub's
 * subscriptions and distributions (websub-table.ts). A write is decided from
 * SQLite alone and committed in one storage transaction with its alerts and
 * the keys it queues for publishing; the POST answers then. The alarm
 * publishes to KV in bounded, rate-limited slices, sends the outbox and
 * continues reconciliation, so a crash at any point loses nothing: whatever
 * was committed is published and alerted by the next alarm.
 */
import { DurableObject } from 'cloudflare:workers';
import { CHUNK_KEY_PREFIX, EVENT_KEY_PREFIX, FRONT_PAGE_KEY_PREFIX, PATCH_KEY_PREFIX, EVENT_VERSION_KEY_PREFIX, HEAD_KEY, MANIFEST_KEY, SEGMENT_KEY_PREFIX } from '../domain/layout.ts';
import { deletedData } from '../domain/alert-payload.ts';
import { CHANGES_KEY_PREFIX } from '../domain/change-feed.ts';
import { payloadKey, type DeadLetter, type DeliveryMessage } from '../domain/delivery-messages.ts';
import { sha256Hex } from '../domain/digest.ts';
import type { ReplayRequest } from '../domain/replay.ts';
import type { EventInput, Tally } from '../domain/schema.ts';
import { STATS_KEY_PREFIX } from '../domain/stats-cells.ts';
import type { SubscriptionInput } from '../domain/subscription.ts';
import { buildEnvelope, webhookMessageId } from '../domain/webhook-signing.ts';
import { AlertFanout, FANOUT_SCHEMA, HELD_REASON } from './alert-fanout.ts';
import { AlertOutbox, OUTBOX_SCHEMA } from './alert-outbox.ts';
import { CHANGE_LOG_SCHEMA, ChangeLog } from './change-log.ts';
import { DATASET_SCHEMA, DatasetTable, type Retraction, type WriteResult } from './dataset-table.ts';
import { BUNDLE_FINGERPRINT_KEY, TALLIES_KEY, type PublishedTallies } from './events-store.ts';
import { META_SCHEMA, readMeta, writeMeta } from './meta-table.ts';
import { PUBLISH_SCHEMA, Publisher, type PublishStatus } from './publisher.ts';
import { RECONCILE_SCHEMA, Reconciler, type QuarantineEntry } from './reconciler.ts';
import { REPLAY_SCHEMA, ReplayTable, type ReplayStart, type ReplayStatus } from './replay.ts';
import { STATS_SCHEMA, StatsTable } from './stats-table.ts';
import { SUBSCRIPTIONS_SCHEMA, SubscriptionsTable, type DeadLetterSummary, type DeliveryAttempt, type DeliveryTarget, type Subscription, type SubscriptionCredentials } from './subscriptions-table.ts';
import type { AttemptVerdict } from '../domain/delivery-policy.ts';
import { WEBSUB_SCHEMA, WebSubTable, type CapProblem, type VerifiedSubscription, type WebSubReport, type WebSubSubscription, type WebSubTarget } from './websub-table.ts';

/** Slices one inline publish (of the bundled dataset) may run before leaving the rest to the alarm. */
const INLINE_PUBLISH_SLICES = 20;

/** What one reconciliation slice found and did. */
export interface ReconcileReport {
  /** `event:` keys read. */
  scanned: number;
  /** Ids of records adopted from KV (new, or changed elsewhere). */
  adopted: string[];
  /** Record revisions queued for alerting (fanned out to subscribers by the alarm). */
  alerted: number;
  /** Ids of live records retracted because their `event:` key was deleted out of band (see reconciler.ts). */
  retracted: string[];
  /** Invalid values seen for the first time, now quarantined. */
  quarantined: { key: string; problem: string }[];
  /** Whether the pass over every key is over (otherwise the alarm goes on with it). */
  complete: boolean;
}

/** The dataset bundled from data/, as the Worker hands it over. */
export interface Bundle {
  fingerprint: string;
  events: EventInput[];
  tallies: Tally[];
}

/**
 * What the delivery consumer gets for a batch: targets by subscription id (a
 * deleted one is absent), recorded attempts by message id (absent when the
 * outbox no longer holds the message) and the alert payloads of the record
 * revisions the batch's messages refer to, by `payloadKey`.
 */
export interface DeliveryPlan {
  targets: Record<string, DeliveryTarget>;
  recorded_attempts: Record<string, number>;
  payloads: Record<string, string>;
}

/** A message of a batch, as the consumer describes it when it asks for the batch's plan. */
export type PlannedMessage = Pick<DeliveryMessage, 'msg_id' | 'subscription_id'> & { payload_of: { record_id: string; revision: number } | null };

/** One outcome the delivery consumer reports. */
export interface DeliveryReport {
  entry: DeliveryAttempt;
  /** The attempt's verdict, for endpoint health; null for a skip. */
  verdict: AttemptVerdict | null;
  /** When the consumer will try again (a `retrying` entry), else null. */
  next_attempt_at: string | null;
  /** The message itself, for a failed attempt: kept as a dead letter if it is given up on. */
  message: DeliveryMessage | null;
  /** Why the consumer gives up on the message (stored as a dead letter); null otherwise. */
  give_up_reason: string | null;
}

/** The Coordinator's state, as `GET /admin/status` shows it. */
export interface CoordinatorStatus {
  /** `index_backlog`: records written but not in the index yet (a write touching more chunks than one revision touches; indexed by the alarm, a revision at a time). */
  dataset: { epoch: string; revision: number; records: number; index_backlog: number };
  publish: PublishStatus;
  /** `fanout`: record revisions (and, for WebSub, writes) still being fanned out to subscribers, and replays still being queued; `pending`: messages not handed to the queue yet; `unconfirmed`: handed over, final outcome not reported yet. */
  outbox: { fanout: number; pending: number; unconfirmed: number };
  reconciliation: { pass_under_way: boolean };
  quarantine: { count: number };
  /** `built`: every record is in the `/stats` aggregates (until then `/stats` scans the index). */
  stats: { built: boolean };
}

/** The bindings the Coordinator uses (a part of the Worker's `Env`, functions/env.ts). */
export interface CoordinatorBindings {
  /** The published copy: records, index, tallies. */
  EVENTS: KVNamespace;
  /** Webhook deliveries waiting to be sent. */
  DELIVERIES: Queue;
}

/** The Coordinator Durable Object; one instance, named "main". */
export class Coordinator extends DurableObject<CoordinatorBindings> {
  private readonly dataset: DatasetTable;
  private readonly stats: StatsTable;
  private readonly changes: ChangeLog;
  private readonly publisher: Publisher;
  private readonly outbox: AlertOutbox;
  private readonly fanout: AlertFanout;
  private readonly subscriptions: SubscriptionsTable;
  private readonly reconciler: Reconciler;
  private readonly websub: WebSubTable;
  private readonly replays: ReplayTable;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: CoordinatorBindings) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    for (const statement of [...META_SCHEMA, ...DATASET_SCHEMA, ...CHANGE_LOG_SCHEMA, ...PUBLISH_SCHEMA, ...FANOUT_SCHEMA, ...OUTBOX_SCHEMA, ...SUBSCRIPTIONS_SCHEMA, ...RECONCILE_SCHEMA, ...WEBSUB_SCHEMA, ...REPLAY_SCHEMA, ...STATS_SCHEMA]) sql.exec(statement);
    // Tables of the design before SQLite held the truth.
    sql.exec('DROP TABLE IF EXISTS journal');
    sql.exec('DROP TABLE IF EXISTS ledger');
    this.stats = new StatsTable(sql);
    this.dataset = new DatasetTable(sql, this.stats);
    this.changes = new ChangeLog(sql, () => this.dataset.epoch());
    this.publisher = new Publisher(sql, env.EVENTS, (key) => this.publishedValue(key));
    ctx.storage.transactionSync(() => this.changes.backfill(this.publisher));
    ctx.storage.transactionSync(() => this.dataset.segmentFlatIndex(this.publisher));
    this.subscriptions = new SubscriptionsTable(sql);
    this.outbox = new AlertOutbox(sql, env.DELIVERIES, (message, reason, attempts) => this.subscriptions.storeDeadLetter({ ...message, reason, attempts }, new Date().toISOString()));
    this.fanout = new AlertFanout(sql, this.outbox, this.subscriptions);
    this.reconciler = new Reconciler(sql, env.EVENTS, this.dataset, this.publisher);
    this.websub = new WebSubTable(sql, this.outbox);
    this.replays = new ReplayTable(sql, this.changes, this.subscriptions, this.fanout, this.outbox);
  }

  /** Creates or updates records; answers once the write is committed (published to KV by the alarm right after). */
  async ingest(inputs: EventInput[], now: string): Promise<WriteResult[]> {
    const results = await this.exclusive(() => this.write(inputs, now));
    await this.rearm();
    return results;
  }

  /**
   * Retracts record `id` (see DatasetTable.retract): committed with its
   * `event.deleted` alerts in one transaction, answered then. Retracting a
   * retracted record answers its tombstone again, alerting nothing; null when
   * there is no such record.
   */
  async retract(id: string, reason: string | null, now: string): Promise<Retraction | null> {
    const retraction = await this.exclusive(() => this.retractNow(id, reason, now));
    await this.rearm();
    return retraction;
  }

  /**
   * Makes the truth hold the bundled dataset: when its fingerprint is new,
   * writes its records (alerted as any write) and tallies, then publishes
   * before answering, so the first request after a deploy sees the data.
   * Returns true when it wrote.
   */
  async publishBundle(bundle: Bundle, now: string): Promise<boolean> {
    const wrote = await this.exclusive(async () => {
      if (readMeta(this.ctx.storage.sql, 'bundle_fingerprint') === bundle.fingerprint) return false;
      const talliesText = JSON.stringify(bundle.tallies);
      const talliesDigest = await sha256Hex(talliesText);
      await this.write(bundle.events, now, () => {
        const sql = this.ctx.storage.sql;
        if (readMeta(sql, 'tallies_digest') !== talliesDigest) {
          writeMeta(sql, 'tallies_digest', talliesDigest);
          const published: PublishedTallies = { digest: talliesDigest, updated_at: now, data: bundle.tallies };
          this.publisher.enqueue(TALLIES_KEY, JSON.stringify(published));
        }
        writeMeta(sql, 'bundle_fingerprint', bundle.fingerprint);
        this.publisher.enqueue(BUNDLE_FINGERPRINT_KEY, bundle.fingerprint);
      });
      for (let slice = 0; slice < INLINE_PUBLISH_SLICES; slice++) {
        const nowMs = Date.now();
        const next = this.publisher.nextRunAt(nowMs);
        if (next === null || next > nowMs) break;
        await this.publisher.run(nowMs);
      }
      return true;
    });
    await this.rearm();
    return wrote;
  }

  /** Starts a reconciliation pass (unless one is under way) and runs its first slice; the alarm runs the rest. */
  async reconcile(now: string): Promise<ReconcileReport> {
    const report = await this.exclusive(() => {
      this.reconciler.startPass();
      return this.reconcileSlice(now);
    });
    await this.rearm();
    return report;
  }

  /** Publishes a slice, indexes a slice of the index backlog, builds a slice of the stats aggregates (once), sends the outbox, continues reconciliation, and sets the next alarm. */
  override async alarm(): Promise<void> {
    await this.exclusive(async () => {
      await this.publisher.run(Date.now());
      if (this.backlogDue()) this.ctx.storage.transactionSync(() => this.dataset.indexBacklogSlice(this.publisher, new Date().toISOString(), Date.now()));
      if (!this.stats.ready()) this.ctx.storage.transactionSync(() => this.dataset.buildStatsSlice(this.publisher, Date.now()));
      if (this.fanout.anyPending()) await this.fanout.expand(this.ctx.storage, new Date().toISOString());
      if (this.websub.pending() > 0) await this.websub.expand(this.ctx.storage, new Date().toISOString());
      const replayAt = this.replays.nextRunAt(Date.now());
      if (replayAt !== null && replayAt <= Date.now()) await this.replays.expand(this.ctx.storage, new Date().toISOString());
      const expiryAt = this.websub.nextExpiryAt();
      if (expiryAt !== null && expiryAt <= Date.now()) this.websub.expire(new Date().toISOString());
      const outboxAt = this.outbox.nextSendAt(Date.now());
      if (outboxAt !== null && outboxAt <= Date.now()) await this.outbox.send(Date.now());
      const sliceAt = this.reconciler.nextSliceAt(Date.now());
      if (sliceAt !== null && sliceAt <= Date.now()) {
        try {
          const report = await this.reconcileSlice(new Date().toISOString());
          if (report.adopted.length > 0 || report.quarantined.length > 0 || report.retracted.length > 0) console.log('reconciled', JSON.stringify(report));
        } catch (error) {
          console.error('reconciliation slice failed; retrying later:', error instanceof Error ? error.message : String(error));
          this.reconciler.sliceFailed(Date.now());
        }
      }
    });
    await this.rearm();
  }

  /** The dataset, publishing, outbox and quarantine state. */
  status(): CoordinatorStatus {
    const manifest = this.dataset.manifest();
    const backlog = this.dataset.backlogSize();
    const publish = this.publisher.status(manifest.revision);
    return {
      dataset: { epoch: manifest.epoch, revision: manifest.revision, records: this.dataset.count(), index_backlog: backlog },
      publish: { ...publish, up_to_date: publish.up_to_date && backlog === 0 },
      outbox: { fanout: this.fanout.pending() + this.websub.pending() + this.replays.pending(), pending: this.outbox.size(), unconfirmed: this.outbox.unconfirmed() },
      reconciliation: { pass_under_way: this.reconciler.passUnderWay() },
      quarantine: { count: this.reconciler.quarantineCount() },
      stats: { built: this.stats.ready() },
    };
  }

  /** Invalid values found under `event:` keys, oldest first. */
  quarantined(): QuarantineEntry[] {
    return this.reconciler.quarantined();
  }

  /** Creates a subscription; its secret and scoped token are returned here once and never shown again. */
  createSubscription(input: SubscriptionInput, now: string): Promise<SubscriptionCredentials> {
    return this.subscriptions.create(input, now);
  }

  /** Gives a subscription a new signing secret (returned once); the old one signs too for `graceSeconds`. Null when there is no such subscription. */
  rotateSubscriptionSecret(id: string, graceSeconds: number, now: string): { subscription: Subscription; secret: string } | null {
    return this.subscriptions.rotateSecret(id, graceSeconds, new Date(now));
  }

  /** Gives a subscription a new scoped token (returned once); null when there is no such subscription. */
  rotateSubscriptionToken(id: string, now: string): Promise<string | null> {
    return this.subscriptions.rotateToken(id, now);
  }

  /** Whether `digest` is the digest of the subscription's scoped token. */
  subscriptionTokenMatches(id: string, digest: string): boolean {
    return this.subscriptions.tokenMatches(id, digest);
  }

  /** Every subscription, oldest first. */
  listSubscriptions(): Subscription[] {
    return this.subscriptions.list();
  }

  /** One subscription, or null. */
  getSubscription(id: string): Subscription | null {
    return this.subscriptions.get(id);
  }

  /** Deletes a subscription with its log and dead letters; false when there was none. Queued messages for it are dropped on delivery. */
  deleteSubscription(id: string): boolean {
    this.outbox.dropFor(id);
    return this.subscriptions.delete(id);
  }

  /**
   * Re-enables a disabled subscription with a clean health record and, with
   * `replay`, sends the alerts held while it was disabled; null when there is
   * no such subscription.
   */
  async enableSubscription(id: string, now: string, replay = false): Promise<{ subscription: Subscription; replayed: number | null } | null> {
    const subscription = this.subscriptions.enable(id, now);
    if (!subscription) return null;
    return { subscription, replayed: replay ? await this.requeueDeadLetters(id, now, HELD_REASON) : null };
  }

  /**
   * Starts replaying to a subscription the alerts of the changes committed
   * in a window (store/replay.ts); the alarm queues them in slices.
   */
  async replay(id: string, request: ReplayRequest, now: string): Promise<ReplayStart> {
    const started = await this.exclusive(() => this.replays.start(id, request, now));
    await this.rearm();
    return started;
  }

  /** A subscription's replays, newest first; null when there is no such subscription. */
  listReplays(id: string, limit: number): ReplayStatus[] | null {
    return this.subscriptions.get(id) ? this.replays.list(id, limit) : null;
  }

  /** Queues a signed `ping` to a subscription; its message id, or null when there is no such subscription. */
  async pingSubscription(id: string, now: string): Promise<string | null> {
    if (!this.subscriptions.get(id)) return null;
    const requestedAt = new Date(now);
    const msgId = await webhookMessageId({ subscriptionId: id, type: 'ping', requestedAt });
    const payload = JSON.stringify(buildEnvelope('ping', { subscription_id: id }, requestedAt));
    this.outbox.add([{ msg_id: msgId, subscription_id: id, type: 'ping', record_id: null, payload }], now);
    // Sent in turn with the alarm, so two sends never queue the same outbox rows twice.
    await this.exclusive(() => this.outbox.send(Date.now()));
    return msgId;
  }

  /**
   * What the delivery consumer needs for a batch, in one call: the target of
   * each subscription still there (URL, secret, status), for each message
   * the outbox holds the receiver attempts recorded so far (the next attempt
   * is numbered from it, so runs that failed on the platform spend none), and
   * the payload of each record revision the messages refer to. A message the
   * outbox holds whose payload is gone cannot be sent: it is dead-lettered
   * here, and the consumer, finding it no longer held, acknowledges it.
   */
  deliveryTargets(messages: readonly PlannedMessage[]): DeliveryPlan {
    const targets: Record<string, DeliveryTarget> = {};
    for (const id of new Set(messages.map((message) => message.subscription_id))) {
      const target = this.subscriptions.deliveryTarget(id, new Date());
      if (target) targets[id] = target;
    }
    const recorded = this.outbox.recordedAttempts(messages.map((message) => message.msg_id));
    const payloads: Record<string, string> = {};
    for (const { msg_id, payload_of } of messages) {
      if (payload_of === null || !recorded.has(msg_id)) continue;
      const key = payloadKey(payload_of.record_id, payload_of.revision);
      const payload = payloads[key] ?? this.fanout.payload(payload_of.record_id, payload_of.revision);
      if (payload !== null) {
        payloads[key] = payload;
        continue;
      }
      const message = this.outbox.take(msg_id);
      if (message) this.subscriptions.storeDeadLetter({ ...message, reason: 'the alert payload of this record revision is gone', attempts: recorded.get(msg_id) ?? 0 }, new Date().toISOString());
      recorded.delete(msg_id);
    }
    return { targets, recorded_attempts: Object.fromEntries(recorded), payloads };
  }

  /**
   * Records a batch's outcomes in one call and one transaction: logs each
   * attempt, updates endpoint health and tells the outbox (a final outcome
   * ends the message's stay; a retry is expected at `next_attempt_at`). A
   * message given up on, or whose retry is moot because the endpoint is now
   * disabled, is stored as a dead letter here; the answer says which were.
   */
  async recordDeliveries(reports: readonly DeliveryReport[]): Promise<{ dead_lettered: boolean }[]> {
    const results = this.recordDeliveryReports(reports);
    // Reports make room in the queue's window (store/alert-outbox.ts): messages waiting for it go next.
    await this.rearm();
    return results;
  }

  /** Records a batch's outcomes in one transaction (see `recordDeliveries`). */
  private recordDeliveryReports(reports: readonly DeliveryReport[]): { dead_lettered: boolean }[] {
    const nowMs = Date.now();
    return this.ctx.storage.transactionSync(() =>
      reports.map(({ entry, verdict, next_attempt_at, message, give_up_reason }) => {
        if (entry.outcome === 'skipped') {
          // The subscription was disabled after the alert was made: hold it for a replay instead of dropping it.
          const held = this.outbox.take(entry.msg_id);
          if (held) {
            this.subscriptions.hold(held, HELD_REASON, entry.at);
            return { dead_lettered: false };
          }
        }
        const { disabled } = this.subscriptions.recordDelivery(entry, verdict);
        const reason = give_up_reason ?? (entry.outcome === 'retrying' && disabled ? `${entry.error}; subscription disabled` : null);
        if (message && reason !== null) {
          this.outbox.report(entry.msg_id, 'dead_lettered', entry.attempt, nowMs, null);
          this.subscriptions.storeDeadLetter({ ...message, reason, attempts: entry.attempt }, new Date(nowMs).toISOString());
          return { dead_lettered: true };
        }
        this.outbox.report(entry.msg_id, entry.outcome, entry.attempt, nowMs, next_attempt_at === null ? null : Date.parse(next_attempt_at));
        return { dead_lettered: false };
      }),
    );
  }

  /** A subscription's delivery log, newest first; null when there is no such subscription. */
  deliveries(id: string, limit: number): DeliveryAttempt[] | null {
    return this.subscriptions.deliveries(id, limit);
  }

  /** Keeps a dead letter for inspection and redelivery, and logs it. */
  storeDeadLetter(letter: DeadLetter, now: string): void {
    this.outbox.report(letter.msg_id, 'dead_lettered', letter.attempts, Date.now(), null);
    this.subscriptions.storeDeadLetter(letter, now);
  }

  /** The dead letters of a subscription, oldest first; null when there is no such subscription. */
  deadLetters(id: string): DeadLetterSummary[] | null {
    return this.subscriptions.deadLetters(id);
  }

  /** Queues a subscription's dead letters again, with their original webhook ids; how many, or null when there is no such subscription. */
  async redeliver(id: string, now: string): Promise<number | null> {
    if (!this.subscriptions.get(id)) return null;
    return this.requeueDeadLetters(id, now);
  }

  /** Moves a subscription's dead letters (all, or those kept for `reason`) back into the outbox and sends them; how many. */
  private async requeueDeadLetters(id: string, now: string, reason?: string): Promise<number> {
    const messages = this.ctx.storage.transactionSync(() => {
      const taken = this.subscriptions.takeDeadLetters(id, reason);
      this.outbox.add(taken, now);
      return taken;
    });
    await this.exclusive(() => this.outbox.send(Date.now()));
    return messages.length;
  }

  /**
   * Admits a WebSub request from client `ip` at `nowMs`: counted against the
   * rate limit (`retry_after` seconds when over it) and, for a subscription,
   * checked against the caps (a renewal of `id` always fits).
   */
  admitWebSubRequest(ip: string, mode: 'subscribe' | 'unsubscribe', id: string, callback: string, nowMs: number): { retry_after: number } | { cap: CapProblem } {
    const retryAfter = this.websub.countRequest(ip, nowMs);
    if (retryAfter !== null) return { retry_after: retryAfter };
    return { cap: mode === 'subscribe' ? this.websub.capProblem(id, callback) : null };
  }

  /** Makes a WebSub subscription active once its intent is verified (or renews it); the cap it would exceed instead, if any. */
  async activateWebSub(subscription: VerifiedSubscription, now: string): Promise<CapProblem> {
    const problem = this.websub.activate(subscription, now);
    await this.rearm();
    return problem;
  }

  /** Removes a WebSub subscription (verified unsubscribe) with its queued notifications; false when there was none. */
  removeWebSub(id: string): boolean {
    return this.websub.remove(id);
  }

  /** Drops the WebSub subscriptions whose lease ended by `now` (the cron and the alarm); their ids. */
  expireWebSub(now: string): string[] {
    return this.websub.expire(now);
  }

  /** The verified WebSub subscriptions, oldest first (never their secrets). */
  listWebSub(): WebSubSubscription[] {
    return this.websub.list();
  }

  /** A WebSub subscription's delivery log, newest first; null when there is no such verified subscription. */
  webSubDeliveries(id: string, limit = 100): DeliveryAttempt[] | null {
    return this.websub.exists(id) ? this.websub.deliveries(id, limit) : null;
  }

  /** What the consumer needs for a batch of WebSub notifications: the target of each subscription whose lease runs, and the attempts recorded for each message the outbox still holds. */
  webSubTargets(messages: readonly Pick<DeliveryMessage, 'msg_id' | 'subscription_id'>[]): { targets: Record<string, WebSubTarget>; recorded_attempts: Record<string, number> } {
    const targets = this.websub.targets(messages.map((message) => message.subscription_id), new Date().toISOString());
    return { targets, recorded_attempts: Object.fromEntries(this.outbox.recordedAttempts(messages.map((message) => message.msg_id))) };
  }

  /** Records WebSub distribution outcomes in one transaction: the delivery log, and the outbox told of each (a message given up on leaves it, logged `dead_lettered`). */
  async recordWebSubDeliveries(reports: readonly WebSubReport[]): Promise<void> {
    const nowMs = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const { entry, next_attempt_at } of reports) {
        this.websub.logDelivery(entry);
        if (entry.outcome === 'failed') this.websub.logDelivery({ ...entry, outcome: 'dead_lettered', at: new Date(nowMs).toISOString() });
        this.outbox.report(entry.msg_id, entry.outcome === 'failed' ? 'dead_lettered' : entry.outcome, entry.attempt, nowMs, next_attempt_at === null ? null : Date.parse(next_attempt_at));
      }
    });
    await this.rearm();
  }

  /** Runs `work` after every earlier exclusive task has finished. */
  private exclusive<T>(work: () => Promise<T> | T): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes records: the plan is made from SQLite, then the records, index,
   * publishing queue, alerts and anything `alsoInTransaction` does are
   * committed in one storage transaction. Runs inside `exclusive`.
   */
  private async write(inputs: readonly EventInput[], now: string, alsoInTransaction?: () => void): Promise<WriteResult[]> {
    const changedAt = this.changes.commitTime(now);
    const plan = await this.dataset.plan(inputs, now, changedAt);
    const nowMs = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.dataset.apply(plan, this.publisher, this.changes, nowMs, changedAt);
      const changes = plan.changed.map(({ result }) => ({ record: result.record, previous: result.previous }));
      // A restored record is an update to whoever its new version concerns.
      this.fanout.add(plan.changed.map(({ result }) => ({ record: result.record, previous: result.previous, ...(result.restored ? { type: 'event.updated' as const } : {}) })), new Date(nowMs).toISOString());
      this.websub.add(changes, this.dataset.manifest().revision, new Date(nowMs).toISOString());
      alsoInTransaction?.();
    });
    return plan.results;
  }

  /** Retracts a record and queues its `event.deleted` alerts, in one transaction. Runs inside `exclusive`. */
  private retractNow(id: string, reason: string | null, now: string): Retraction | null {
    return this.ctx.storage.transactionSync(() => this.retractInTransaction(id, reason, now));
  }

  /** Retracts a record and queues its `event.deleted` alerts; call inside a storage transaction. */
  private retractInTransaction(id: string, reason: string | null, now: string): Retraction | null {
    const nowMs = Date.now();
    const retraction = this.dataset.retract(id, reason, now, this.publisher, this.changes, nowMs);
    if (retraction && !retraction.already) {
      const { tombstone, lastVersion } = retraction;
      // Matched against the last version; numbered with the retraction's revision, so its webhook-id is its own.
      this.fanout.add([{ record: { ...lastVersion, revision: tombstone.revision }, previous: null, type: 'event.deleted', data: deletedData(tombstone, lastVersion) }], new Date(nowMs).toISOString());
      // The feeds the record leaves are pushed to their WebSub subscribers.
      this.websub.add([{ record: lastVersion, previous: null }], this.dataset.manifest().revision, new Date(nowMs).toISOString());
    }
    return retraction;
  }

  /** Reads the next reconciliation slice and adopts what it found, moving the pass's cursor in the same transaction. */
  private async reconcileSlice(now: string): Promise<ReconcileReport> {
    const slice = await this.reconciler.scan(now);
    const retracted: string[] = [];
    const results = await this.write(slice.adopt, now, () => {
      this.reconciler.advance(slice.nextCursor, slice.lastId);
      for (const { id, reason } of slice.retract) if (this.retractInTransaction(id, reason, now)?.already === false) retracted.push(id);
    });
    return {
      scanned: slice.scanned,
      retracted,
      adopted: results.filter((result) => result.change !== 'unchanged').map((result) => result.record.id),
      alerted: results.filter((result) => result.change !== 'unchanged').length,
      quarantined: slice.quarantined.map(({ key, problem }) => ({ key, problem })),
      complete: slice.nextCursor === null,
    };
  }

  /** The value to publish under a key the queue holds without one: records, index chunks, patches and segments, front pages, the manifest and its head come from the truth. */
  private publishedValue(key: string): string | null {
    if (key === MANIFEST_KEY) return this.dataset.manifestText();
    if (key === HEAD_KEY) return this.dataset.headText();
    if (key.startsWith(CHANGES_KEY_PREFIX)) return this.changes.publishedValue(key);
    if (key.startsWith(STATS_KEY_PREFIX)) return this.stats.publishedValue(key);
    if (key.startsWith(CHUNK_KEY_PREFIX) || key.startsWith(PATCH_KEY_PREFIX) || key.startsWith(SEGMENT_KEY_PREFIX)) return this.dataset.indexNodeText(key);
    if (key.startsWith(FRONT_PAGE_KEY_PREFIX)) return this.dataset.frontPageText(key);
    if (key.startsWith(EVENT_VERSION_KEY_PREFIX)) {
      const [id, revision] = key.slice(EVENT_VERSION_KEY_PREFIX.length).split(':');
      return this.dataset.currentText(id!, Number(revision));
    }
    if (key.startsWith(EVENT_KEY_PREFIX)) return this.dataset.currentText(key.slice(EVENT_KEY_PREFIX.length));
    return null;
  }

  /** Whether the index backlog has records and the revision its last slice made is published, so the next may be made. */
  private backlogDue(): boolean {
    return this.dataset.backlogSize() > 0 && this.publisher.publishedRevision() >= this.dataset.backlogRevision();
  }

  /** Sets the alarm to the earliest moment publishing, the index backlog, the outbox, reconciliation or the stats build has work. */
  private async rearm(): Promise<void> {
    const nowMs = Date.now();
    const times = [this.publisher.nextRunAt(nowMs), this.backlogDue() ? nowMs : null, this.fanout.anyPending() || this.websub.pending() > 0 ? nowMs : null, this.websub.nextExpiryAt(), this.replays.nextRunAt(nowMs), this.outbox.nextSendAt(nowMs), this.reconciler.nextSliceAt(nowMs), this.stats.ready() ? null : nowMs].filter((time): time is number => time !== null);
    if (times.length === 0) return;
    const wanted = Math.min(...times);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > wanted) await this.ctx.storage.setAlarm(wanted);
  }
}
