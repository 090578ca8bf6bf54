/**
 * Feed discovery on `/`: `Link` headers for every client, the explorer page
 * with `<link rel="alternate">` to the feeds of its filter for browsers, the
 * JSON description for the rest.
 */
import { describe, expect, it } from 'vitest';
import { call, getJson } from './helpers.ts';

const FEEDS = [
  ['/feed.rss', 'application/rss+xml'],
  ['/feed.atom', 'application/atom+xml'],
  ['/feed.json', 'application/feed+json'],
] as const;

describe('GET /', () => {
  it('announces the three feeds in Link headers', async () => {
    const link = (await call('/')).headers.get('link')!;
    for (const [path, type] of FEEDS) expect(link).toMatch(new RegExp(`<${path.replace('.', '\\.')}>; rel="alternate"; type="${type.replace('+', '\\+')}"; title="[^"]+"`));
  });

  it('serves browsers an HTML page whose head links the feeds', async () => {
    const response = await call('/', { headers: { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('vary')).toMatch(/Accept/);
    const html = await response.text();
    const head = html.slice(0, html.indexOf('</head>'));
    for (const [path, type] of FEEDS) expect(head).toMatch(new RegExp(`<link rel="alternate" type="${type.replace('+', '\\+')}" title="[^"]+" href="https?://[^/"]+${path.replace('.', '\\.')}"/>`));
    expect(html).toContain('GET /stats');
  });

  it('announces the feeds of the filter in the explorer\'s URL', async () => {
    const html = await (await call('/?type=attack&country=SY', { headers: { Accept: 'text/html' } })).text();
    const head = html.slice(0, html.indexOf('</head>'));
    for (const [path] of FEEDS) expect(head).toContain(`${path}?type=attack&amp;country=SY"`);
  });

  it('describes every endpoint as JSON to other clients', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const { status, body, response } = await getJson('/', { headers: accept ? { Accept: accept } : {} });
      expect(status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(Object.keys(body.endpoints)).toEqual(
        expect.arrayContaining(['GET /events', 'GET /feed.rss', 'GET /feed.atom', 'GET /feed.json', 'GET /events.geojson', 'GET /events.csv', 'GET /stats', 'GET /tallies', 'GET /healthz']),
      );
      expect(body.endpoints['GET /feed.rss'].parameters).not.toHaveProperty('cursor');
      expect(body.endpoints['GET /stats'].parameters).not.toHaveProperty('limit');
    }
  });

  it('answers If-None-Match with 304 per representation', async () => {
    const json = await call('/');
    const html = await call('/', { headers: { Accept: 'text/html' } });
    expect(json.headers.get('etag')).not.toBe(html.headers.get('etag'));
    expect((await call('/', { headers: { 'If-None-Match': json.headers.get('etag')! } })).status).toBe(304);
    expect((await call('/', { headers: { Accept: 'text/html', 'If-None-Match': html.headers.get('etag')! } })).status).toBe(304);
  });
});
