/**
 * The curated dataset in data/: it parses with the one schema, and every
 * quote it cites stands verbatim in the cited source document. The actor
 * dictionary: every alias found verbatim in a source, every link quoted,
 * every record's actor in it. Also the
 * schema's bounds: casualty counts, array lengths, and the largest record's
 * size as JSON.
 */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import actors from '../data/actors.json';
import events from '../data/events.json';
import places from '../data/places.json';
import sources from '../data/sources.json';
import tallies from '../data/tallies.json';
import {
  ActorDictionarySchema,
  PlaceSchema,
  CASUALTY_GROUPS,
  EventInputSchema,
  EventSchema,
  MAX_CASUALTY_COUNT,
  MAX_DOCUMENT_NAME_LENGTH,
  MAX_EVENT_JSON_BYTES,
  RECORD_ARRAY_LIMITS,
  SUPPORTED_FIELDS,
  SourceDocumentSchema,
  TallySchema,
  WEAPONS,
  jsonBytes,
  type Event,
} from '../functions/domain/schema.ts';
import { dateInterval } from '../functions/domain/dates.ts';
import { makeEvent } from './fixtures/records.ts';

const documents = import.meta.glob<string>('../data/sources/*.txt', { query: '?raw', import: 'default', eager: true });
const documentText = (name: string): string | undefined => documents[`../data/sources/${name}`];
const parsedEvents = v.parse(v.array(EventSchema), events);
const parsedTallies = v.parse(v.array(TallySchema), tallies);
const parsedActors = v.parse(ActorDictionarySchema, actors);
const collapse = (text: string) => text.replace(/\s+/g, ' ');

describe('data/', () => {
  it('holds the five source documents, each described in sources.json', () => {
    const described = v.parse(v.array(SourceDocumentSchema), sources).map((source) => source.document).sort();
    expect(Object.keys(documents).map((path) => path.split('/').pop()).sort()).toEqual(described);
    expect(described).toHaveLength(5);
  });

  it('parses with EventSchema and TallySchema', () => {
    expect(parsedEvents.length).toBeGreaterThanOrEqual(15);
    expect(parsedTallies.length).toBeGreaterThanOrEqual(3);
  });

  it('rejects a record that breaks the schema, naming the field', () => {
    const broken = { ...events[0], date: '2019-02-30', location: { ...events[0]!.location, country: 'Iraq' } };
    const result = v.safeParse(EventSchema, broken);
    expect(result.success).toBe(false);
    const paths = result.issues!.map((issue) => v.getDotPath(issue));
    expect(paths).toEqual(expect.arrayContaining(['date', 'location.country']));
  });

  it('has unique ids and related ids that exist', () => {
    const ids = new Set(parsedEvents.map((event) => event.id));
    expect(ids.size).toBe(parsedEvents.length);
    for (const event of parsedEvents) for (const related of event.related) expect(ids, `${event.id} → ${related}`).toContain(related);
  });

  it('quotes every source verbatim from the cited document', () => {
    const citations = [...parsedEvents, ...parsedTallies].flatMap((record) => record.sources.map((source) => ({ id: record.id, ...source })));
    for (const citation of citations) {
      const text = documentText(citation.document);
      expect(text, `${citation.id} cites missing ${citation.document}`).toBeDefined();
      expect(collapse(text!), `${citation.id}: "${citation.quote}"`).toContain(collapse(citation.quote));
    }
  });

  it('quotes verbatim what gives an actor its role in a record', () => {
    for (const event of parsedEvents) {
      for (const actor of event.actors.filter((entry) => entry.source)) {
        expect(collapse(documentText(actor.source!.document) ?? ''), `${event.id}: ${actor.id}`).toContain(collapse(actor.source!.quote));
      }
    }
    // The 2019 attacks are "directed by the Iranian regime, specifically IRGC leadership".
    const directed = parsedEvents.filter((event) => event.actors.some((actor) => actor.id === 'irgc' && actor.role === 'directed_by'));
    expect(directed.map((event) => event.date)).toEqual(['2019-11-09', '2019-12-03', '2019-12-05', '2019-12-09']);
  });

  it('backs date, location and every casualty figure with a quote', () => {
    for (const event of parsedEvents) {
      const supported = new Set(event.sources.flatMap((source) => source.supports ?? []));
      expect(supported, event.id).toContain('date');
      expect(supported, event.id).toContain('location');
      if (event.casualties.length > 0) expect(supported, event.id).toContain('casualties');
      for (const casualty of event.casualties) {
        const quotes = event.sources.filter((source) => source.supports?.includes('casualties')).map((source) => source.quote.toLowerCase()).join(' ');
        for (const figure of [casualty.killed, casualty.injured]) {
          if (figure === null) continue;
          const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
          expect(quotes.includes(String(figure)) || quotes.includes(words[figure] ?? '\u0000'), `${event.id}: ${figure}`).toBe(true);
        }
      }
    }
  });

  it('records how relative and inexact dates were resolved', () => {
    for (const event of parsedEvents) {
      if (event.date_precision !== 'day') expect(event.date_note, event.id).toBeTruthy();
      if (event.date_precision === 'month') expect(event.date.endsWith('-01'), event.id).toBe(true);
    }
    const lastFriday = parsedEvents.find((event) => event.sources.some((source) => source.quote.startsWith('Last Friday')));
    expect(lastFriday?.date).toBe('2019-12-27');
    expect(new Date(`${lastFriday!.date}T00:00:00Z`).getUTCDay()).toBe(5);
    expect(lastFriday?.date_precision).toBe('day');
  });

  it('gives every approximate date the window its note justifies, and writers must too', () => {
    for (const event of parsedEvents.filter((event) => event.date_precision === 'approximate')) {
      expect(event.date_window, event.id).toBeDefined();
      expect(event.date_note, event.id).toMatch(/window/);
    }
    expect(v.parse(v.array(EventInputSchema), events)).toHaveLength(events.length);
    const approximate = { ...makeEvent('no-window', '2024-01-10'), date_precision: 'approximate' as const };
    const issue = (record: unknown) => v.safeParse(EventInputSchema, record).issues?.map((found) => `${v.getDotPath(found)}: ${found.message}`);
    expect(issue(approximate)).toEqual(['date_window: is required when date_precision is approximate: the first and last day the date note allows']);
    expect(issue({ ...approximate, date_window: { start: '2024-01-11', end: '2024-01-20' } })).toEqual(['date_window: must hold date (2024-01-10)']);
    expect(issue({ ...approximate, date_window: { start: '2024-01-09', end: '2024-01-08' } })).toEqual(['date_window.end: must not be before start (2024-01-09)']);
    expect(issue({ ...makeEvent('day-window', '2024-01-10'), date_window: { start: '2024-01-09', end: '2024-01-11' } })).toEqual([
      'date_window: is only for date_precision approximate (day and month are intervals already)',
    ]);
    // Stored records written before windows existed are still served.
    expect(v.safeParse(EventSchema, approximate).success).toBe(true);
  });

  it('derives date_start and date_end from date, date_precision and date_window', () => {
    expect(dateInterval({ date: '2024-02-01', date_precision: 'month' })).toEqual({ date_start: '2024-02-01', date_end: '2024-02-29' });
    expect(dateInterval({ date: '2023-12-01', date_precision: 'month' })).toEqual({ date_start: '2023-12-01', date_end: '2023-12-31' });
    expect(dateInterval({ date: '2023-12-25', date_precision: 'day' })).toEqual({ date_start: '2023-12-25', date_end: '2023-12-25' });
    expect(dateInterval({ date: '2019-12-29', date_precision: 'approximate', date_window: { start: '2019-12-27', end: '2020-01-05' } })).toEqual({ date_start: '2019-12-27', date_end: '2020-01-05' });
    expect(dateInterval({ date: '2019-12-29', date_precision: 'approximate' })).toEqual({ date_start: '2019-12-29', date_end: '2019-12-29' });
  });

  it('covers the events the sources describe', () => {
    const byDate = (date: string, type: string) => parsedEvents.filter((event) => event.date === date && event.type === type);
    for (const date of ['2019-11-09', '2019-12-03', '2019-12-05', '2019-12-09', '2019-12-27']) expect(byDate(date, 'attack'), date).toHaveLength(1);
    expect(byDate('2019-12-31', 'incident')).toHaveLength(1);
    expect(byDate('2019-12-31', 'deployment')).toHaveLength(2);
    expect(byDate('2023-12-25', 'attack')[0]?.location.name).toMatch(/Erbil/);
    // The US strikes answering it: 25 December in Washington, 'early Tuesday' 26 December in Iraq.
    expect(byDate('2023-12-26', 'strike')).toHaveLength(1);
    expect(parsedEvents.filter((event) => event.date.startsWith('2024-01') && event.type === 'strike').map((event) => event.location.name).join()).toMatch(/Qa'im.*Jurf|Jurf.*Qa'im/);
    expect(parsedTallies.find((tally) => tally.value === 103)?.since).toBe('2023-10-17');
  });
});

describe('data/actors.json', () => {
  it('parses with ActorDictionarySchema: unique ids, links to actors it holds', () => {
    expect(parsedActors.map((actor) => actor.id)).toEqual(expect.arrayContaining(['kataib-hezbollah', 'islamic-resistance-in-iraq', 'iran-backed-militias', 'irgc', 'united-states', 'us-forces']));
    const duplicated = v.safeParse(ActorDictionarySchema, [...actors, actors[0]]);
    expect(duplicated.issues?.map((issue) => issue.message)).toEqual(['actor ids must be unique']);
    const dangling = v.safeParse(ActorDictionarySchema, [{ ...actors[0]!, links: [{ relation: 'part_of', to: 'nobody', sources: actors[0]!.links[0]!.sources }] }]);
    expect(dangling.issues?.map((issue) => issue.message)).toEqual(['every link must be to an actor of the dictionary']);
  });

  it('holds only aliases the sources write, verbatim', () => {
    const all = Object.values(documents).join('\n');
    for (const actor of parsedActors) for (const alias of actor.aliases) expect(all, `${actor.id}: ${alias}`).toContain(alias);
  });

  it('quotes every link verbatim from the cited document', () => {
    for (const actor of parsedActors) {
      for (const link of actor.links) {
        for (const source of link.sources) {
          expect(collapse(documentText(source.document) ?? ''), `${actor.id} ${link.relation} ${link.to}: "${source.quote}"`).toContain(collapse(source.quote));
        }
      }
    }
  });

  it('holds every actor the records name, and the records pass the write schema', () => {
    const known = new Set(parsedActors.map((actor) => actor.id));
    for (const event of parsedEvents) for (const actor of event.actors) expect(known, `${event.id}: ${actor.id}`).toContain(actor.id);
    expect(v.safeParse(v.array(EventInputSchema), events).issues).toBeUndefined();
    const unknown = v.safeParse(EventInputSchema, { ...events[0], actors: [{ id: 'nobody', role: 'perpetrator', as_written: 'Nobody' }] });
    expect(unknown.issues?.map((issue) => v.getDotPath(issue))).toEqual(['actors.0.id']);
  });
});

/** A record with every text at its maximum length (written with `char`) and every array at its cap. */
function largestRecord(char: string): Event {
  const text = (length: number) => char.repeat(length);
  const slug = (n: number) => `${'a'.repeat(115)}-${String(n).padStart(4, '0')}`;
  return {
    id: slug(0),
    type: 'deployment',
    title: text(200),
    summary: text(2000),
    date: '2023-12-25',
    date_precision: 'approximate',
    date_note: text(500),
    location: { name: text(200), country: 'IQ', lat: -33.123456789012345, lon: -179.12345678901234, precision: 'approximate' },
    actors: Array.from({ length: RECORD_ARRAY_LIMITS.actors }, () => ({
      id: slug(0),
      role: 'perpetrator' as const,
      as_written: text(200),
      source: { document: `${'d'.repeat(MAX_DOCUMENT_NAME_LENGTH - 4)}.txt`, quote: text(500) },
    })),
    weapons: [...WEAPONS],
    casualties: Array.from({ length: RECORD_ARRAY_LIMITS.casualties }, (_, index) => ({
      group: CASUALTY_GROUPS[index % CASUALTY_GROUPS.length]!,
      killed: MAX_CASUALTY_COUNT,
      injured: MAX_CASUALTY_COUNT,
      note: text(500),
    })),
    sources: Array.from({ length: RECORD_ARRAY_LIMITS.sources }, () => ({
      document: `${'d'.repeat(MAX_DOCUMENT_NAME_LENGTH - 4)}.txt`,
      publisher: text(200),
      quote: text(1000),
      supports: [...SUPPORTED_FIELDS],
    })),
    related: Array.from({ length: RECORD_ARRAY_LIMITS.related }, (_, index) => slug(index + 1)),
    revision: Number.MAX_SAFE_INTEGER,
    created_at: '2023-12-25T00:00:00.000Z',
    updated_at: '2023-12-25T00:00:00.000Z',
  };
}

/** The dot paths of the issues `record` raises, with their messages. */
const problems = (record: unknown) => (v.safeParse(EventSchema, record).issues ?? []).map((issue) => `${v.getDotPath(issue) ?? ''}: ${issue.message}`);

describe('record bounds', () => {
  it('keeps every record of data/ well within them', () => {
    for (const event of parsedEvents) expect(jsonBytes(event), event.id).toBeLessThan(MAX_EVENT_JSON_BYTES / 8);
  });

  it('bounds a record as JSON well under the 128 KB Queues message limit', () => {
    expect(MAX_EVENT_JSON_BYTES).toBeLessThanOrEqual((128 * 1024) / 2);
    const largest = largestRecord('a');
    expect(problems(largest)).toEqual([]);
    expect(jsonBytes(largest)).toBeLessThanOrEqual(MAX_EVENT_JSON_BYTES);
    expect(jsonBytes(largest)).toBeGreaterThan(30_000);
  });

  it('refuses a record over the size bound however its text is written', () => {
    for (const char of ['\u0001', '无']) {
      const record = largestRecord(char);
      expect(jsonBytes(record), JSON.stringify(char)).toBeGreaterThan(MAX_EVENT_JSON_BYTES);
      expect(problems(record), JSON.stringify(char)).toEqual([expect.stringMatching(new RegExp(`^: the record must be at most ${MAX_EVENT_JSON_BYTES} bytes as JSON \\(got \\d+\\)`))]);
    }
  });

  it('caps casualty counts, naming the field', () => {
    const withCount = (killed: number, injured: number | null = 0) => makeEvent('counted', '2023-01-01', { casualties: [{ group: 'civilians', killed, injured }] });
    expect(problems(withCount(MAX_CASUALTY_COUNT, MAX_CASUALTY_COUNT))).toEqual([]);
    expect(problems(withCount(1e308))).toEqual([`casualties.0.killed: must be at most ${MAX_CASUALTY_COUNT}`]);
    expect(problems(withCount(MAX_CASUALTY_COUNT + 1))).toEqual([`casualties.0.killed: must be at most ${MAX_CASUALTY_COUNT}`]);
    expect(problems(withCount(0, 2 ** 53))).toEqual([`casualties.0.injured: must be at most ${MAX_CASUALTY_COUNT}`]);
  });

  it('caps every array, naming the field', () => {
    const largest = largestRecord('a');
    const over = <T>(items: readonly T[]) => [...items, items[0]!];
    const cases: Array<[string, Partial<Event>]> = [
      ['actors', { actors: over(largest.actors) }],
      ['weapons', { weapons: over(largest.weapons) }],
      ['casualties', { casualties: over(largest.casualties) }],
      ['sources', { sources: over(largest.sources) }],
      ['sources.0.supports', { sources: [{ ...largest.sources[0]!, supports: over(largest.sources[0]!.supports!) }] }],
      ['related', { related: over(largest.related) }],
    ];
    for (const [field, override] of cases) {
      const limit = field === 'sources.0.supports' ? RECORD_ARRAY_LIMITS.supports : RECORD_ARRAY_LIMITS[field as 'weapons'];
      expect(problems({ ...makeEvent('capped', '2023-01-01'), ...override }), field).toEqual([`${field}: must hold at most ${limit} entries`]);
    }
    const longDocument = { ...largest.sources[0]!, document: `${'d'.repeat(MAX_DOCUMENT_NAME_LENGTH)}.txt` };
    expect(problems(makeEvent('long-document', '2023-01-01', { sources: [longDocument] }))).toEqual([`sources.0.document: must be at most ${MAX_DOCUMENT_NAME_LENGTH} characters`]);
  });
});

describe('data/places.json', () => {
  it('parses with PlaceSchema, with unique ids, and every alias stands verbatim in the document it names', () => {
    const parsed = v.parse(v.array(PlaceSchema), places);
    expect(new Set(parsed.map((place) => place.id)).size).toBe(parsed.length);
    for (const place of parsed) {
      for (const alias of place.aliases) expect(documentText(alias.document), `${place.id}: ${alias.name}`).toContain(alias.name);
    }
  });

  it('sits on the coordinates of the records placed there', () => {
    for (const place of v.parse(v.array(PlaceSchema), places)) {
      const records = parsedEvents.filter((event) => event.location.name.startsWith(place.name));
      expect(records.length, place.id).toBeGreaterThan(0);
      for (const record of records) expect([record.location.lat, record.location.lon], record.id).toEqual([place.lat, place.lon]);
    }
  });
});
