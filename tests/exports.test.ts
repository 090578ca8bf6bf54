/**
 * `/events.geojson` and `/events.csv`: structure, [lon, lat] order, CSV
 * quoting and the formula guard, filters, and paging by `Link: rel="next"`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CSV_COLUMNS, csvCell } from '../functions/domain/csv.ts';
import { call, expectInvalidParameter, getJson, makeEvent, seed } from './helpers.ts';

const ORIGIN = 'http://strikewire.test';
const WESTERN = { name: 'Somewhere west', country: 'US', lat: 38.8977, lon: -77.0365, precision: 'city' } as const;

const tricky = makeEvent('tricky-text', '2024-03-01', {
  title: 'Rockets, "drones" and\nmore',
  summary: '=HYPERLINK("http://evil.example","click")',
  location: WESTERN,
  actors: [
    { id: 'plus-brigade', role: 'perpetrator', as_written: '+Plus Brigade' },
    { id: 'minus-group', role: 'perpetrator', as_written: '-Minus Group' },
    { id: 'handle', role: 'target', as_written: '@handle' },
  ],
  casualties: [{ group: 'civilians', killed: 2, injured: null }],
});

/** A minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') (field += '"'), index++;
      else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') row.push(field), (field = '');
    else if (char === '\r' && text[index + 1] === '\n') rows.push([...row, field]), (row = []), (field = ''), index++;
    else field += char;
  }
  return rows;
}

/** The path of the `Link: <…>; rel="next"` URL, which must be on this origin; null without one. */
function nextPath(response: Response): string | null {
  const next = response.headers.get('link')?.match(/^<([^>]+)>; rel="next"$/)?.[1];
  if (!next) return null;
  expect(next.startsWith(`${ORIGIN}/`)).toBe(true);
  return next.slice(ORIGIN.length);
}

beforeAll(async () => {
  const days = Array.from({ length: 5 }, (_, index) => makeEvent(`plain-${index}`, `2024-01-0${index + 1}`));
  await seed([...days, tricky], '2026-02-01T00:00:00.000Z');
});

describe('GET /events.geojson', () => {
  it('is a FeatureCollection of points in [lon, lat] order with flat properties', async () => {
    const { status, body, response } = await getJson('/events.geojson?country=US');
    expect(status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/geo+json');
    expect(body.type).toBe('FeatureCollection');
    expect(body.features).toHaveLength(1);
    expect(body.features[0]).toMatchObject({
      type: 'Feature',
      id: 'tricky-text',
      geometry: { type: 'Point', coordinates: [-77.0365, 38.8977] },
      properties: { title: tricky.title, country: 'US', place: 'Somewhere west', killed: 2, injured: null, has_casualties: true, perpetrator: ['+Plus Brigade', '-Minus Group'], url: `${ORIGIN}/events/tricky-text` },
    });
    expect(body.features[0].properties).not.toHaveProperty('lat');
  });

  it('pages with limit and a Link rel="next" header, and takes the cursor back', async () => {
    const seen: string[] = [];
    let path: string | null = '/events.geojson?limit=4&country=IQ';
    while (path) {
      const page: { status: number; body: any; response: Response } = await getJson(path);
      expect(page.status).toBe(200);
      seen.push(...page.body.features.map((feature: { id: string }) => feature.id));
      path = nextPath(page.response);
      if (path) expect(new URL(path, ORIGIN).searchParams.get('country')).toBe('IQ');
    }
    expect(seen).toEqual(['plain-4', 'plain-3', 'plain-2', 'plain-1', 'plain-0']);
  });

  it.each([
    ['/events.geojson?cursor=not-a-cursor', 'cursor'],
    ['/events.geojson?bbox=1,2,3', 'bbox'],
    ['/events.csv?has_casualties=maybe', 'has_casualties'],
  ])('answers 400 for %s, naming %s', expectInvalidParameter);
});

describe('GET /events.csv', () => {
  it('is CSV with a header row, CRLF records and one row per record', async () => {
    const response = await call('/events.csv');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="strikewire-events.csv"');
    const text = await response.text();
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows.slice(1).map((row) => row[0])).toEqual(['tricky-text', 'plain-4', 'plain-3', 'plain-2', 'plain-1', 'plain-0']);
    expect(rows.every((row) => row.length === CSV_COLUMNS.length)).toBe(true);
  });

  it('quotes commas, quotes and newlines, guards formula-like text and leaves numbers alone', async () => {
    const rows = parseCsv(await (await call('/events.csv?country=US')).text());
    const row = Object.fromEntries(CSV_COLUMNS.map((column, index) => [column, rows[1]![index]]));
    expect(row).toMatchObject({
      title: 'Rockets, "drones" and\nmore',
      summary: `'=HYPERLINK("http://evil.example","click")`,
      perpetrator: `'+Plus Brigade; -Minus Group`,
      target: `'@handle`,
      lon: '-77.0365',
      lat: '38.8977',
      killed: '2',
      url: `${ORIGIN}/events/tricky-text`,
    });
    expect(csvCell('\tTabbed')).toBe(`'\tTabbed`);
    expect(csvCell('-')).toBe(`'-`);
    expect(csvCell(-3)).toBe('-3');
    expect(csvCell('plain')).toBe('plain');
  });

  it('honours filters and paging like /events', async () => {
    const response = await call('/events.csv?since=2024-01-02&until=2024-01-04&limit=2');
    const rows = parseCsv(await response.text());
    expect(rows.slice(1).map((row) => row[0])).toEqual(['plain-3', 'plain-2']);
    const rest = parseCsv(await (await call(nextPath(response)!)).text());
    expect(rest.slice(1).map((row) => row[0])).toEqual(['plain-1']);
  });
});
