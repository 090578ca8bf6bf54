/**
 * HTML pages on the API's URLs: `GET /events/:id` and `GET /events` for
 * clients that prefer HTML (JSON stays the default, for `*\/*` too), with
 * `Vary: Accept` and validators per representation; the record page's
 * content (date at its precision with its note, casualties "not reported",
 * actors by role, every source quote with its document, related records,
 * JSON and feed links; the place on a static map, its marker projected and
 * styled by precision); the list's filter form, paging and "follow this" box;
 * 400 and 404 as pages; the explorer's frame (`GET /`: the form filled from
 * its URL, same-origin assets); and basic accessibility of every page (language,
 * headings in order, labelled controls, contrast of the style sheet).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { projectToRegion, REGION_MAP_SIZE } from '../functions/domain/region-map.ts';
import { subscriptionInputSchema } from '../functions/domain/subscription.ts';
import { placeLabel } from '../functions/pages/words.ts';
import * as v from 'valibot';
import { call, getJson, makeEvent, seed } from './helpers.ts';

const ORIGIN = 'http://strikewire.test';
const BROWSER = { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

const QUOTES = [
  "Last Friday, the Iranian-backed militia Kata'ib Hizbollah or KH launched yet another attack against American forces in Iraq",
  'resulting in the death of one American civilian, and injuries to four American service members',
];

const MAIN = makeEvent('kh-attack-kills-contractor', '2019-12-27', {
  title: "Kata'ib Hezbollah rocket attack kills a US contractor <near Kirkuk>",
  date_note: '"Last Friday" in a statement describing Tuesday 31 December 2019 in the past tense.',
  casualties: [
    { group: 'us_civilian', killed: 1, injured: null },
    { group: 'partner_forces', killed: null, injured: 2 },
  ],
  actors: [
    { id: 'kataib-hezbollah', role: 'perpetrator', as_written: 'KH' },
    { id: 'us-forces', role: 'target', as_written: 'American forces' },
  ],
  sources: QUOTES.map((quote) => ({ document: '000_47b8be4f10ca94f1.txt', publisher: 'U.S. Secretary of Defense', quote, supports: ['casualties' as const] })),
  related: ['us-strikes-on-kh', 'not-published-yet'],
});
const RELATED = makeEvent('us-strikes-on-kh', '2019-12-29', { type: 'strike', title: 'US strikes on KH facilities', related: [MAIN.id] });
const NEARBY = makeEvent('rally-at-embassy', '2019-12-31', { type: 'incident', title: 'Militia rally at the US embassy' });
const MONTH = makeEvent('month-attack', '2019-12-01', { date_precision: 'month', title: 'Mortar fire some time in December' });
const COARSE = makeEvent('kuwait-deployment', '2019-01-10', { type: 'deployment', title: 'Deployment somewhere in Kuwait', location: { name: 'Kuwait', country: 'KW', lat: 29.31, lon: 47.48, precision: 'country' } });
const OUTSIDE = makeEvent('arabian-sea-deployment', '2019-02-10', { type: 'deployment', title: 'Deployment off Karachi', location: { name: 'off Karachi', country: 'PK', lat: 24.5, lon: 66.5, precision: 'approximate' } });
const FAR = makeEvent('far-attack', '2019-11-09', { title: 'Rocket attack far away in time', location: { name: 'Q-West', country: 'IQ', lat: 35.94, lon: 43.13, precision: 'site' } });

/** One element found in a page: its attributes and its text, entities decoded. */
interface Found {
  attributes: Record<string, string>;
  text: string;
}

const decode = (text: string): string => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/** The elements of `html` matching `selector`, in document order, read with workerd's HTMLRewriter. */
async function select(html: string, selector: string): Promise<Found[]> {
  const found: Found[] = [];
  await new HTMLRewriter()
    .on(selector, {
      element(element) {
        found.push({ attributes: Object.fromEntries([...element.attributes].map(([name, value]) => [name, decode(value ?? '')])), text: '' });
      },
      text(chunk) {
        found.at(-1)!.text += chunk.text;
      },
    })
    .transform(new Response(html))
    .text();
  return found.map((each) => ({ ...each, text: decode(each.text) }));
}

async function page(path: string, status = 200): Promise<{ html: string; response: Response }> {
  const response = await call(path, { headers: BROWSER });
  expect(response.status, path).toBe(status);
  expect(response.headers.get('content-type'), path).toMatch(/^text\/html; charset=UTF-8/i);
  expect(response.headers.get('vary'), path).toMatch(/\bAccept\b/);
  return { html: await response.text(), response };
}

/** WCAG relative luminance of `#rrggbb`. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((at) => {
    const channel = parseInt(hex.slice(at, at + 2), 16) / 255;
    return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}
const contrast = (a: string, b: string): number => {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light! + 0.05) / (dark! + 0.05);
};

/** The basic accessibility every page must meet: a language, one h1 and no skipped heading level, every control labelled, readable colours. */
async function expectAccessible(html: string, path: string): Promise<void> {
  expect((await select(html, 'html'))[0]!.attributes.lang, path).toBe('en');
  const levels: number[] = [];
  await new HTMLRewriter()
    .on('h1, h2, h3, h4, h5, h6', { element: (element) => void levels.push(Number(element.tagName.slice(1))) })
    .transform(new Response(html))
    .text();
  expect(levels[0], path).toBe(1);
  expect(levels.filter((level) => level === 1), path).toHaveLength(1);
  levels.forEach((level, index) => index && expect(level - levels[index - 1]!, `${path}: heading h${level} after h${levels[index - 1]}`).toBeLessThanOrEqual(1));
  const labelled = new Set((await select(html, 'label[for]')).map((label) => label.attributes.for));
  for (const control of await select(html, 'input, select, textarea')) {
    if (control.attributes.type === 'checkbox') continue; // each sits inside its own label, in a fieldset with a legend
    expect(labelled.has(control.attributes.id), `${path}: ${control.attributes.name} has a label`).toBe(true);
  }
  const style = (await select(html, 'style'))[0]!.text;
  const colour = (name: string) => new RegExp(`--${name}: (#[0-9a-f]{6})`).exec(style)![1]!;
  for (const text of ['text', 'muted', 'link']) {
    for (const background of ['#ffffff', colour('panel')]) expect(contrast(colour(text), background), `${path}: ${text} on ${background}`).toBeGreaterThanOrEqual(4.5);
  }
}

beforeAll(async () => {
  await seed([MAIN, RELATED, NEARBY, MONTH, FAR, COARSE, OUTSIDE], '2026-03-01T00:00:00.000Z');
});

describe('GET /events/:id as a page', () => {
  it('answers browsers and clients with no Accept (feed discovery tools) with HTML, every other client with the JSON record, varying on Accept', async () => {
    const { html } = await page(`/events/${MAIN.id}`);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    for (const path of [`/events/${MAIN.id}`, '/events?country=IQ', '/']) {
      const noAccept = await call(path, { headers: { Accept: null } });
      expect(noAccept.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(await noAccept.text(), path).toMatch(/<link rel="alternate" type="application\/rss\+xml"/);
    }
    for (const accept of ['*/*', 'application/json', 'application/json, text/html;q=0.5']) {
      const { status, body, response } = await getJson(`/events/${MAIN.id}`, { headers: { Accept: accept } });
      expect(status, accept).toBe(200);
      expect(response.headers.get('content-type'), accept).toMatch(/^application\/json/);
      expect(response.headers.get('vary'), accept).toMatch(/\bAccept\b/);
      expect(body.id).toBe(MAIN.id);
    }
  });

  it('shows the date at its precision with its note, the place, and casualties with "not reported"', async () => {
    const { html } = await page(`/events/${MAIN.id}`);
    expect((await select(html, 'h1'))[0]!.text).toBe(MAIN.title);
    expect((await select(html, 'title'))[0]!.text).toBe(`27 Dec 2019 — ${MAIN.title} · strikewire`);
    expect(decode(html)).toContain(MAIN.date_note);
    expect(html).toContain('known to the day');
    expect(html).toContain('Al-Asad Air Base, Iraq. Coordinates 33.7856, 42.4412: the site itself.');
    const cells = (await select(html, 'tbody td, tbody th')).map((cell) => cell.text);
    expect(cells).toEqual(['us civilian', '1', 'not reported', '', 'partner forces', 'not reported', '2', '']);
    const month = await page(`/events/${MONTH.id}`);
    expect(month.html).toContain('<strong>Dec 2019</strong> (known to the month only; between 2019-12-01 and 2019-12-31)');
    expect(month.html).toContain('The sources give no casualty figures: not reported.');
  });

  it('names the actors by role, linked to their dictionary entries', async () => {
    const { html } = await page(`/events/${MAIN.id}`);
    const roles = (await select(html, 'dt')).map((term) => term.text);
    expect(roles).toEqual(['Perpetrator', 'Target']);
    const links = (await select(html, 'dd a')).map((link) => [link.attributes.href, link.text]);
    expect(links).toEqual([
      ['/actors/kataib-hezbollah', "Kata'ib Hezbollah"],
      ['/actors/us-forces', 'US forces'],
    ]);
    expect(decode(html)).toContain('(the source: “KH”)');
  });

  it('quotes every source verbatim with a link to its document, which is served', async () => {
    const { html } = await page(`/events/${MAIN.id}`);
    expect((await select(html, 'blockquote.quote')).map((quote) => quote.text)).toEqual(QUOTES);
    const documents = (await select(html, 'ol.sources a')).map((link) => link.attributes.href!);
    expect(documents).toEqual(['/sources/000_47b8be4f10ca94f1.txt', '/sources/000_47b8be4f10ca94f1.txt']);
    const text = await (await call(documents[0]!)).text();
    for (const quote of QUOTES) expect(text).toContain(quote);
  });

  it('lists related records and those within a week, not the others', async () => {
    const { html } = await page(`/events/${MAIN.id}`);
    const links = (await select(html, 'li a')).map((link) => [link.attributes.href, link.text]);
    expect(links).toContainEqual([`/events/${RELATED.id}`, `29 Dec 2019 — ${RELATED.title}`]);
    expect(links).toContainEqual([`/events/${NEARBY.id}`, `31 Dec 2019 — ${NEARBY.title}`]);
    expect(links).toContainEqual([`/events/${MONTH.id}`, `Dec 2019 — ${MONTH.title}`]);
    expect(links.map(([href]) => href)).not.toContain(`/events/${FAR.id}`);
    expect(links.filter(([href]) => href === `/events/${RELATED.id}`)).toHaveLength(1);
    expect(html).toContain('not-published-yet (not available)');
  });

  it('links its JSON and the feeds that carry it, and announces feeds in its head', async () => {
    const { html } = await page(`/events/${MAIN.id}`);
    const hrefs = (await select(html, 'a')).map((link) => link.attributes.href);
    expect(hrefs).toContain(`/events/${MAIN.id}.json`);
    const json = await call(`/events/${MAIN.id}.json`, { headers: BROWSER });
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json.text()).toBe(await (await call(`/events/${MAIN.id}`)).text());
    expect(hrefs).toEqual(expect.arrayContaining([`${ORIGIN}/feed.atom?type=attack`, `${ORIGIN}/feed.rss?country=IQ`, `${ORIGIN}/feed.json?actor=kataib-hezbollah`, `${ORIGIN}/feed.atom`]));
    const alternates = (await select(html, 'head link[rel=alternate]')).map((link) => [link.attributes.type, link.attributes.href]);
    expect(alternates).toEqual([
      ['application/rss+xml', `${ORIGIN}/feed.rss`],
      ['application/atom+xml', `${ORIGIN}/feed.atom`],
      ['application/feed+json', `${ORIGIN}/feed.json`],
    ]);
  });

  it('has its own validators per representation', async () => {
    const json = await call(`/events/${MAIN.id}`);
    const html = await call(`/events/${MAIN.id}`, { headers: BROWSER });
    expect(json.headers.get('etag')).not.toBe(html.headers.get('etag'));
    expect((await call(`/events/${MAIN.id}`, { headers: { ...BROWSER, 'If-None-Match': html.headers.get('etag')! } })).status).toBe(304);
    expect((await call(`/events/${MAIN.id}`, { headers: { ...BROWSER, 'If-None-Match': json.headers.get('etag')! } })).status).toBe(200);
    const revalidated = await call(`/events/${MAIN.id}`, { headers: { 'If-None-Match': json.headers.get('etag')! } });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.get('vary')).toMatch(/\bAccept\b/);
  });

  it('answers an unknown id with a 404 page for browsers and the JSON 404 for others, and a malformed one with 400', async () => {
    const { html } = await page('/events/no-such-event', 404);
    expect(decode(html)).toContain('No event with id "no-such-event"');
    const { status, body } = await getJson('/events/no-such-event');
    expect(status).toBe(404);
    expect(body.error.fields).toEqual([{ field: 'id', message: 'no such event' }]);
    expect((await getJson('/events/no-such-event.json')).status).toBe(404);
    const invalid = await page('/events/Not_A_Slug', 400);
    expect(invalid.html).toContain('<code>id</code>');
  });
});

describe('place labels', () => {
  it('name the country unless the place name already does, as a whole word', () => {
    expect(placeLabel({ name: 'US Embassy, Baghdad', country: 'IQ' })).toBe('US Embassy, Baghdad, Iraq');
    expect(placeLabel({ name: 'Kuwait', country: 'KW' })).toBe('Kuwait');
    expect(placeLabel({ name: "Kata'ib Hezbollah sites in Syria (not named in the source)", country: 'SY' })).toBe("Kata'ib Hezbollah sites in Syria (not named in the source)");
    expect(placeLabel({ name: "Al-Qa'im, near the Syrian border", country: 'IQ' })).toBe("Al-Qa'im, near the Syrian border, Iraq");
    expect(placeLabel({ name: 'Syrian desert', country: 'SY' })).toBe('Syrian desert, Syria');
  });
});

describe('the record page map', () => {
  /** The page's map: its svg's attributes, its image's, its marker's and its caption. */
  async function placeMap(id: string) {
    const { html } = await page(`/events/${id}`);
    const [svg] = await select(html, 'figure.place-map > svg');
    const images = await select(html, 'figure.place-map svg image');
    const [marker] = await select(html, 'figure.place-map svg circle.place-marker');
    const [caption] = await select(html, 'figure.place-map figcaption');
    return { html, svg: svg!.attributes, images: images.map((image) => image.attributes), marker: marker!.attributes, caption: caption!.text.replace(/\s+/g, ' ') };
  }

  it('shows the static region basemap of this origin with the place marked at its projected position, filled for a site', async () => {
    const { html, svg, images, marker, caption } = await placeMap(MAIN.id);
    const { width, height } = REGION_MAP_SIZE;
    expect(svg).toMatchObject({ role: 'img', viewbox: `-8 -8 ${width + 16} ${height + 16}` });
    expect(svg['aria-label']).toBe('Map of the region marking Al-Asad Air Base, Iraq (the site itself)');
    expect(images).toEqual([{ href: '/explorer/region.svg', x: '0', y: '0', width: String(width), height: String(height) }]);
    expect(projectToRegion(MAIN.location.lon, MAIN.location.lat)).toEqual({ x: 128.1, y: 92.1 });
    expect([marker.cx, marker.cy]).toEqual(['128.1', '92.1']);
    expect(marker).toMatchObject({ fill: '#454545', 'fill-opacity': '0.85' });
    expect(marker['stroke-dasharray']).toBeUndefined();
    expect(caption).toBe('Al-Asad Air Base, Iraq. The marker is filled: the site or city itself. Country outlines: Natural Earth (public domain).');
    expect(await select(html, 'script')).toEqual([]);
  });

  it('draws a country centroid hollow and dashed, and says what it means', async () => {
    const { svg, marker, caption } = await placeMap(COARSE.id);
    const expected = projectToRegion(COARSE.location.lon, COARSE.location.lat);
    expect([Number(marker.cx), Number(marker.cy)]).toEqual([expected.x, expected.y]);
    expect(marker).toMatchObject({ fill: 'none', 'stroke-dasharray': '3 2' });
    expect(svg['aria-label']).toBe('Map of the region marking Kuwait (the centre of the country: the sources name no place)');
    expect(caption).toContain('The marker is hollow, dashed: only the region or country is known (a centroid, not a place).');
  });

  it('draws an approximate place pale, and a place outside the region at the nearest edge, saying so', async () => {
    const { svg, marker, caption } = await placeMap(OUTSIDE.id);
    expect([marker.cx, marker.cy]).toEqual([String(REGION_MAP_SIZE.width), String(projectToRegion(OUTSIDE.location.lon, OUTSIDE.location.lat).y)]);
    expect(marker).toMatchObject({ fill: '#454545', 'fill-opacity': '0.3' });
    expect(marker['stroke-dasharray']).toBeUndefined();
    expect(svg['aria-label']).toBe('Map of the region marking off Karachi, Pakistan (near the named place), shown at the map’s edge');
    expect(caption).toContain('The marker is pale: near the named place (approximate). It lies outside the region this map shows: the marker is at the nearest edge, in its direction.');
  });
});

describe('GET /events as a page', () => {
  it('lists the filtered records, newest first, with links to their pages', async () => {
    const { html } = await page('/events?type=attack&country=IQ');
    const items = (await select(html, 'ol.events li > a')).map((link) => [link.attributes.href, link.text]);
    expect(items).toEqual([
      [`/events/${MAIN.id}`, `27 Dec 2019 — ${MAIN.title}`],
      [`/events/${MONTH.id}`, `Dec 2019 — ${MONTH.title}`],
      [`/events/${FAR.id}`, `9 Nov 2019 — ${FAR.title}`],
    ]);
    expect((await select(html, 'title'))[0]!.text).toBe('Events: type=attack, country=IQ · strikewire');
  });

  it('has a GET form on the API parameters that shows the current filter', async () => {
    const { html } = await page('/events?type=attack,strike&since=2019-12-01&has_casualties=true&actor_role=target');
    const [form] = await select(html, 'form');
    expect(form!.attributes).toMatchObject({ method: 'get', action: '/events' });
    const checked = (await select(html, 'input[type=checkbox][checked]')).map((box) => `${box.attributes.name}=${box.attributes.value}`);
    expect(checked).toEqual(['type=attack', 'type=strike', 'actor_role=target']);
    expect((await select(html, 'input[name=since]'))[0]!.attributes.value).toBe('2019-12-01');
    expect((await select(html, 'select[name=has_casualties] option[selected]'))[0]!.attributes.value).toBe('true');
    const names = new Set((await select(html, 'form [name]')).map((control) => control.attributes.name));
    expect([...names].sort()).toEqual(['actor', 'actor_role', 'bbox', 'country', 'date_match', 'has_casualties', 'limit', 'precision', 'q', 'since', 'type', 'until', 'weapon']);
  });

  it('redirects a form submission with empty controls to the same query without them; the API still refuses empty values', async () => {
    const submitted = '/events?q=&since=2019-12-01&until=&date_match=&type=attack&type=strike&country=&actor=&has_casualties=&bbox=&limit=';
    const response = await call(submitted, { headers: BROWSER, redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/events?since=2019-12-01&type=attack&type=strike');
    const followed = await page(response.headers.get('location')!);
    expect((await select(followed.html, 'ol.events li > a')).map((link) => link.attributes.href)).toEqual([`/events/${RELATED.id}`, `/events/${MAIN.id}`, `/events/${MONTH.id}`]);
    expect((await getJson(submitted)).status).toBe(400);
  });

  it('pages with cursor links', async () => {
    const first = await page('/events?country=IQ&limit=2');
    const [older] = await select(first.html, 'a[rel=next]');
    const next = new URL(older!.attributes.href!, ORIGIN);
    expect(next.searchParams.get('limit')).toBe('2');
    expect(next.searchParams.get('country')).toBe('IQ');
    const json = await getJson('/events?country=IQ&limit=2');
    expect(next.searchParams.get('cursor')).toBe(json.body.next_cursor);
    const second = await page(`${next.pathname}${next.search}`);
    expect((await select(second.html, 'ol.events li > a')).map((link) => link.attributes.href)).toEqual([`/events/${MAIN.id}`, `/events/${MONTH.id}`]);
    expect((await select(second.html, 'nav.pages a')).map((link) => link.attributes.href)).toContain('/events?country=IQ&limit=2');
  });

  it('offers the feeds, downloads and a webhook subscription for exactly the filter shown', async () => {
    const query = 'type=attack&country=IQ,SY&q=rocket&limit=2';
    const { html } = await page(`/events?${query}`);
    const filter = 'type=attack&country=IQ%2CSY&q=rocket';
    const alternates = (await select(html, 'head link[rel=alternate]')).map((link) => link.attributes.href);
    expect(alternates).toEqual(['rss', 'atom', 'json'].map((format) => `${ORIGIN}/feed.${format}?${filter}`));
    const links = (await select(html, 'section.panel a')).map((link) => link.attributes.href);
    expect(links).toEqual([...alternates, `${ORIGIN}/events.geojson?type=attack&country=IQ%2CSY&q=rocket&limit=2`, `${ORIGIN}/events.csv?type=attack&country=IQ%2CSY&q=rocket&limit=2`]);
    for (const link of links) expect((await call(new URL(link!).pathname + new URL(link!).search)).status, link).toBe(200);
    const command = (await select(html, 'section.panel pre code'))[0]!.text;
    expect(command).toContain(`curl -X POST '${ORIGIN}/subscriptions'`);
    const body = JSON.parse(/-d '(.*)'$/.exec(command)![1]!);
    expect(body).toEqual({ url: 'https://example.com/strikewire-webhook', filters: { type: 'attack', country: 'IQ,SY', q: 'rocket' } });
    expect(v.safeParse(subscriptionInputSchema(), body).success).toBe(true);
  });

  it('answers invalid parameters with the JSON 400 for API clients and a 400 page with the same message for browsers', async () => {
    const path = '/events?since=2024-02-01&until=2024-01-01&colour=red';
    const { status, body } = await getJson(path);
    expect(status).toBe(400);
    const { html } = await page(path, 400);
    expect(decode((await select(html, 'p[role=alert]'))[0]!.text)).toBe(body.error.message);
    expect((await select(html, 'form'))).toHaveLength(1);
  });
});

describe('GET / as the explorer', () => {
  it('fills the filter form from its URL; the form opens the list, so it works without JavaScript', async () => {
    const { html } = await page('/?type=attack,strike&country=IQ&q=rocket&limit=5');
    const form = (await select(html, 'form.filters'))[0]!;
    expect(form.attributes).toMatchObject({ method: 'get', action: '/events' });
    expect((await select(html, 'input[type=checkbox][checked]')).map((box) => `${box.attributes.name}=${box.attributes.value}`)).toEqual(['type=attack', 'type=strike']);
    expect((await select(html, 'input#filter-country'))[0]!.attributes.value).toBe('IQ');
    expect((await select(html, 'input#filter-q'))[0]!.attributes.value).toBe('rocket');
    expect(await select(html, 'input[name=limit]')).toEqual([]);
    expect((await select(html, 'noscript')).length).toBe(1);
  });

  it('loads its script and style sheets from this origin only, and holds the sections its script fills', async () => {
    const { html } = await page('/');
    const scripts = await select(html, 'script');
    expect(scripts.map((script) => script.attributes)).toEqual([{ type: 'module', src: '/explorer/explorer.js' }]);
    for (const sheet of await select(html, 'link[rel=stylesheet]')) expect(sheet.attributes.href).toMatch(/^\/(vendor|explorer)\//);
    for (const id of ['map', 'timeline', 'counts-type', 'counts-role', 'counts-group', 'records']) expect(await select(html, `#${id}`), id).toHaveLength(1);
  });
});

describe('every page', () => {
  it.each([
    '/',
    '/?type=attack&country=IQ',
    `/events/${MAIN.id}`,
    `/events/${MONTH.id}`,
    `/events/${OUTSIDE.id}`,
    '/events',
    '/events?type=attack&limit=1',
    '/events/no-such-event',
    '/events?limit=0',
    '/sources',
    '/sources/000_47b8be4f10ca94f1.txt',
  ])('%s has a language, headings in order, labelled controls and readable colours', async (path) => {
    const response = await call(path, { headers: BROWSER });
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    await expectAccessible(await response.text(), path);
  });
});
