/**
 * The curated dataset in data/: it parses with the one schema, and every
 * quote it cites stands verbatim in the cited source document.
 */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import events from '../data/events.json';
import sources from '../data/sources.json';
import tallies from '../data/tallies.json';
import { EventSchema, SourceDocumentSchema, TallySchema } from '../functions/domain/schema.ts';

const documents = import.meta.glob<string>('../data/sources/*.txt', { query: '?raw', import: 'default', eager: true });
const documentText = (name: string): string | undefined => documents[`../data/sources/${name}`];
const parsedEvents = v.parse(v.array(EventSchema), events);
const parsedTallies = v.parse(v.array(TallySchema), tallies);
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

  it('covers the events the sources describe', () => {
    const byDate = (date: string, type: string) => parsedEvents.filter((event) => event.date === date && event.type === type);
    for (const date of ['2019-11-09', '2019-12-03', '2019-12-05', '2019-12-09', '2019-12-27']) expect(byDate(date, 'attack'), date).toHaveLength(1);
    expect(byDate('2019-12-31', 'incident')).toHaveLength(1);
    expect(byDate('2019-12-31', 'deployment')).toHaveLength(2);
    expect(byDate('2023-12-25', 'attack')[0]?.location.name).toMatch(/Erbil/);
    expect(byDate('2023-12-25', 'strike')).toHaveLength(1);
    expect(parsedEvents.filter((event) => event.date.startsWith('2024-01') && event.type === 'strike').map((event) => event.location.name).join()).toMatch(/Qa'im.*Jurf|Jurf.*Qa'im/);
    expect(parsedTallies.find((tally) => tally.value === 103)?.since).toBe('2023-10-17');
  });
});
