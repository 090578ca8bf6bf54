/**
 * Local webhook receivers for the webhook benchmark: each listens on its own
 * free port on 127.0.0.1, in this process, and stands for one subscriber.
 *
 * A healthy receiver verifies every delivery with the `standardwebhooks`
 * package against its subscription's secret, answers 204 (400 when the
 * signature does not verify) and logs the webhook-id, the arrival time, its
 * subscription and what the delivery is about. A silent receiver accepts the
 * connection, reads the request and never answers, like an endpoint that
 * hangs; it only counts the requests it is holding.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';

/** One verified delivery as a receiver saw it. */
export interface Arrival {
  webhookId: string;
  subscriptionId: string;
  /** `<record id>@<revision>`, or `ping`. */
  about: string;
  type: string;
  /** `performance.now()` when the request had been read and verified. */
  at: number;
}

/**
 * Everything the receivers saw: verified arrivals in order, deliveries whose
 * signature did not verify, repeats of a webhook-id already seen, and ids
 * carried by two different deliveries (which must never happen).
 */
export class DeliveryLog {
  readonly arrivals: Arrival[] = [];
  badSignatures = 0;
  repeats = 0;
  conflictingIds = 0;
  /** What each webhook-id was about, to tell a repeat from a conflicting id. */
  private readonly identities = new Map<string, string>();

  /** Logs a verified delivery; repeats and conflicting ids are counted, not logged again. */
  add(arrival: Arrival): void {
    const identity = `${arrival.subscriptionId} ${arrival.type} ${arrival.about}`;
    const seen = this.identities.get(arrival.webhookId);
    if (seen === undefined) {
      this.identities.set(arrival.webhookId, identity);
      this.arrivals.push(arrival);
    } else if (seen === identity) this.repeats++;
    else this.conflictingIds++;
  }
}

/** One receiver on its own port. */
export interface Receiver {
  readonly url: string;
  /** Binds the receiver to its subscription: deliveries are verified with `secret` and logged under `subscriptionId`. */
  subscribe(subscriptionId: string, secret: string): void;
  /** Requests held open without an answer (silent receivers). */
  holding(): number;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** What a delivery's envelope says it is about. */
function describeEnvelope(envelope: unknown): { type: string; about: string } {
  const { type, data } = envelope as { type: string; data: { id?: string; revision?: number } };
  return { type, about: type === 'ping' ? 'ping' : `${data.id}@${data.revision}` };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address for a receiver');
  return address.port;
}

/** Starts a receiver that verifies and logs into `log` (`silent`: one that holds every request and never answers). */
export async function startReceiver(log: DeliveryLog, kind: 'healthy' | 'silent' = 'healthy'): Promise<Receiver> {
  let verifier: Webhook | undefined;
  let subscription = '';
  let held = 0;
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    if (kind === 'silent') {
      held++;
      request.socket.once('close', () => held--);
      return;
    }
    try {
      if (!verifier) throw new Error('no subscription yet');
      const { type, about } = describeEnvelope(verifier.verify(body, request.headers as Record<string, string>));
      log.add({ webhookId: String(request.headers['webhook-id']), subscriptionId: subscription, type, about, at: performance.now() });
      response.writeHead(204).end();
    } catch {
      log.badSignatures++;
      response.writeHead(400).end();
    }
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/`,
    subscribe(subscriptionId, secret) {
      subscription = subscriptionId;
      verifier = new Webhook(secret);
    },
    holding: () => held,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Starts `count` healthy receivers logging into `log`. */
export const startReceivers = (log: DeliveryLog, count: number): Promise<Receiver[]> => Promise.all(Array.from({ length: count }, () => startReceiver(log)));
