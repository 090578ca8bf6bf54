/**
 * Replays of webhook alerts, in the Coordinator's SQLite: a replay re-sends
 * to one subscription the alerts it would have received for the changes
 * committed in a window of time, with their original webhook-ids, through
 * the outbox like any alert.
 *
 * A request stores the replay with the range of change numbers its window
 * covers (change times only go up along the log, so the window is one range,
 * fixed when the request is made). The Coordinator's alarm then goes through
 * that range in slices of REPLAY_SLICE changes: each change of the replay's
 * types, committed once the subscription existed, is turned into the alert it
 * made (domain/replay.ts) and tested with the live fan-out's rule; a
 * concerned one has its payload stored (once per record revision, as the
 * fan-out stores it) and a message referring to it added to the outbox,
 * marked with the replay's id. A slice and the cursor that says how far the
 * replay has got are committed together, and message ids are deterministic,
 * so a crash mid-replay neither loses nor repeats an alert. Replays are
 * throttled: a slice runs only while fewer than REPLAY_THROTTLE.outboxHighWater
 * messages wait unsent in the outbox, so live alerts never queue behind more
 * than that of a replay.
 */
import { KIND_OF_EVENT_TYPE, MAX_REPLAYS_UNDER_WAY, alertOfChange, type ReplayRequest } from '../domain/replay.ts';
import { changeConcerns, type SubscribableEventType } from '../domain/subscription.ts';
import { webhookMessageId } from '../domain/webhook-signing.ts';
import type { AlertFanout } from './alert-fanout.ts';
import type { AlertOutbox } from './alert-outbox.ts';
import type { ChangeLog } from './change-log.ts';
import type { SubscriptionsTable } from './subscriptions-table.ts';

/** The table this module keeps. */
export const REPLAY_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS replays (
     id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, since TEXT NOT NULL, until TEXT NOT NULL, event_types TEXT NOT NULL,
     after_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, changes_in_window INTEGER NOT NULL, queued INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL, finished_at TEXT)`,
  'CREATE INDEX IF NOT EXISTS replays_under_way ON replays (finished_at, created_at)',
  'CREATE INDEX IF NOT EXISTS replays_by_subscription ON replays (subscription_id, created_at)',
];

/** Changes one slice goes through. */
export const REPLAY_SLICE = 300;
/** Unsent messages in the outbox at which replays wait (tests may lower it). */
export const REPLAY_THROTTLE = { outboxHighWater: 1_000 };
/** How long replays wait when the outbox is at its high water. */
const REPLAY_THROTTLE_MS = 1_000;

/** A replay as `POST /subscriptions/:id/replay` answers it. */
export interface ReplaySummary {
  replay_id: string;
  subscription_id: string;
  since: string;
  until: string;
  event_types: SubscribableEventType[];
  /** Changes of those types committed in the window: at most this many alerts (the subscription's filters are applied as they are queued). */
  changes_in_window: number;
  status: 'queued';
}

/** A replay as `GET /subscriptions/:id/replays` lists it: `queued` while its window is still being gone through, then `finished`. */
export interface ReplayStatus extends Omit<ReplaySummary, 'status'> {
  status: 'queued' | 'finished';
  /** Alerts put in the outbox so far (those of the window's changes the subscription's filters match). */
  alerts_queued: number;
  created_at: string;
  finished_at: string | null;
}

/** What a replay request came to. */
export type ReplayStart =
  | { outcome: 'started'; replay: ReplaySummary }
  | { outcome: 'not_found' | 'disabled' | 'too_many' }
  | { outcome: 'no_event_types'; subscribed: SubscribableEventType[] };

type ReplayRow = {
  id: string;
  subscription_id: string;
  event_types: string;
  after_seq: number;
  last_seq: number;
};

/** Replays under way and done. */
export class ReplayTable {
  constructor(
    private readonly sql: SqlStorage,
    private readonly changes: ChangeLog,
    private readonly subscriptions: SubscriptionsTable,
    private readonly fanout: AlertFanout,
    private readonly outbox: AlertOutbox,
  ) {}

  /**
   * Starts a replay for subscription `subscriptionId`, made at `now`: the
   * event types replayed are those asked for among those it takes (all it
   * takes by default). Refused for an unknown or disabled subscription, one
   * with MAX_REPLAYS_UNDER_WAY replays under way, or types it does not take.
   */
  start(subscriptionId: string, request: ReplayRequest, now: string): ReplayStart {
    const subscription = this.subscriptions.get(subscriptionId);
    if (!subscription) return { outcome: 'not_found' };
    if (subscription.status !== 'active') return { outcome: 'disabled' };
    const eventTypes = subscription.event_types.filter((type) => request.event_types?.includes(type) ?? true);
    if (eventTypes.length === 0) return { outcome: 'no_event_types', subscribed: [...subscription.event_types] };
    const underWay = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM replays WHERE subscription_id = ? AND finished_at IS NULL', subscriptionId).one().n;
    if (underWay >= MAX_REPLAYS_UNDER_WAY) return { outcome: 'too_many' };
    const window = this.changes.window(request.since, request.until, eventTypes.map((type) => KIND_OF_EVENT_TYPE[type]));
    const id = `rpl_${crypto.randomUUID().replace(/-/g, '').slice(0, 24)}`;
    this.sql.exec(
      'INSERT INTO replays (id, subscription_id, since, until, event_types, after_seq, last_seq, changes_in_window, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      id, subscriptionId, request.since, request.until, JSON.stringify(eventTypes), window ? window.first - 1 : 0, window?.last ?? 0, window?.count ?? 0, now, window ? null : now,
    );
    return { outcome: 'started', replay: { replay_id: id, subscription_id: subscriptionId, since: request.since, until: request.until, event_types: eventTypes, changes_in_window: window?.count ?? 0, status: 'queued' } };
  }

  /** A subscription's replays, newest first (at most `limit`). */
  list(subscriptionId: string, limit: number): ReplayStatus[] {
    type Row = { id: string; since: string; until: string; event_types: string; changes_in_window: number; queued: number; created_at: string; finished_at: string | null };
    return this.sql
      .exec<Row>('SELECT id, since, until, event_types, changes_in_window, queued, created_at, finished_at FROM replays WHERE subscription_id = ? ORDER BY created_at DESC, id DESC LIMIT ?', subscriptionId, limit)
      .toArray()
      .map((row) => ({
        replay_id: row.id,
        subscription_id: subscriptionId,
        since: row.since,
        until: row.until,
        event_types: JSON.parse(row.event_types) as SubscribableEventType[],
        changes_in_window: row.changes_in_window,
        status: row.finished_at === null ? 'queued' : 'finished',
        alerts_queued: row.queued,
        created_at: row.created_at,
        finished_at: row.finished_at,
      }));
  }

  /** Replays not finished yet. */
  pending(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM replays WHERE finished_at IS NULL').one().n;
  }

  /** When the next slice should run: now, or REPLAY_THROTTLE_MS later while the outbox is at its high water; null when no replay is under way. */
  nextRunAt(nowMs: number): number | null {
    if (this.pending() === 0) return null;
    return this.outbox.size() >= REPLAY_THROTTLE.outboxHighWater ? nowMs + REPLAY_THROTTLE_MS : nowMs;
  }

  /**
   * Goes through the next REPLAY_SLICE changes of the oldest replay under
   * way, queueing the alerts they made that concern its subscription (see
   * the module comment). A replay whose subscription is gone ends.
   */
  async expand(storage: DurableObjectStorage, now: string): Promise<void> {
    const replay = this.sql.exec<ReplayRow>('SELECT id, subscription_id, event_types, after_seq, last_seq FROM replays WHERE finished_at IS NULL ORDER BY created_at LIMIT 1').toArray()[0];
    if (!replay) return;
    const subscription = this.subscriptions.get(replay.subscription_id);
    const changes = subscription ? this.changes.range(replay.after_seq, replay.last_seq, REPLAY_SLICE) : [];
    const kinds = new Set((JSON.parse(replay.event_types) as SubscribableEventType[]).map((type) => KIND_OF_EVENT_TYPE[type]));
    const queued: { msgId: string; alert: NonNullable<ReturnType<typeof alertOfChange>> }[] = [];
    for (const change of changes) {
      // A subscription is not told of what was committed before it existed.
      if (!kinds.has(change.kind) || change.at < subscription!.created_at) continue;
      const alert = alertOfChange(change, change.kind === 'created' ? null : this.changes.before(change.record_id, change.seq));
      if (alert === null || !changeConcerns(subscription!, alert.record, alert.previous, alert.type)) continue;
      queued.push({ alert, msgId: await webhookMessageId({ subscriptionId: replay.subscription_id, type: alert.type, recordId: alert.record.id, revision: alert.record.revision }) });
    }
    const reached = changes.at(-1)?.seq ?? replay.last_seq;
    storage.transactionSync(() => {
      for (const { msgId, alert } of queued) {
        const { id: recordId, revision } = alert.record;
        this.fanout.storePayload(recordId, revision, alert.payload);
        this.outbox.addReference({ msg_id: msgId, subscription_id: replay.subscription_id, type: alert.type, record_id: recordId, revision, payload: '', replay_id: replay.id }, now);
      }
      this.sql.exec(
        'UPDATE replays SET after_seq = ?, queued = queued + ?, finished_at = ? WHERE id = ?',
        reached, queued.length, reached >= replay.last_seq ? now : null, replay.id,
      );
    });
  }
}
