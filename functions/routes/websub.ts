/**
 * `POST /websub`: the WebSub hub's endpoint (https://www.w3.org/TR/websub/).
 * A form-encoded subscribe or unsubscribe request is validated (400 naming
 * the `hub.*` field), counted against the per-IP rate limit (429) and, to
 * subscribe, the caps per callback host and in total (403), then answered
 * 202 Accepted; the intent is verified with the callback afterwards
 * (jobs/websub.ts), and only then does anything change.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { WEBSUB_PATH, parseWebSubRequest, webSubSubscriptionId } from '../domain/websub.ts';
import type { Env } from '../env.ts';
import { verifyIntent } from '../jobs/websub.ts';
import { coordinator } from '../store/coordinator-stub.ts';
import { jsonError } from './errors.ts';

/** Largest accepted request body. */
const MAX_WEBSUB_BYTES = 8 * 1024;

/** The form media type the spec requires. */
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** The hub route. */
export const websubRoutes = new Hono<{ Bindings: Env }>().post(
  WEBSUB_PATH,
  bodyLimit({ maxSize: MAX_WEBSUB_BYTES, onError: (c) => jsonError(c, 413, 'payload_too_large', `The body must be at most ${MAX_WEBSUB_BYTES} bytes`, [{ field: 'body', message: 'too large' }]) }),
  async (c) => {
    const contentType = c.req.header('content-type') ?? '';
    if (contentType.split(';')[0]!.trim().toLowerCase() !== FORM_TYPE) {
      return jsonError(c, 415, 'unsupported_media_type', `The body must be ${FORM_TYPE}`, [{ field: 'content-type', message: `must be ${FORM_TYPE} (got ${JSON.stringify(contentType)})` }]);
    }
    const form = new URLSearchParams(new TextDecoder().decode(await c.req.arrayBuffer()));
    const origin = new URL(c.req.url).origin;
    const parsed = parseWebSubRequest(form, origin, { allowLoopbackHttp: c.env.ALLOW_LOOPBACK_WEBHOOKS === 'true' });
    if (Array.isArray(parsed)) {
      return jsonError(c, 400, 'invalid_field', `Invalid field: ${parsed.map((problem) => `${problem.field} ${problem.message}`).join('; ')}`, parsed);
    }
    const id = await webSubSubscriptionId(parsed.callback, parsed.topic.url);
    const ip = c.req.header('CF-Connecting-IP') ?? 'unknown';
    const admitted = await coordinator(c.env).admitWebSubRequest(ip, parsed.mode, id, parsed.callback, Date.now());
    if ('retry_after' in admitted) {
      c.header('Retry-After', String(admitted.retry_after));
      return jsonError(c, 429, 'rate_limited', 'Too many subscription requests from this client; retry later', [{ field: 'request', message: `too many hub requests from this client; retry after ${admitted.retry_after} s` }]);
    }
    if (admitted.cap) return jsonError(c, 403, 'limit_reached', `Invalid field: ${admitted.cap.field} ${admitted.cap.message}`, [admitted.cap]);
    c.executionCtx.waitUntil(
      verifyIntent(parsed, id, c.env).then(
        (outcome) => console.log('WebSub', parsed.mode, id, outcome),
        (error: unknown) => console.error('WebSub verification failed', id, error instanceof Error ? error.message : String(error)),
      ),
    );
    return c.json({ id, mode: parsed.mode, topic: parsed.topic.url, callback: parsed.callback, lease_seconds: parsed.mode === 'subscribe' ? parsed.lease_seconds : null, status: 'verifying' }, 202);
  },
);
