/**
 * HTML pages on the same URLs as the API: a route negotiates between HTML
 * (clients that prefer `text/html`: browsers, feed readers opening a link)
 * and its default (JSON, or plain text for documents), which `Accept: * / *`
 * and a missing `Accept` get. Every negotiated response says `Vary: Accept`,
 * its validators name the representation, and its 400 and 404 are pages with
 * the JSON error's message when HTML was asked for.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { accepts } from 'hono/accepts';
import { html } from 'hono/html';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type * as v from 'valibot';
import { ErrorPage } from '../pages/error-page.tsx';
import type { ReadEnv, VersionOf } from './conditional.ts';
import { invalidInputError, jsonError } from './errors.ts';

/** The media types a route may serve besides HTML, and its default. */
type DefaultType = 'application/json' | 'text/plain';

/**
 * Middleware choosing the representation (`html`, or the route's default)
 * from `Accept`, kept for the handler and the validators, and adding
 * `Vary: Accept` to whatever the route answers.
 */
export function negotiate(defaultType: DefaultType = 'application/json'): MiddlewareHandler<ReadEnv> {
  return async (c, next) => {
    const chosen = accepts(c, { header: 'Accept', supports: [defaultType, 'text/html'], default: defaultType });
    c.set('representation', chosen === 'text/html' ? 'html' : defaultType);
    await next();
    c.res.headers.append('Vary', 'Accept');
  };
}

/** True when the request negotiated HTML. */
export const isHtml = (c: Context<ReadEnv>): boolean => c.get('representation') === 'html';

/** The validators' version: `page`'s when HTML was negotiated, else `other`'s. */
export const byRepresentation =
  (other: VersionOf, page: VersionOf): VersionOf =>
  (c) =>
    isHtml(c) ? page(c) : other(c);

/** Answers with a whole HTML page. */
export const htmlPage = (c: Context, page: Child, status: ContentfulStatusCode = 200): Response | Promise<Response> => c.html(html`<!doctype html>${page}`, status);

/** The origin requests were made to, for absolute links. */
export const originOf = (c: Context): string => new URL(c.req.url).origin;

/** Answers an error as a page when HTML was asked for, else as the JSON error. */
export function negotiatedError(c: Context<ReadEnv>, status: 400 | 404, code: string, message: string, fields: Array<{ field: string; message: string }>, help?: Child): Response | Promise<Response> {
  if (!isHtml(c)) return jsonError(c, status, code, message, fields);
  return htmlPage(c, ErrorPage({ origin: originOf(c), heading: status === 404 ? 'Not found' : 'Invalid request', message, fields, children: help }), status);
}

/**
 * Hook for `vValidator` on negotiated routes: a 400 naming the fields, as
 * JSON or as a page (made by `page` when given, e.g. with the filter form).
 */
export const negotiatedValidationHook =
  (page?: (c: Context<ReadEnv>, message: string, fields: Array<{ field: string; message: string }>) => Child) =>
  (result: { success: boolean; issues?: readonly v.BaseIssue<unknown>[] }, c: Context<ReadEnv>): Response | Promise<Response> | undefined => {
    if (result.success) return undefined;
    const { code, message, fields } = invalidInputError(result.issues ?? []);
    if (isHtml(c) && page) return htmlPage(c, page(c, message, fields), 400);
    return negotiatedError(c, 400, code, message, fields);
  };

/**
 * For pages only: a query with empty parameters (what a GET form submits for
 * controls left empty) is redirected to the same query without them, so the
 * page's URL is one the JSON API accepts as it is. API clients still get the
 * 400 for an empty value.
 */
export const dropEmptyParameters: MiddlewareHandler<ReadEnv> = async (c, next) => {
  const url = new URL(c.req.url);
  if (!isHtml(c) || ![...url.searchParams.values()].includes('')) return next();
  const kept = new URLSearchParams([...url.searchParams].filter(([, value]) => value !== ''));
  return c.redirect(`${url.pathname}${kept.size ? `?${kept}` : ''}`, 302);
};
