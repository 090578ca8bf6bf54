/**
 * Authentication for write routes: `Authorization: Bearer <ADMIN_TOKEN>`
 * checked in constant time by hono's bearer-auth middleware, and for the
 * routes of one subscription also that subscription's scoped token (checked
 * by its digest in the Coordinator). Without a configured admin token the
 * write API is closed (503), never open.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { SCOPED_TOKEN_PREFIX, scopedTokenDigest } from '../domain/subscriber-credentials.ts';
import type { Env } from '../env.ts';
import { coordinator } from '../store/coordinator-stub.ts';
import { jsonError } from './errors.ts';

const unauthorized = (c: Context) => jsonError(c, 401, 'unauthorized', 'A valid admin bearer token is required', [{ field: 'authorization', message: 'missing or invalid bearer token' }]);

/** Requires the admin bearer token on every request it guards. */
export const requireAdmin: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const token = c.env.ADMIN_TOKEN;
  if (!token) return jsonError(c, 503, 'admin_disabled', 'Writes are disabled: no ADMIN_TOKEN secret is configured');
  return bearerAuth({
    token,
    noAuthenticationHeader: { message: unauthorized },
    invalidAuthenticationHeader: { message: unauthorized },
    invalidToken: { message: unauthorized },
  })(c as Context, next);
};

/**
 * Requires the admin token, or the scoped token of the subscription named by
 * the route's `:id`: a subscriber manages its own subscription without the
 * admin token, and nothing else with it.
 */
export const requireAdminOrSubscriber: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const presented = /^Bearer (\S+)$/.exec(c.req.header('authorization') ?? '')?.[1];
  const id = c.req.param('id');
  if (presented?.startsWith(SCOPED_TOKEN_PREFIX) && id && (await coordinator(c.env).subscriptionTokenMatches(id, await scopedTokenDigest(presented)))) return next();
  return requireAdmin(c, next);
};

/**
 * Rejects request bodies that are not JSON before validation: 415 naming
 * `content-type` for another media type, 400 naming `body` for a body that
 * does not parse (empty included). The parsed text stays cached on the
 * request for the validator.
 */
export const requireJsonBody: MiddlewareHandler = async (c, next) => {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type)) {
    return jsonError(c, 415, 'unsupported_media_type', 'The body must be JSON (Content-Type: application/json)', [{ field: 'content-type', message: 'must be application/json' }]);
  }
  try {
    await c.req.json();
  } catch (error) {
    // Anything but a parse error (such as the body limit's) belongs to the middleware that raised it.
    if (!(error instanceof SyntaxError)) throw error;
    return jsonError(c, 400, 'invalid_body', `The body is not valid JSON: ${error.message}`, [{ field: 'body', message: 'is not valid JSON' }]);
  }
  await next();
};

/** Like `requireJsonBody`, but an empty body is let through (the route then uses its defaults). */
export const optionalJsonBody: MiddlewareHandler = async (c, next) => ((await c.req.text()).trim() === '' ? next() : requireJsonBody(c, next));
