/**
 * Subscribers for the webhook benchmark: a local receiver subscribed through
 * `POST /subscriptions`, and what it is expected to receive.
 */
import type { Api } from './ingest.ts';
import type { DeliveryLog, Receiver } from './receivers.ts';

/** A receiver and its subscription. */
export interface Subscriber {
  id: string;
  receiver: Receiver;
}

async function call(api: Api, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${api.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Runs `work` on every item, `concurrency` at once. */
async function eachLimited<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Subscribes every receiver (no filters: every record concerns it), a few at once. */
export async function subscribe(api: Api, receivers: readonly Receiver[], concurrency = 8): Promise<Subscriber[]> {
  return eachLimited(receivers, concurrency, async (receiver) => {
    const response = await call(api, 'POST', '/subscriptions', { url: receiver.url, description: 'bench:webhooks' });
    const text = await response.text();
    if (response.status !== 201) throw new Error(`POST /subscriptions: ${response.status} ${text.slice(0, 300)}`);
    const { id, secret } = JSON.parse(text) as { id: string; secret: string };
    receiver.subscribe(id, secret);
    return { id, receiver };
  });
}

/** Deletes subscriptions (their queued messages are dropped). */
export async function deleteSubscriptions(api: Api, subscriptionIds: readonly string[], concurrency = 8): Promise<void> {
  await eachLimited(subscriptionIds, concurrency, async (id) => {
    const response = await call(api, 'DELETE', `/subscriptions/${id}`);
    await response.arrayBuffer();
    if (response.status !== 204) throw new Error(`DELETE /subscriptions/${id}: ${response.status}`);
  });
}

/** Deletes the subscriptions and closes their receivers. */
export async function unsubscribe(api: Api, subscribers: readonly Subscriber[]): Promise<void> {
  await deleteSubscriptions(api, subscribers.map(({ id }) => id));
  await Promise.all(subscribers.map(({ receiver }) => receiver.close()));
}

/** How often the delivery log is checked; the resolution of the times measured. */
const POLL_MS = 20;

/**
 * The `event.created` deliveries of new records to subscribers, expected from
 * now on: `wait` follows the log until each has arrived or the deadline has
 * passed; then `lost` counts those that never came.
 */
export class Expectation {
  /** Deliveries not seen yet, as `<subscription> <record id>@1`. */
  private readonly pending = new Set<string>();
  /** Arrival time of the last delivery of each record seen so far. */
  private readonly lastByRecord = new Map<string, number>();
  private readonly log: DeliveryLog;
  private cursor: number;
  /** Arrival time of the first expected delivery, NaN until one arrives. */
  firstAt = Number.NaN;

  constructor(log: DeliveryLog, subscriptionIds: readonly string[], recordIds: readonly string[]) {
    this.log = log;
    this.cursor = log.arrivals.length;
    for (const subscription of subscriptionIds) for (const record of recordIds) this.pending.add(`${subscription} ${record}@1`);
  }

  /** Waits until every expected delivery has arrived, or `deadlineSeconds` from now. */
  async wait(deadlineSeconds: number): Promise<void> {
    const deadline = performance.now() + deadlineSeconds * 1_000;
    for (;;) {
      for (; this.cursor < this.log.arrivals.length; this.cursor++) {
        const arrival = this.log.arrivals[this.cursor]!;
        if (!this.pending.delete(`${arrival.subscriptionId} ${arrival.about}`)) continue;
        if (Number.isNaN(this.firstAt)) this.firstAt = arrival.at;
        const record = arrival.about.slice(0, arrival.about.lastIndexOf('@'));
        this.lastByRecord.set(record, Math.max(this.lastByRecord.get(record) ?? 0, arrival.at));
      }
      if (this.pending.size === 0 || performance.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Expected deliveries that have not arrived. */
  get lost(): number {
    return this.pending.size;
  }

  /** When the last delivery of `recordId` (of any record, without it) arrived; NaN when none did. */
  lastAt(recordId?: string): number {
    const times = recordId === undefined ? [...this.lastByRecord.values()] : [this.lastByRecord.get(recordId) ?? Number.NaN];
    return times.length === 0 ? Number.NaN : Math.max(...times);
  }
}
