/**
 * The source documents every record quotes: `GET /sources` (what is known of
 * each: JSON, or a page for browsers) and `GET /sources/:name` (the text as
 * stored in data/sources/: plain text, or a page for browsers). They are
 * bundled with the Worker, so their validators come from the body.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono } from 'hono';
import { etag } from 'hono/etag';
import * as v from 'valibot';
import { SOURCE_DOCUMENTS, sourceDocument } from '../domain/sources.ts';
import { SourcePage, SourcesPage } from '../pages/sources-page.tsx';
import type { ReadEnv } from './read-env.ts';
import { JSON_OR_PAGE, TEXT_OR_PAGE, htmlPage, isHtml, negotiate, negotiatedError, negotiatedValidationHook, originOf } from './negotiation.ts';

/** The documents change only with a deploy. */
const DOCUMENT_CACHE_CONTROL = 'public, max-age=3600';

/** Routes under `/sources`. */
export const sourcesRoutes = new Hono<ReadEnv>()
  .get('/', negotiate(JSON_OR_PAGE), vValidator('query', v.strictObject({}), negotiatedValidationHook()), etag(), (c) => {
    c.header('Cache-Control', DOCUMENT_CACHE_CONTROL);
    return isHtml(c) ? htmlPage(c, SourcesPage({ origin: originOf(c), documents: SOURCE_DOCUMENTS })) : c.json({ data: SOURCE_DOCUMENTS });
  })
  .get('/:name', negotiate(TEXT_OR_PAGE), vValidator('query', v.strictObject({}), negotiatedValidationHook()), etag(), (c) => {
    const name = c.req.param('name') ?? '';
    const document = sourceDocument(name);
    if (!document) return negotiatedError(c, 404, 'not_found', `No source document "${name}"`, [{ field: 'name', message: 'no such document; GET /sources lists them' }]);
    c.header('Cache-Control', DOCUMENT_CACHE_CONTROL);
    return isHtml(c) ? htmlPage(c, SourcePage({ origin: originOf(c), document })) : c.text(document.text);
  });
