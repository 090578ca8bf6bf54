/**
 * The representation a request gets: a route declares the media types it
 * answers with, its default first. HTML pages live on the same URLs as the
 * API: such a route negotiates between HTML (clients that prefer
 * `text/html`: browsers, feed readers opening a link) and its default (JSON,
 * or plain text for documents), which `Accept: * / *` gets. A request with no
 * `Accept` at all (feed discovery tools such as Perl's Feed::Find or Python's
 * urllib, which look for `<link rel="alternate">` in the page) gets the page:
 * every common HTTP library and API client sends an `Accept`. Every negotiated response says `Vary: Accept`, its validators and
 * cached body are its media type's own (routes/conditional.ts), and its 400
 * and 404 are pages with the JSON error's message when HTML was asked for.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { accepts } from 'hono/accepts';
import { html } from 'hono/html';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type * as v from 'valibot';
import { ErrorPage } from '../pages/error-page.tsx';
import type { ReadEnv } from './read-env.ts';
import { invalidInputError, jsonError } from './errors.ts';

/** The media types a route answers with, the default first; with more than one, the Accept header chooses and responses vary by it. */
export type MediaTypes = readonly [string, ...string[]];

/** JSON, or a page for clients that prefer HTML. */
export const JSON_OR_PAGE: MediaTypes = ['application/json', 'text/html'];
/** Plain text, or a page for clients that prefer HTML. */
export const TEXT_OR_PAGE: MediaTypes = ['text/plain', 'text/html'];

/**
 * Middleware placed first on a route, so that its errors are already in the
 * chosen representation: chooses the media type from `mediaTypes` (by
 * `Accept` when there is more than one), keeps it for the validators, the
 * body cache and the handler, and adds `Vary: Accept` to whatever a
 * negotiated route answers.
 */
export function negotiate(mediaTypes: MediaTypes): MiddlewareHandler<ReadEnv> {
  const negotiated = mediaTypes.length > 1;
  return async (c, next) => {
    c.set('mediaType', negotiated ? chooseMediaType(c, mediaTypes) : mediaTypes[0]);
    await next();
    if (negotiated) c.res.headers.append('Vary', 'Accept');
  };
}

/** The media type `Accept` chooses among `supported` (the default first); a request without `Accept` gets the page when there is one. */
export function chooseMediaType(c: Context, supported: MediaTypes): string {
  if ((c.req.header('Accept') ?? '').trim() === '' && supported.includes('text/html')) return 'text/html';
  return accepts(c, { header: 'Accept', supports: [...supported], default: supported[0] });
}

/** The media type chosen by `negotiate`; JSON on routes that declare none. */
export const mediaTypeOf = (c: Context<ReadEnv>): string => c.get('mediaType') ?? 'application/json';

/** True when the request negotiated HTML. */
export const isHtml = (c: Context<ReadEnv>): boolean => mediaTypeOf(c) === 'text/html';

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
