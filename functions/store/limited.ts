/**
 * Bounded concurrency for outbound operations: a Worker invocation may have
 * at most six connections open at once (KV, fetch and Queues calls alike).
 */

/** Most operations one invocation keeps in flight. */
export const MAX_CONNECTIONS = 6;

/**
 * Runs `work` on every item with at most `limit` running at once and returns
 * each outcome in item order; a failure is returned, never thrown.
 */
export async function settleLimited<T, R>(items: readonly T[], work: (item: T) => Promise<R>, limit = MAX_CONNECTIONS): Promise<PromiseSettledResult<R>[]> {
  const outcomes: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        outcomes[index] = { status: 'fulfilled', value: await work(items[index]!) };
      } catch (reason) {
        outcomes[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return outcomes;
}
