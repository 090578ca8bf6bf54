/**
 * `GET /stats`: event counts and casualty figures by casualty group, in
 * total and by month (gap-filled), type and country, and actors counted by
 * role, over every matching record, honouring the filters.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { dayFrom2000, expectInvalidParameter, getJson, makeEvent, seed } from './helpers.ts';

const SYRIA = { name: 'Al-Tanf garrison', country: 'SY', lat: 33.4987, lon: 38.6332, precision: 'site' } as const;

beforeAll(async () => {
  const casualties = (killed: number | null, injured: number | null) => [{ group: 'us_military' as const, killed, injured }];
  await seed([
      makeEvent('jan-iq-attack', '2024-01-05', { casualties: casualties(1, 2), actors: [{ id: 'kataib-hezbollah', role: 'perpetrator', as_written: 'Kataib Hezbollah' }, { id: 'us-forces', role: 'target', as_written: 'US forces' }, { id: 'islamic-resistance-in-iraq', role: 'claimant', as_written: 'Islamic Resistance in Iraq' }] }),
      makeEvent('jan-sy-attack', '2024-01-20', { location: SYRIA, casualties: [...casualties(3, 40), { group: 'civilians', killed: null, injured: 1 }] }),
      makeEvent('apr-sy-strike', '2024-04-02', { type: 'strike', location: SYRIA, actors: [{ id: 'us-forces', role: 'perpetrator', as_written: 'US forces' }, { id: 'kataib-hezbollah', role: 'target', as_written: 'Kataib Hezbollah' }] }),
      makeEvent('mar-iq-incident', '2024-03-15', { type: 'incident' }),
    ],
    '2026-02-01T00:00:00.000Z',
  );
});

describe('GET /stats', () => {
  const group = (name: string, figures: Partial<Record<'events' | 'killed' | 'injured' | 'killed_not_reported' | 'injured_not_reported', number>>) => ({
    group: name,
    events: 0,
    killed: 0,
    injured: 0,
    killed_not_reported: 0,
    injured_not_reported: 0,
    ...figures,
  });
  const usMilitary = group('us_military', { events: 2, killed: 4, injured: 42 });
  const civilians = group('civilians', { events: 1, injured: 1, killed_not_reported: 1 });

  it('counts events, and casualties by casualty group, in total and by month, type and country', async () => {
    const { status, body, response } = await getJson('/stats');
    expect(status).toBe(200);
    expect(response.headers.get('etag')).toBeTruthy();
    expect(body.data.total).toEqual({ events: 4, by_group: [usMilitary, civilians], has_casualties: { true: 2, false: 0, unknown: 2 } });
    expect(body.data.by_month).toEqual([
      { key: '2024-01', events: 2, by_group: [usMilitary, civilians] },
      { key: '2024-02', events: 0, by_group: [] },
      { key: '2024-03', events: 1, by_group: [] },
      { key: '2024-04', events: 1, by_group: [] },
    ]);
    expect(body.data.by_type).toEqual([
      { key: 'attack', events: 2, by_group: [usMilitary, civilians] },
      { key: 'incident', events: 1, by_group: [] },
      { key: 'strike', events: 1, by_group: [] },
    ]);
    expect(body.data.by_country).toEqual([
      { key: 'IQ', events: 2, by_group: [group('us_military', { events: 1, killed: 1, injured: 2 })] },
      { key: 'SY', events: 2, by_group: [group('us_military', { events: 1, killed: 3, injured: 40 }), civilians] },
    ]);
  });

  it('counts actors by role and never credits them with casualties', async () => {
    const { body } = await getJson('/stats');
    expect(body.data.by_actor).toContainEqual({ key: 'us-forces', name: 'US forces', events: 4, perpetrator: 1, claimant: 0, target: 3, directed_by: 0 });
    expect(body.data.by_actor).toContainEqual({ key: 'kataib-hezbollah', name: "Kata'ib Hezbollah", events: 2, perpetrator: 1, claimant: 0, target: 1, directed_by: 0 });
    expect(body.data.by_actor).toContainEqual({ key: 'islamic-resistance-in-iraq', name: 'Islamic Resistance in Iraq', events: 1, perpetrator: 0, claimant: 1, target: 0, directed_by: 0 });
  });

  it('honours the filters', async () => {
    const { body } = await getJson('/stats?country=SY&has_casualties=true');
    expect(body.data.total).toMatchObject({ events: 1, has_casualties: { true: 1, false: 0, unknown: 0 } });
    expect(body.data.by_month).toEqual([{ key: '2024-01', events: 1, by_group: [group('us_military', { events: 1, killed: 3, injured: 40 }), civilians] }]);
    const { body: spring } = await getJson('/stats?since=2024-02-01&actor=kataeb');
    expect(spring.data.total).toEqual({ events: 1, by_group: [], has_casualties: { true: 0, false: 0, unknown: 1 } });
    const { body: none } = await getJson('/stats?type=deployment');
    expect(none.data).toEqual({ total: { events: 0, by_group: [], has_casualties: { true: 0, false: 0, unknown: 0 } }, by_month: [], by_type: [], by_country: [], by_actor: [] });
  });

  it('counts every matching record, across many index chunks', { timeout: 60_000 }, async () => {
    const many = Array.from({ length: 700 }, (_, index) => makeEvent(`bulk-${index}`, dayFrom2000(index), { casualties: [{ group: 'unknown', killed: 1, injured: null }] }));
    for (let start = 0; start < many.length; start += 250) await seed(many.slice(start, start + 250), '2026-02-02T00:00:00.000Z');
    const { body } = await getJson('/stats?until=2010-12-31');
    expect(body.data.total).toEqual({ events: 700, by_group: [group('unknown', { events: 700, killed: 700, injured_not_reported: 700 })], has_casualties: { true: 700, false: 0, unknown: 0 } });
    expect(body.data.by_month[0].key).toBe('2000-01');
  });

  it.each([
    ['/stats?since=2024-05-01&until=2024-01-01', 'until'],
    ['/stats?limit=10', 'limit'],
    ['/stats?type=bombing', 'type'],
    ['/stats?group_by=month', 'group_by'],
  ])('answers 400 for %s, naming %s', expectInvalidParameter);
});
