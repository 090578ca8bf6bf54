/**
 * Aggregates for dashboard charts over the index entries that match a query:
 * event counts in total and by month, type and country, casualty figures by
 * casualty group (never one figure mixing US service members with the
 * militants a strike killed), and actors counted by role (attacks made or
 * claimed, times targeted), never credited with anyone's casualties.
 */
import { actorDisplayName, emptyRoleCounts, type RoleCounts } from './actors.ts';
import { CASUALTY_GROUPS } from './schema.ts';
import { entryActors, entryCasualtyStatus, type GroupFigure, type IndexEntry } from './layout.ts';

/** The casualty figures of one casualty group over a set of records. */
export interface GroupStats {
  group: GroupFigure['group'];
  /** Records giving a figure for this group. */
  events: number;
  /** Sum of the killed figures reported; figures not reported are left out, see `killed_not_reported`. */
  killed: number;
  injured: number;
  /** Figures of this group whose killed count the sources do not give: the sum is a lower bound when this is not 0. */
  killed_not_reported: number;
  injured_not_reported: number;
}

/** Event counts of one group of records (a month, type or country), with casualty figures by group. */
export interface StatsBucket {
  /** The month (`YYYY-MM`), type or country code. */
  key: string;
  events: number;
  /** Only the groups some record of the bucket gives a figure for, in CASUALTY_GROUPS order. */
  by_group: GroupStats[];
}

/** How often one actor appears in each role: records naming it as perpetrator, claimant, target, directing. */
export interface ActorStats extends RoleCounts {
  /** The actor's dictionary id (for a record indexed before the dictionary, the name it gave). */
  key: string;
  /** The dictionary's canonical name, else the record's wording. */
  name: string;
  /** Records naming it in any role. */
  events: number;
}

/** What `/stats` returns. */
export interface EventStats {
  total: Omit<StatsBucket, 'key'> & {
    /** Records by `has_casualties`: a figure above zero, reported as none, or no figure. */
    has_casualties: { true: number; false: number; unknown: number };
  };
  /** Every month from the earliest to the latest matching record, in order, empty months included. */
  by_month: StatsBucket[];
  /** The rest are by descending number of events, then key. */
  by_type: StatsBucket[];
  by_country: StatsBucket[];
  /** Actors by role. Entries indexed before the actor dictionary count under `events` only. */
  by_actor: ActorStats[];
}

/** Running sums of one bucket, by group. */
interface Tally {
  key: string;
  events: number;
  groups: Map<GroupFigure['group'], GroupStats>;
}

/** Aggregates `entries`. */
export function summarize(entries: readonly IndexEntry[]): EventStats {
  const total: Tally = { key: '', events: 0, groups: new Map() };
  const status = { true: 0, false: 0, unknown: 0 };
  const months = new Map<string, Tally>();
  const types = new Map<string, Tally>();
  const countries = new Map<string, Tally>();
  const actors = new Map<string, ActorStats>();
  for (const entry of entries) {
    add(total, entry);
    add(tally(months, entry.date.slice(0, 7)), entry);
    add(tally(types, entry.type), entry);
    add(tally(countries, entry.country), entry);
    status[String(entryCasualtyStatus(entry) ?? 'unknown') as keyof typeof status] += 1;
    const counted = new Set<string>();
    for (const named of entryActors(entry)) {
      const key = named.id || named.as_written;
      let actor = actors.get(key);
      if (!actor) actors.set(key, (actor = { key, name: actorDisplayName(named), events: 0, ...emptyRoleCounts() }));
      if (!counted.has(key)) (actor.events += 1), counted.add(key);
      if (named.role !== null && !counted.has(`${key}\n${named.role}`)) (actor[named.role] += 1), counted.add(`${key}\n${named.role}`);
    }
  }
  const { key: _key, ...totals } = finish(total);
  return {
    total: { ...totals, has_casualties: status },
    by_month: monthSeries(months),
    by_type: ranked(types),
    by_country: ranked(countries),
    by_actor: [...actors.values()].sort((a, b) => b.events - a.events || compareKeys(a, b)),
  };
}

function tally(tallies: Map<string, Tally>, key: string): Tally {
  let found = tallies.get(key);
  if (!found) tallies.set(key, (found = { key, events: 0, groups: new Map() }));
  return found;
}

/** Counts `entry` in `into`: one event, and each of its figures under its group. */
function add(into: Tally, entry: IndexEntry): void {
  into.events += 1;
  const seen = new Set<GroupFigure['group']>();
  for (const figure of entry.casualties ?? []) {
    let group = into.groups.get(figure.group);
    if (!group) into.groups.set(figure.group, (group = { group: figure.group, events: 0, killed: 0, injured: 0, killed_not_reported: 0, injured_not_reported: 0 }));
    if (!seen.has(figure.group)) (group.events += 1), seen.add(figure.group);
    if (figure.killed === null) group.killed_not_reported += 1;
    else group.killed += figure.killed;
    if (figure.injured === null) group.injured_not_reported += 1;
    else group.injured += figure.injured;
  }
}

/** A tally as served: groups in CASUALTY_GROUPS order. */
const finish = (tally: Tally): StatsBucket => ({
  key: tally.key,
  events: tally.events,
  by_group: CASUALTY_GROUPS.flatMap((group) => tally.groups.get(group) ?? []),
});

const compareKeys = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

const ranked = (tallies: Map<string, Tally>): StatsBucket[] => [...tallies.values()].map(finish).sort((a, b) => b.events - a.events || compareKeys(a, b));

/** The months present, with the empty ones between them filled in, oldest first. */
function monthSeries(tallies: Map<string, Tally>): StatsBucket[] {
  const keys = [...tallies.keys()].sort();
  if (keys.length === 0) return [];
  const monthNumber = (key: string) => Number(key.slice(0, 4)) * 12 + Number(key.slice(5, 7)) - 1;
  const series: StatsBucket[] = [];
  for (let month = monthNumber(keys[0]!); month <= monthNumber(keys.at(-1)!); month++) {
    series.push(finish(tally(tallies, `${Math.floor(month / 12)}-${String((month % 12) + 1).padStart(2, '0')}`)));
  }
  return series;
}
