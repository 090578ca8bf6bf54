/**
 * The feeds as real clients read them, over HTTP from the Worker running in
 * local workerd (wrangler's test harness, bundled seeding off) with hostile
 * records written through `POST /events` and published (the one holding
 * control characters is refused with a 400 naming its fields; stored control
 * characters are covered in workerd by feed-text.test.ts): feedparser parses RSS and
 * Atom with no bozo error and revalidates them to a 304, xmllint finds the
 * XML well-formed, and Python's json module reads the JSON Feed. Titles must
 * round-trip in all three, starting with the event's date, Atom text must be
 * read as plain text, and every link a reader opens (items, channel, JSON
 * Feed home page) must answer a browser with an HTML page.
 *
 * Needs Debian's python3-feedparser for /usr/bin/python3 (and, optionally,
 * libxml2-utils): without it the suite is skipped, or fails when CI is set.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHarness } from 'wrangler';
import { eventTagUri, itemTitle, xmlSafe } from '../../functions/domain/feed.ts';
import { hostileEvents, isWritable } from '../fixtures/hostile-events.ts';

const PYTHON = '/usr/bin/python3';
const CHECK_SCRIPT = fileURLToPath(new URL('./feedparser_check.py', import.meta.url));
const ERBIL_POINT = [43.9632, 36.2376];

/** Why the check cannot run here, or null when it can. */
function missingFeedparser(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import feedparser'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `python3-feedparser is not installed for ${PYTHON} (apt-get install -y python3-feedparser): ${probe.error?.message ?? probe.stderr.trim()}`;
}

const missing = missingFeedparser();
if (missing && !process.env.CI) console.warn(`Skipping the feed reader check: ${missing}`);

interface ReaderView {
  bozo?: number;
  bozo_exception?: string;
  status?: number;
  status_with_etag?: number;
  status_with_modified?: number;
  content_type: string;
  version: string;
  link: string;
  language?: string;
  self?: string[];
  feed_url?: string;
  entries: { id: string; title: string; title_type?: string; summary_type?: string; link: string; point: number[] | null }[];
}

describe.skipIf(missing !== null && !process.env.CI)('feeds read by real clients', () => {
  const token = 'feed-readers-admin-token';
  const admin = { authorization: `Bearer ${token}` };
  const server = createTestHarness({ workers: [{ configPath: fileURLToPath(new URL('../../wrangler.toml', import.meta.url)), vars: { SEED_FROM_BUNDLE: 'false', ADMIN_TOKEN: token } }] });
  let base = '';
  let views: Record<'rss' | 'atom' | 'json', ReaderView>;
  const writable = hostileEvents().filter(isWritable);
  const expectedTitles = Object.fromEntries(writable.map((event) => [eventTagUri(event.id), xmlSafe(itemTitle(event))]));

  beforeAll(async () => {
    if (missing) throw new Error(missing);
    base = (await server.listen()).url.origin;
    const post = (records: object[]) => fetch(`${base}/events`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(records) });
    const refused = await post(hostileEvents().filter((record) => !isWritable(record)));
    if (refused.status !== 400) throw new Error(`POST /events of control characters answered ${refused.status}: ${await refused.text()}`);
    const posted = await post(writable);
    if (posted.status !== 201) throw new Error(`POST /events answered ${posted.status}: ${await posted.text()}`);
    // Reads see the write once the Coordinator has published it to KV.
    for (const deadline = Date.now() + 20_000; ; ) {
      const status = (await (await fetch(`${base}/admin/status`, { headers: admin })).json()) as { publish: { up_to_date: boolean } };
      if (status.publish.up_to_date) break;
      if (Date.now() > deadline) throw new Error(`not published: ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const check = spawnSync(PYTHON, [CHECK_SCRIPT, base, '?since=2030-01-01'], { encoding: 'utf8', timeout: 60_000 });
    if (check.status !== 0) throw new Error(`feedparser check failed: ${check.stderr}`);
    views = JSON.parse(check.stdout);
  });

  afterAll(() => server.close());

  it.each(['rss', 'atom'] as const)('feedparser parses %s with no bozo error, as the right version, with its self link', (format) => {
    const view = views[format];
    expect(view.bozo, view.bozo_exception).toBe(0);
    expect(view.status).toBe(200);
    expect(view.version).toBe(format === 'rss' ? 'rss20' : 'atom10');
    expect(view.self).toEqual([`${base}/feed.${format}?since=2030-01-01`]);
  });

  it.each(['rss', 'atom', 'json'] as const)('%s titles, ids, links and places round-trip', (format) => {
    const { entries } = views[format];
    expect(Object.fromEntries(entries.map((entry) => [entry.id, entry.title]))).toEqual(expectedTitles);
    for (const entry of entries) {
      expect(entry.link).toBe(`${base}/events/${entry.id.split(':').at(-1)}`);
      expect(entry.point).toEqual(ERBIL_POINT);
    }
  });

  it.each(['rss', 'atom', 'json'] as const)('%s titles start with the event date, as text', (format) => {
    const { entries } = views[format];
    expect(entries).toHaveLength(writable.length);
    for (const entry of entries) expect(entry.title).toMatch(/^\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} — /);
    if (format === 'atom') for (const entry of entries) expect([entry.title_type, entry.summary_type]).toEqual(['text/plain', 'text/plain']);
    if (format !== 'json') expect(views[format].language).toBe('en');
  });

  it.each(['rss', 'atom', 'json'] as const)('%s links open HTML pages in a browser and JSON for API clients', async (format) => {
    const view = views[format];
    expect(view.link).toBe(`${base}/events?since=2030-01-01`);
    for (const link of [view.link, ...view.entries.map((entry) => entry.link)]) {
      const page = await fetch(link, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
      expect(page.status, link).toBe(200);
      expect(page.headers.get('content-type'), link).toMatch(/^text\/html/);
      expect(await page.text(), link).toMatch(/<link rel="alternate" type="application\/atom\+xml"/);
      const api = await fetch(link);
      expect(api.headers.get('content-type'), link).toMatch(/^application\/json/);
    }
  });

  it('reads the JSON Feed as JSON Feed 1.1 with its media type', () => {
    expect(views.json).toMatchObject({ content_type: 'application/feed+json; charset=utf-8', version: 'https://jsonfeed.org/version/1.1', feed_url: `${base}/feed.json?since=2030-01-01` });
  });

  it.each(['rss', 'atom'] as const)('feedparser revalidates %s to 304 with the ETag or Last-Modified it was sent', (format) => {
    expect(views[format].status_with_etag).toBe(304);
    expect(views[format].status_with_modified).toBe(304);
  });

  it.each(['rss', 'atom'] as const)('xmllint finds %s well-formed', async (format) => {
    const lint = spawnSync('xmllint', ['--version'], { encoding: 'utf8' });
    if (lint.error) return void console.warn('xmllint not installed (libxml2-utils); skipping its check');
    const body = await (await fetch(`${base}/feed.${format}`)).text();
    const result = spawnSync('xmllint', ['--noout', '-'], { input: body, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
