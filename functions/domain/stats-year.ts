/**
 * The published form of a year's `/stats` cells (domain/stats-cells.ts):
 * every filtered `/stats` request reads the year keys in its range, so their
 * bytes are what such a request costs.
 *
 * A year's cells repeat the same few facet combinations month after month
 * (type, country, precision, casualty status, weapons and actors, about a
 * hundred bytes as JSON). The published year names each combination once,
 * and gives the sums of its cells merged within their months as series by
 * month (one number a month for the records, five a month for each casualty
 * group it has figures for), so a month costs a filter a few bytes for each
 * combination instead of a hundred. Cells that keep their days (their
 * interval crosses their month) are listed apart with them. A month's fine
 * key is named by its revision alone: it lies beside the year's key.
 *
 * Year keys published before this form (`{ months, cells }`: the cells as
 * they are kept) are read as they are (`decodeStatsYear`): a year keeps its
 * key until one of its months changes.
 */
import type { Cell, CellActor, CellFacets, CellFigures, CellSums, StatsYear } from './stats-cells.ts';
import type { CasualtyStatus } from './layout.ts';
import { CASUALTY_GROUPS, type Event } from './schema.ts';
import type { GroupStats } from './stats.ts';

/** A facet combination: type, country, precision, casualty status, and the index of its weapons and of its actors in the year's lists. */
export type YearCombination = [type: Event['type'], country: string, precision: Event['location']['precision'], status: CasualtyStatus, weapons: number, actors: number];

/** Series by month (index 0 = January), trailing zeros left out. */
export type MonthSeries = number[];

/** A casualty group's figures by month: records giving one, killed, injured, killed not reported, injured not reported. */
export type GroupSeries = [events: MonthSeries, killed: MonthSeries, injured: MonthSeries, killedNotReported: MonthSeries, injuredNotReported: MonthSeries];

/** The cells of a combination merged within their months: its index, records by month, and figures by group and month. */
export type CombinationSeries = [combination: number, records: MonthSeries, groups?: Partial<Record<GroupStats['group'], GroupSeries>>];

/** A cell that keeps its days: month index, combination, first and last day, and its sums. */
export type DatedCell = [month: number, combination: number, start: string, end: string, sums: CellSums];

/** The value of a year's key. */
export interface PublishedStatsYear {
  format: 2;
  /** The revision of each month's fine key by month (index 0 = January; null: none). */
  months: (number | null)[];
  weapons: string[][];
  actors: CellActor[][];
  combinations: YearCombination[];
  series: CombinationSeries[];
  dated: DatedCell[];
}

/** The year's value as published under `yearKey`, from its cells and months' keys. */
export function encodeStatsYear(year: StatsYear, yearKey: string): PublishedStatsYear {
  const months: (number | null)[] = [];
  for (const [month, key] of Object.entries(year.months)) {
    const revision = revisionOfKey(key);
    if (key !== fineKeyOf(yearKey, revision, month)) throw new Error(`month key ${key} does not lie beside ${yearKey}`);
    const at = Number(month.slice(5)) - 1;
    while (months.length < at) months.push(null);
    months[at] = revision;
  }
  const weapons = new Indexed<string[]>();
  const actors = new Indexed<CellActor[]>();
  const combinations = new Indexed<YearCombination>();
  const merged = new Map<number, CombinationSeries>();
  const dated: DatedCell[] = [];
  for (const [[month, start, end, type, country, precision, status, cellWeapons, cellActors], sums] of year.cells) {
    const combination = combinations.indexOf([type, country, precision, status, weapons.indexOf(cellWeapons), actors.indexOf(cellActors)]);
    const at = Number(month.slice(5)) - 1;
    if (start !== null && end !== null) {
      dated.push([at, combination, start, end, sums]);
      continue;
    }
    let row = merged.get(combination);
    if (row === undefined) merged.set(combination, (row = [combination, []]));
    setAt(row[1], at, sums.n);
    for (const [group, figures] of Object.entries(sums.g ?? {}) as [GroupStats['group'], CellFigures][]) {
      const groups = (row[2] ??= {});
      const series = (groups[group] ??= [[], [], [], [], []]);
      figures.forEach((figure, i) => setAt(series[i]!, at, figure));
    }
  }
  const series = [...merged.values()].sort((a, b) => a[0] - b[0]);
  for (const [, records, groups] of series) {
    trim(records);
    for (const figures of Object.values(groups ?? {})) figures?.forEach(trim);
  }
  return { format: 2, months, weapons: weapons.values, actors: actors.values, combinations: combinations.values, series, dated };
}

/** The cells and months' keys of the year published under `yearKey`, in either form. */
export function decodeStatsYear(value: PublishedStatsYear | StatsYear, yearKey: string): StatsYear {
  if (!('format' in value)) return value;
  const year = yearKey.slice(yearKey.lastIndexOf(':') + 1);
  const monthOf = (at: number) => `${year}-${String(at + 1).padStart(2, '0')}`;
  const facetsOf = (combination: number, at: number, start: string | null, end: string | null): CellFacets => {
    const [type, country, precision, status, weapons, actors] = value.combinations[combination]!;
    return [monthOf(at), start, end, type, country, precision, status, value.weapons[weapons]!, value.actors[actors]!];
  };
  const cells: Cell[] = [];
  for (const [combination, records, groups] of value.series) {
    records.forEach((n, at) => {
      if (n === 0) return;
      const g: CellSums['g'] = {};
      for (const group of CASUALTY_GROUPS) {
        const series = groups?.[group];
        const figures = series?.map((figures) => figures[at] ?? 0) as CellFigures | undefined;
        if (figures?.some((figure) => figure !== 0)) g[group] = figures;
      }
      cells.push([facetsOf(combination, at, null, null), Object.keys(g).length > 0 ? { n, g } : { n }]);
    });
  }
  for (const [at, combination, start, end, sums] of value.dated) cells.push([facetsOf(combination, at, start, end), sums]);
  const months: Record<string, string> = {};
  value.months.forEach((revision, at) => {
    if (revision !== null) months[monthOf(at)] = fineKeyOf(yearKey, revision, monthOf(at));
  });
  return { months, cells };
}

/** The revision a stats key was written at (`stats:<epoch>-<rev>:<period>`). */
const revisionOfKey = (key: string): number => Number(key.slice(key.lastIndexOf('-', key.lastIndexOf(':')) + 1, key.lastIndexOf(':')));

/** The key of `month`'s fine cells written at `revision`, in the epoch of `yearKey`. */
const fineKeyOf = (yearKey: string, revision: number, month: string): string => `${yearKey.slice(0, yearKey.lastIndexOf('-', yearKey.lastIndexOf(':')))}-${revision}:${month}`;

/** Sets `series[at]`, filling the months before it with zeros. */
function setAt(series: MonthSeries, at: number, value: number): void {
  while (series.length < at) series.push(0);
  series[at] = value;
}

/** Drops a series' trailing zeros. */
function trim(series: MonthSeries): void {
  while (series.length > 0 && series.at(-1) === 0) series.pop();
}

/** Values listed once each, by their JSON text, with their index in the list. */
class Indexed<T> {
  readonly values: T[] = [];
  private readonly indexes = new Map<string, number>();

  /** The index of `value`, added at the end if it is new. */
  indexOf(value: T): number {
    const text = JSON.stringify(value);
    let index = this.indexes.get(text);
    if (index === undefined) {
      this.indexes.set(text, (index = this.values.length));
      this.values.push(value);
    }
    return index;
  }
}
