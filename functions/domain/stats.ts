/**
 * Aggregates for dashboard charts over the index entries that match a query:
 * counts and casualty sums in total and by month, type, country and actor.
 */
import type { IndexEntry } from './layout.ts';

/** Counts for one group of records. */
export interface StatsBucket {
  /** The month (`YYYY-MM`), type, country code or actor name. */
  key: string;
  events: number;
  /** Sum of the killed figures the sources give. */
  killed: number;
  /** Sum of the injured figures the sources give. */
  injured: number;
}

/** What `/stats` returns. */
export interface EventStats {
  total: Omit<StatsBucket, 'key'>;
  /** Every month from the earliest to the latest matching record, in order, empty months included. */
  by_month: StatsBucket[];
  /** The rest are by descending number of events, then key. */
  by_type: StatsBucket[];
  by_country: StatsBucket[];
  /** A record counts once under each actor it names (perpetrator, target or claimant). */
  by_actor: StatsBucket[];
}

/** Aggregates `entries`. */
export function summarize(entries: readonly IndexEntry[]): EventStats {
  const total = { events: 0, killed: 0, injured: 0 };
  const months = new Map<string, StatsBucket>();
  const types = new Map<string, StatsBucket>();
  const countries = new Map<string, StatsBucket>();
  const actors = new Map<string, StatsBucket>();
  for (const entry of entries) {
    add(total, entry);
    add(bucket(months, entry.date.slice(0, 7)), entry);
    add(bucket(types, entry.type), entry);
    add(bucket(countries, entry.country), entry);
    for (const actor of entry.actors) add(bucket(actors, actor), entry);
  }
  return { total, by_month: monthSeries(months), by_type: ranked(types), by_country: ranked(countries), by_actor: ranked(actors) };
}

function bucket(buckets: Map<string, StatsBucket>, key: string): StatsBucket {
  let found = buckets.get(key);
  if (!found) buckets.set(key, (found = { key, events: 0, killed: 0, injured: 0 }));
  return found;
}

function add(counts: Omit<StatsBucket, 'key'>, entry: IndexEntry): void {
  counts.events += 1;
  counts.killed += entry.killed;
  counts.injured += entry.injured;
}

const ranked = (buckets: Map<string, StatsBucket>): StatsBucket[] =>
  [...buckets.values()].sort((a, b) => b.events - a.events || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

/** The months present, with the empty ones between them filled in, oldest first. */
function monthSeries(buckets: Map<string, StatsBucket>): StatsBucket[] {
  const keys = [...buckets.keys()].sort();
  if (keys.length === 0) return [];
  const monthNumber = (key: string) => Number(key.slice(0, 4)) * 12 + Number(key.slice(5, 7)) - 1;
  const series: StatsBucket[] = [];
  for (let month = monthNumber(keys[0]!); month <= monthNumber(keys.at(-1)!); month++) {
    series.push(bucket(buckets, `${Math.floor(month / 12)}-${String((month % 12) + 1).padStart(2, '0')}`));
  }
  return series;
}
