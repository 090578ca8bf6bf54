/**
 * The source documents are served: `GET /sources` lists what is known of
 * each (JSON, or a page for browsers) and `GET /sources/:name` gives each
 * file of data/sources/ exactly as stored (plain text, or a page), so every
 * quote of every record can be checked against its document.
 */
import { describe, expect, it } from 'vitest';
import sources from '../data/sources.json';
import { call, expectInvalidParameter, getJson } from './helpers.ts';

const files = import.meta.glob<string>('../data/sources/*.txt', { query: '?raw', import: 'default', eager: true });
const BROWSER = { Accept: 'text/html' };

describe('GET /sources', () => {
  it('lists every described document as JSON, and as a page linking each for browsers', async () => {
    const { status, body, response } = await getJson('/sources');
    expect(status).toBe(200);
    expect(response.headers.get('vary')).toMatch(/\bAccept\b/);
    expect(body).toEqual({ data: sources });
    const page = await call('/sources', { headers: BROWSER });
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    for (const { document } of sources) expect(html).toContain(`<a href="/sources/${document}">${document}</a>`);
  });

  it.each([['/sources?colour=red', 'colour']])('answers 400 for %s, naming %s', expectInvalidParameter);
});

describe('GET /sources/:name', () => {
  it('serves every file of data/sources/ as stored, as UTF-8 plain text to clients that do not ask for HTML', async () => {
    expect(Object.keys(files).map((path) => path.split('/').at(-1)).sort()).toEqual(sources.map((source) => source.document).sort());
    for (const [path, text] of Object.entries(files)) {
      for (const accept of [undefined, '*/*', 'text/plain']) {
        const response = await call(`/sources/${path.split('/').at(-1)}`, { headers: accept ? { Accept: accept } : {} });
        expect(response.status, path).toBe(200);
        expect(response.headers.get('content-type'), path).toBe('text/plain; charset=UTF-8');
        expect(response.headers.get('vary'), path).toMatch(/\bAccept\b/);
        expect(await response.text(), path).toBe(text);
      }
    }
  });

  it('shows browsers the document with what is known of it, its text escaped', async () => {
    const response = await call('/sources/002_7b12dcae1b66bd78.txt', { headers: BROWSER });
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<h1>South China Morning Post (AFP copy)</h1>');
    expect(html).toContain('US retaliates in Iraq with strikes on 3 sites used by Iran-backed militias');
    expect(html).toContain('WorldUnited States &amp; Canada');
    const plain = await call('/sources/002_7b12dcae1b66bd78.txt');
    expect(plain.headers.get('etag')).not.toBe(response.headers.get('etag'));
    expect((await call('/sources/002_7b12dcae1b66bd78.txt', { headers: { 'If-None-Match': plain.headers.get('etag')! } })).status).toBe(304);
  });

  it('answers an unknown document with 404, as JSON or as a page', async () => {
    const { status, body } = await getJson('/sources/999_none.txt');
    expect(status).toBe(404);
    expect(body.error.fields).toEqual([{ field: 'name', message: 'no such document; GET /sources lists them' }]);
    const page = await call('/sources/..%2Fsources.json', { headers: BROWSER });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });
});
