/**
 * Subscription requests: the body schema (URL rules, filters validated
 * exactly as `/events` validates its query, event types, description) and the
 * match of a record change against a subscription.
 */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { toIndexEntry } from '../functions/domain/layout.ts';
import { EventQuerySchema } from '../functions/domain/query.ts';
import { subscriptionInputSchema, SubscriptionInputSchema, subscriptionMatches, type SubscriptionScope } from '../functions/domain/subscription.ts';
import { makeEvent } from './helpers.ts';

const URL_OK = 'https://hooks.example.com/strikewire';

/** Each issue of parsing `body` as `field: message`. */
function problems(body: unknown, schema: v.GenericSchema = SubscriptionInputSchema): string[] {
  const result = v.safeParse(schema, body);
  return result.success ? [] : result.issues.map((issue) => `${v.getDotPath(issue) ?? 'body'}: ${issue.message}`);
}

describe('SubscriptionInputSchema', () => {
  it('needs only a url, defaulting to every record and every record event type', () => {
    expect(v.parse(SubscriptionInputSchema, { url: URL_OK })).toEqual({ url: URL_OK, filters: {}, event_types: ['event.created', 'event.updated', 'event.deleted'] });
  });

  it('keeps a trimmed description and stores the URL normalised', () => {
    const parsed = v.parse(SubscriptionInputSchema, { url: 'HTTPS://Hooks.Example.com', description: '  Ops channel  ' });
    expect(parsed).toMatchObject({ url: 'https://hooks.example.com/', description: 'Ops channel' });
  });

  it('refuses a URL with the reason from the target rules, naming url', () => {
    expect(problems({ url: 'http://hooks.example.com/' })).toEqual(['url: must use https']);
    expect(problems({ url: 'https://192.168.1.10/' })).toEqual(['url: must not point to a private network (192.168.0.0/16)']);
    expect(problems({ url: 42 })).toEqual(['url: must be a string']);
    expect(problems({})).toEqual(['url: Invalid key: Expected "url" but received undefined']);
  });

  it('accepts loopback http only from a schema made for local development', () => {
    const body = { url: 'http://127.0.0.1:9000/hook' };
    expect(problems(body)).toEqual(['url: must not point to a loopback address (127.0.0.0/8)']);
    expect(v.parse(subscriptionInputSchema({ allowLoopbackHttp: true }), body).url).toBe('http://127.0.0.1:9000/hook');
  });

  it('takes event types once each, in canonical order, and refuses others', () => {
    expect(v.parse(SubscriptionInputSchema, { url: URL_OK, event_types: ['event.updated', 'event.created', 'event.updated'] }).event_types).toEqual(['event.created', 'event.updated']);
    expect(v.parse(SubscriptionInputSchema, { url: URL_OK, event_types: ['event.updated'] }).event_types).toEqual(['event.updated']);
    expect(problems({ url: URL_OK, event_types: [] })).toEqual(['event_types: must name at least one event type']);
    expect(v.parse(SubscriptionInputSchema, { url: URL_OK, event_types: ['event.deleted', 'event.created'] }).event_types).toEqual(['event.created', 'event.deleted']);
    expect(problems({ url: URL_OK, event_types: ['ping'] })).toEqual(['event_types.0: must be one of event.created, event.updated, event.deleted']);
    expect(problems({ url: URL_OK, event_types: 'event.created' })).toEqual(['event_types: must be an array of event types']);
  });

  it('refuses an empty or overlong description and unknown fields by name', () => {
    expect(problems({ url: URL_OK, description: '   ' })).toEqual(['description: must not be empty']);
    expect(problems({ url: URL_OK, description: 'x'.repeat(501) })).toEqual(['description: must be at most 500 characters']);
    expect(problems({ url: URL_OK, secret: 'whsec_mine' }).map((problem) => problem.split(':')[0])).toEqual(['secret']);
  });
});

describe('SubscriptionInputSchema filters', () => {
  /** What `/events` makes of the same parameters, without its paging. */
  function asEventsQuery(filters: Record<string, unknown>) {
    const result = v.safeParse(EventQuerySchema, filters);
    if (!result.success) return { problems: problems(filters, EventQuerySchema).map((problem) => `filters.${problem}`) };
    const { limit: _limit, cursor: _cursor, ...filter } = result.output;
    return { filters: filter };
  }
  function asSubscription(filters: Record<string, unknown>) {
    const result = v.safeParse(SubscriptionInputSchema, { url: URL_OK, filters });
    return result.success ? { filters: result.output.filters } : { problems: problems({ url: URL_OK, filters }) };
  }

  const cases: Array<Record<string, unknown>> = [
    { type: 'attack,strike', country: 'iq' },
    { type: ['attack', 'strike'], weapon: ['rocket', 'one_way_attack_drone'] },
    { since: '2023-10-17', until: '2024-02-01', has_casualties: 'true' },
    { bbox: '38,29,49,38', actor: 'Kataib Hezbollah', q: 'drone tower' },
    { country: 'IQ,,SY' },
    { type: 'airstrike' },
    { since: '2024-02-01', until: '2024-01-01' },
    { since: ['2024-01-01', '2024-02-01'] },
    { bbox: '1,2,3' },
    { has_casualties: true },
    { has_casualties: 'yes' },
    { region: 'levant' },
  ];

  it('accept and refuse exactly what /events does, naming the same parameter under filters', () => {
    for (const filters of cases) expect(asSubscription(filters), JSON.stringify(filters)).toEqual(asEventsQuery(filters));
  });

  it('come out parsed, ready for matching', () => {
    expect(asSubscription({ type: 'attack, strike', country: ['iq', 'SY'], bbox: '38,29,49,38', has_casualties: 'false' }).filters).toEqual({
      type: ['attack', 'strike'],
      country: ['IQ', 'SY'],
      bbox: { minLon: 38, minLat: 29, maxLon: 49, maxLat: 38 },
      has_casualties: false,
    });
  });

  it('name the parameter when filters are bad', () => {
    expect(asSubscription({ country: 'Iraq' }).problems).toEqual(['filters.country.0: must be a comma-separated list of ISO 3166-1 alpha-2 country codes']);
    expect(asSubscription({ since: '2024-02-01', until: '2024-01-01' }).problems).toEqual(['filters.until: must not be before since (2024-02-01)']);
    expect(problems({ url: URL_OK, filters: 'type=attack' })[0]).toMatch(/^filters: /);
  });

  it('refuse the paging parameters of /events, which a subscription has no use for', () => {
    for (const name of ['limit', 'cursor']) expect(asSubscription({ [name]: '10' }).problems).toEqual([`filters.${name}: Invalid key: Expected never but received "${name}"`]);
  });
});

describe('subscriptionMatches', () => {
  const killed = makeEvent('qaim-strike', '2024-02-02', {
    type: 'strike',
    location: { name: "Al-Qa'im", country: 'IQ', lat: 34.37, lon: 41.09, precision: 'city' },
    weapons: ['airstrike'],
    casualties: [{ group: 'militants', killed: 16, injured: null }],
  });
  const quiet = makeEvent('tower-22-drone', '2024-01-28', {
    location: { name: 'Tower 22', country: 'JO', lat: 33.32, lon: 38.69, precision: 'site' },
    weapons: ['one_way_attack_drone'],
  });
  const scope = (raw: Record<string, unknown>, eventTypes?: string[]): SubscriptionScope =>
    v.parse(SubscriptionInputSchema, { url: URL_OK, filters: raw, ...(eventTypes ? { event_types: eventTypes } : {}) });

  it('matches every record when there are no filters', () => {
    for (const record of [killed, quiet]) expect(subscriptionMatches(scope({}), record, 'event.created')).toBe(true);
  });

  it('applies the filters as /events does', () => {
    const cases: Array<[Record<string, unknown>, boolean, boolean]> = [
      [{ country: 'IQ' }, true, false],
      [{ type: 'strike' }, true, false],
      [{ weapon: 'one_way_attack_drone,rocket' }, false, true],
      [{ has_casualties: 'true' }, true, false],
      [{ since: '2024-02-01' }, true, false],
      [{ until: '2024-01-31' }, false, true],
      [{ bbox: '38,33,39,34' }, false, true],
      [{ q: 'tower' }, false, true],
      // Actors are matched by their dictionary names, not the record's wording ("Test Militia").
      [{ actor: 'iran-backed militias' }, true, true],
      [{ actor: 'test militia' }, false, false],
      [{ actor_role: 'claimant' }, false, false],
      [{ country: 'IQ', type: 'attack' }, false, false],
    ];
    for (const [filters, matchesKilled, matchesQuiet] of cases) {
      expect(subscriptionMatches(scope(filters), killed, 'event.created'), `${JSON.stringify(filters)} killed`).toBe(matchesKilled);
      expect(subscriptionMatches(scope(filters), quiet, 'event.created'), `${JSON.stringify(filters)} quiet`).toBe(matchesQuiet);
    }
  });

  it('gives the same answer for a record and for its index entry', () => {
    for (const filters of [{}, { country: 'JO' }, { q: 'qaim' }, { has_casualties: 'false' }]) {
      for (const record of [killed, quiet]) {
        expect(subscriptionMatches(scope(filters), toIndexEntry(record), 'event.updated')).toBe(subscriptionMatches(scope(filters), record, 'event.updated'));
      }
    }
  });

  it('only for the event types the subscription asked for', () => {
    const updatesOnly = scope({ country: 'IQ' }, ['event.updated']);
    expect(subscriptionMatches(updatesOnly, killed, 'event.created')).toBe(false);
    expect(subscriptionMatches(updatesOnly, killed, 'event.updated')).toBe(true);
    expect(subscriptionMatches(updatesOnly, quiet, 'event.updated')).toBe(false);
  });
});
