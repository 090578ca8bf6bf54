/**
 * Shares an invocation's few outbound connections fairly between keys (the
 * webhook endpoints of a batch), so one slow key cannot hold every
 * connection while the others' work waits.
 */
import { MAX_CONNECTIONS } from '../store/limited.ts';

/**
 * Runs `work` on every item with at most `limit` running at once. Whenever a
 * slot frees, the waiting item whose key has the fewest items running starts
 * (the oldest first among equals); a key still takes every free slot when no
 * other key waits. Resolves once every item's work has settled; a failure of
 * `work` is logged, never thrown, so it cannot stop the others.
 */
export async function runFairly<T>(items: readonly T[], keyOf: (item: T) => string, work: (item: T) => Promise<void>, limit = MAX_CONNECTIONS): Promise<void> {
  const waiting = [...items];
  const runningByKey = new Map<string, number>();
  const running = (item: T) => runningByKey.get(keyOf(item)) ?? 0;
  let active = 0;
  await new Promise<void>((allSettled) => {
    const startNext = (): void => {
      while (active < limit && waiting.length > 0) {
        let chosen = 0;
        for (let index = 1; index < waiting.length; index++) if (running(waiting[index]!) < running(waiting[chosen]!)) chosen = index;
        const item = waiting.splice(chosen, 1)[0]!;
        const key = keyOf(item);
        runningByKey.set(key, running(item) + 1);
        active++;
        void Promise.resolve()
          .then(() => work(item))
          .catch((error: unknown) => console.error('fair slot work failed:', error instanceof Error ? error.message : String(error)))
          .finally(() => {
            runningByKey.set(key, (runningByKey.get(key) ?? 1) - 1);
            active--;
            startNext();
          });
      }
      if (active === 0 && waiting.length === 0) allSettled();
    };
    startNext();
  });
}
