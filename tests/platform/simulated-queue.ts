/**
 * A test-only wrapper of a Queue producer binding that enforces what
 * Cloudflare Queues enforce and the local queue does not: a message of at
 * most 128 KB, and a `sendBatch` of at most 100 messages and 256 KB. A test
 * may also make it refuse chosen messages (as a queue refusing one message)
 * or everything (an unavailable queue). Counters tell what was sent, the
 * largest message and batch, and the most sends that were ever in flight at
 * once (a Worker or Durable Object keeps at most six connections open).
 */

/** Queues' limits. */
export const QUEUE_LIMITS = { messageBytes: 128 * 1024, batchMessages: 100, batchBytes: 256 * 1024 } as const;

const bytesOf = (body: unknown): number => new TextEncoder().encode(JSON.stringify(body)).length;

interface QueueState {
  /** Refuse messages whose body matches. */
  refuse: ((body: unknown) => boolean) | null;
  /** Refuse every send. */
  unavailable: boolean;
  sent: number;
  refused: number;
  largestBatchBytes: number;
  largestMessageBytes: number;
  inFlight: number;
  maxInFlight: number;
}

const cleared = (): QueueState => ({ refuse: null, unavailable: false, sent: 0, refused: 0, largestBatchBytes: 0, largestMessageBytes: 0, inFlight: 0, maxInFlight: 0 });
let state = cleared();

/** The queue simulation's controls, shared by tests and the Coordinator (one isolate per test file). */
export const queueSimulation = {
  /** Back to accepting everything within the limits, counters cleared. */
  reset(): void {
    state = cleared();
  },
  /** Refuse every message whose body matches (null: none). */
  refuse(predicate: ((body: unknown) => boolean) | null): void {
    state.refuse = predicate;
  },
  /** Refuse every send while true. */
  setUnavailable(unavailable: boolean): void {
    state.unavailable = unavailable;
  },
  /** Counters since the last reset. */
  stats(): Readonly<Pick<QueueState, 'sent' | 'refused' | 'largestBatchBytes' | 'largestMessageBytes' | 'maxInFlight'>> {
    const { sent, refused, largestBatchBytes, largestMessageBytes, maxInFlight } = state;
    return { sent, refused, largestBatchBytes, largestMessageBytes, maxInFlight };
  },
  /** Wraps a producer binding. */
  wrap(queue: Queue): Queue {
    const check = (bodies: readonly unknown[]): void => {
      const sizes = bodies.map(bytesOf);
      const fail = (why: string): never => {
        state.refused += bodies.length;
        throw new Error(`Queue send failed: ${why}`);
      };
      if (state.unavailable) fail('queue unavailable (simulated)');
      if (bodies.length > QUEUE_LIMITS.batchMessages) fail(`${bodies.length} messages in one batch, over ${QUEUE_LIMITS.batchMessages}`);
      const total = sizes.reduce((sum, size) => sum + size, 0);
      if (total > QUEUE_LIMITS.batchBytes) fail(`batch of ${total} bytes, over ${QUEUE_LIMITS.batchBytes}`);
      const large = sizes.find((size) => size > QUEUE_LIMITS.messageBytes);
      if (large !== undefined) fail(`message of ${large} bytes, over ${QUEUE_LIMITS.messageBytes}`);
      if (state.refuse && bodies.some(state.refuse)) fail('message refused (simulated)');
      state.sent += bodies.length;
      state.largestBatchBytes = Math.max(state.largestBatchBytes, total);
      state.largestMessageBytes = Math.max(state.largestMessageBytes, ...sizes);
    };
    /** Runs a send as one connection, counting how many are open at once. */
    const connected = async <T>(send: () => Promise<T>): Promise<T> => {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      try {
        return await send();
      } finally {
        state.inFlight--;
      }
    };
    return {
      send: async (body: unknown, options?: QueueSendOptions) => {
        check([body]);
        return connected(() => queue.send(body, options));
      },
      sendBatch: async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
        const list = [...messages];
        check(list.map((message) => message.body));
        return connected(() => queue.sendBatch(list, options));
      },
    } as Queue;
  },
};
