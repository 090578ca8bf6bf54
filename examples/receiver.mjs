#!/usr/bin/env node
/**
 * A minimal strikewire webhook receiver: verifies each delivery with the
 * `standardwebhooks` package, drops repeats by `webhook-id`, logs what arrived
 * and answers 204 (or 400 when the signature does not verify).
 *
 *   WEBHOOK_SECRET=whsec_... PORT=9000 node examples/receiver.mjs
 *
 * WEBHOOK_SECRET is the `secret` returned when the subscription was created.
 * Subscribe it with `"url": "http://127.0.0.1:9000/"` against a local Worker
 * whose configuration allows loopback targets; in production the URL must be
 * https on a public host, so put this behind a TLS-terminating proxy.
 */
import { createServer } from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error('Set WEBHOOK_SECRET to the subscription secret (whsec_...).');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 9000);
const verifier = new Webhook(secret);
/** Message ids already handled; a real receiver keeps these in its database for a few days. */
const seen = new Set();

const server = createServer(async (request, response) => {
  if (request.method !== 'POST') {
    response.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  // Verify the exact bytes received: re-serialising parsed JSON would change them.
  const body = Buffer.concat(chunks).toString('utf8');
  let envelope;
  try {
    envelope = verifier.verify(body, request.headers);
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
    console.warn(`rejected: ${error.message}`);
    response.writeHead(400, { 'content-type': 'text/plain' }).end(`${error.message}\n`);
    return;
  }
  const id = request.headers['webhook-id'];
  if (seen.has(id)) {
    console.log(`${id} again (a retry or duplicate): already handled`);
  } else {
    seen.add(id);
    const { type, data } = envelope;
    // event.deleted carries the tombstone (with the last version), not a record: drop the record on your side.
    const what = type === 'ping' ? `subscription ${data.subscription_id}` : type === 'event.deleted' ? `${data.id} (revision ${data.revision}): retracted, ${data.reason ?? 'no reason given'}` : `${data.id} (revision ${data.revision}): ${data.title}`;
    console.log(`${id} ${type} at ${envelope.timestamp}: ${what}`);
  }
  response.writeHead(204).end();
});

server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/`));
