/**
 * Feeds stay well-formed for any stored text: control characters, CDATA
 * terminators, markup, entity look-alikes, Arabic, Chinese and emoji in
 * titles, summaries, places and actor names, in all three formats. (The
 * Node project in tests/clients/ checks the same feeds with feedparser.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { xml2js } from 'xml-js';
import { eventTagUri, itemTitle, xmlSafe } from '../functions/domain/feed.ts';
import { HOSTILE_TITLES, hostileEvents } from './fixtures/hostile-events.ts';
import { call, seed } from './helpers.ts';

/** Characters XML 1.0 does not allow, plus the discouraged C1 controls. */
const XML_UNSAFE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]/;

const decodeHtml = (html: string): string =>
  html.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/** Each record's title, made safe, by feed id. */
const safeTitles = Object.fromEntries(Object.entries(HOSTILE_TITLES).map(([id, title]) => [eventTagUri(id), xmlSafe(title)]));
/** Each item's title, by feed id: the date, then the title made safe. */
const expectedTitles = Object.fromEntries(hostileEvents().map((event) => [eventTagUri(event.id), xmlSafe(itemTitle(event))]));

async function body(path: string): Promise<string> {
  const response = await call(path);
  expect(response.status, path).toBe(200);
  const text = await response.text();
  expect(text, path).not.toMatch(XML_UNSAFE);
  return text;
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

beforeAll(async () => {
  await seed(hostileEvents(), '2030-01-20T00:00:00.000Z');
});

describe('hostile text', () => {
  it('round-trips RSS item titles as text, with summaries as escaped HTML', async () => {
    const channel = (xml2js(await body('/feed.rss'), { compact: true }) as any).rss.channel;
    const items = asList(channel.item) as any[];
    expect(Object.fromEntries(items.map((item) => [item.guid._text, item.title._text]))).toEqual(expectedTitles);
    for (const item of items) {
      expect(decodeHtml(item.description._cdata)).toContain(`${safeTitles[item.guid._text]}. Summary with ]]> and </entry></item> and .`);
      expect(item.description._cdata).not.toMatch(/<script/);
    }
  });

  it('round-trips Atom titles and summaries as text', async () => {
    const feed = (xml2js(await body('/feed.atom'), { compact: true }) as any).feed;
    const entries = asList(feed.entry) as any[];
    expect(Object.fromEntries(entries.map((entry) => [entry.id._text, entry.title._text]))).toEqual(expectedTitles);
    expect(entries.every((entry) => entry.title._attributes.type === 'text' && entry.summary._attributes.type === 'text')).toBe(true);
    expect(Object.fromEntries(entries.map((entry) => [entry.id._text, entry.summary._text.split('. Summary')[0]]))).toEqual(safeTitles);
    expect(entries.every((entry) => !/<script/.test(entry.content._cdata))).toBe(true);
    expect(entries.every((entry) => entry['georss:point']._text === '36.2376 43.9632')).toBe(true);
  });

  it('round-trips JSON Feed titles as plain text', async () => {
    const feed = JSON.parse(await body('/feed.json'));
    expect(Object.fromEntries(feed.items.map((item: { id: string; title: string }) => [item.id, item.title]))).toEqual(expectedTitles);
  });

  it('keeps filter text in feed titles safe', async () => {
    const text = await body(`/feed.rss?q=${encodeURIComponent('attack ]]> <x> &amp; \u0001')}`);
    expect((xml2js(text, { compact: true }) as any).rss.channel.title._text).toBe('strikewire events: q=attack ]]> <x> &amp; ');
  });
});

describe('xmlSafe', () => {
  it('drops XML-illegal and C1 control characters and lone surrogates, and keeps tab, newlines and astral characters', () => {
    expect(xmlSafe('a\u0000b\u0008c\u000Bd\u001Fe\u007Ff\u0085g\uFFFEh\uD800i\uDC00j')).toBe('abcdefghij');
    expect(xmlSafe('tab\tLF\nCR\r 🚀 هجوم 无人机')).toBe('tab\tLF\nCR\r 🚀 هجوم 无人机');
  });
});
