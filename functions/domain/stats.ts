/**
 * Aggregates for dashboard charts over the index entries that match a query:
 * event counts in total and by month, type and country, casualty figures by
 * casualty group (never one figure mixing US service members with the
 * militants a strike killed), and actors counted by role (attacks made or
 * claimed, times targeted), never credited with anyone's casualties.
 */
import { actorDisplayName, emptyRoleCounts, type RoleCounts } from './actors.ts';
import { CASUALTY_GROUPS, type ActorRole } from './schema.ts';
import { entryActors, entryCasualtyStatus, type CasualtyStatus, type GroupFigure, type IndexEntry } from './layout.ts';

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

/**
 * What one record, or a group of records with the same facets, adds to the
 * stats: `events` records of month `month` (of their `date`), with their
 * type, country, casualty status and actors, and their casualty figures
 * already summed by group. Everything `summarize` reports is a sum of these,
 * so groups pre-aggregated at write time (stats-cells.ts) give the same
 * answer as the records one by one.
 */
export interface StatsContribution {
  month: string;
  type: string;
  country: string;
  status: CasualtyStatus;
  actors: ReadonlyArray<{ id: string; role: ActorRole | null; as_written: string }>;
  events: number;
  /** Per group: records giving a figure, killed, injured, killed not reported, injured not reported. */
  groups: ReadonlyArray<GroupStats>;
}

/** What one index entry contributes. */
export function contributionOf(entry: IndexEntry): StatsContribution {
  const groups = new Map<GroupFigure['group'], GroupStats>();
  for (const figure of entry.casualties ?? []) {
    let group = groups.get(figure.group);
    if (!group) groups.set(figure.group, (group = { group: figure.group, events: 1, killed: 0, injured: 0, killed_not_reported: 0, injured_not_reported: 0 }));
    if (figure.killed === null) group.killed_not_reported += 1;
    else group.killed += figure.killed;
    if (figure.injured === null) group.injured_not_reported += 1;
    else group.injured += figure.injured;
  }
  return { month: entry.date.slice(0, 7), type: entry.type, country: entry.country, status: entryCasualtyStatus(entry), actors: entryActors(entry), events: 1, groups: [...groups.values()] };
}

/** Aggregates `entries`. */
export const summarize = (entries: readonly IndexEntry[]): EventStats => summarizeContributions(entries.map(contributionOf));

/** Aggregates contributions (records one by one, or groups of records). */
export function summarizeContributions(contributions: Iterable<StatsContribution>): EventStats {
  const total: Tally = { key: '', events: 0, groups: new Map() };
  const status = { true: 0, false: 0, unknown: 0 };
  const months = new Map<string, Tally>();
  const types = new Map<string, Tally>();
  const countries = new Map<string, Tally>();
  const actors = new Map<string, ActorStats>();
  for (const part of contributions) {
    add(total, part);
    add(tally(months, part.month), part);
    add(tally(types, part.type), part);
    add(tally(countries, part.country), part);
    status[String(part.status ?? 'unknown') as keyof typeof status] += part.events;
    const counted = new Set<string>();
    for (const named of part.actors) {
      const key = named.id || named.as_written;
      let actor = actors.get(key);
      if (!actor) actors.set(key, (actor = { key, name: actorDisplayName(named), events: 0, ...emptyRoleCounts() }));
      if (!counted.has(key)) (actor.events += part.events), counted.add(key);
      if (named.role !== null && !counted.has(`${key}\n${named.role}`)) (actor[named.role] += part.events), counted.add(`${key}\n${named.role}`);
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

/** Counts `part` in `into`: its events, and its figures under their groups. */
function add(into: Tally, part: StatsContribution): void {
  into.events += part.events;
  for (const figures of part.groups) {
    let group = into.groups.get(figures.group);
    if (!group) into.groups.set(figures.group, (group = { group: figures.group, events: 0, killed: 0, injured: 0, killed_not_reported: 0, injured_not_reported: 0 }));
    group.events += figures.events;
    group.killed += figures.killed;
    group.injured += figures.injured;
    group.killed_not_reported += figures.killed_not_reported;
    group.injured_not_reported += figures.injured_not_reported;
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
