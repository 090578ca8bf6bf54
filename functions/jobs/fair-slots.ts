/**
 * Shares an invocation's few outbound connections fairly between keys (the
 * webhook endpoints of a batch), so one slow key cannot hold every
 * connection while the others' work waits; and hands a run off when it
 * takes too long, so a batch never waits for its slowest endpoint.
 */
import { MAX_CONNECTIONS } from '../store/limited.ts';

/** A run of `startFairly`: when it has settled, and how to stop it from starting more items. */
export interface FairRun<T> {
  /** Resolves once every started item's work has settled and nothing waits. */
  settled: Promise<void>;
  /** Starts no more items; returns those still waiting (their work never starts). */
  stop(): T[];
  /** The items whose work has started and not settled yet. */
  inFlight(): T[];
}

/**
 * Runs `work` on every item with at most `limit` running at once. Whenever a
 * slot frees, the waiting item whose key has the fewest items running starts
 * (the oldest first among equals); a key still takes every free slot when no
 * other key waits. A failure of `work` is logged, never thrown, so it cannot
 * stop the others.
 */
export function startFairly<T>(items: readonly T[], keyOf: (item: T) => string, work: (item: T) => Promise<void>, limit = MAX_CONNECTIONS): FairRun<T> {
  const waiting = [...items];
  const runningByKey = new Map<string, number>();
  const running = (item: T) => runningByKey.get(keyOf(item)) ?? 0;
  const started = new Set<T>();
  let active = 0;
  let allSettled = (): void => undefined;
  const settled = new Promise<void>((resolve) => (allSettled = resolve));
  const startNext = (): void => {
    while (active < limit && waiting.length > 0) {
      let chosen = 0;
      for (let index = 1; index < waiting.length; index++) if (running(waiting[index]!) < running(waiting[chosen]!)) chosen = index;
      const item = waiting.splice(chosen, 1)[0]!;
      const key = keyOf(item);
      runningByKey.set(key, running(item) + 1);
      active++;
      started.add(item);
      void Promise.resolve()
        .then(() => work(item))
        .catch((error: unknown) => console.error('fair slot work failed:', error instanceof Error ? error.message : String(error)))
        .finally(() => {
          started.delete(item);
          runningByKey.set(key, (runningByKey.get(key) ?? 1) - 1);
          active--;
          startNext();
        });
    }
    if (active === 0 && waiting.length === 0) allSettled();
  };
  startNext();
  return { settled, stop: () => waiting.splice(0, waiting.length), inFlight: () => [...started] };
}

/** What a run handed off: the items it never started, and those still in flight. */
export interface HandOff<T> {
  notStarted: T[];
  inFlight: T[];
}

/**
 * Waits for `run` to settle, but, with an execution context, for at most
 * `afterMs`: then stops it and returns what it hands off (the caller sends
 * the items not started back to the queue and lets those in flight finish
 * under `ctx.waitUntil`). Null when the run settled in time.
 */
export async function settleOrHandOff<T>(run: FairRun<T>, afterMs: number, ctx: Pick<ExecutionContext, 'waitUntil'> | undefined): Promise<HandOff<T> | null> {
  if (!ctx) {
    await run.settled;
    return null;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), afterMs)));
  const settled = await Promise.race([run.settled.then(() => true as const), late]);
  clearTimeout(timer);
  return settled ? null : { notStarted: run.stop(), inFlight: run.inFlight() };
}
