/**
 * `/stats` from aggregates kept at write time instead of a scan of the index.
 *
 * Every record falls into one *cell*: the facets the `/stats` filters and
 * buckets look at (month of `date`, the days its date may stand for, type,
 * country, location precision, casualty status, weapons, actors by role),
 * and each cell holds sums (records, and per casualty group the figures
 * `summarize` adds up). Records with equal facets share a cell, so any
 * combination of those filters is an exact sum over cells, and the answer is
 * `summarizeContributions` over the matching cells.
 *
 * Published layout (keys immutable, named by the index revision that wrote
 * them, like chunks; the index head names the directory of its revision):
 * - `stats:<epoch>-<rev>:dir` — every year with records: its key and the
 *   earliest `date_start` and latest `date_end` of its records;
 * - `stats:<epoch>-<rev>:<YYYY>` — the year's cells at month grain: a cell
 *   whose days lie within its month keeps only the month (its days are
 *   merged), a cell whose interval crosses its month keeps its exact days;
 *   and the key of each month's fine cells (published with each facet
 *   combination listed once and its sums as series by month: see
 *   domain/stats-year.ts);
 * - `stats:<epoch>-<rev>:<YYYY-MM>` — the month's cells with their exact days
 *   (those within the month), read only for the month holding `since` or
 *   `until` when that month is not wholly in or out of the range;
 * - `stats:<epoch>-<rev>:all` — the body of `/stats` with no filter (what a
 *   dashboard's overview asks), published with the directory of the same
 *   revision (`statsAnswerKey`) while the cells are few enough to sum at
 *   each change (StatsTable).
 * So a request reads the directory, the years in range (bulk reads of 100)
 * and at most two months, whatever the number of records; a request with no
 * filter reads the published answer alone, bytes in proportion to the
 * answer, or where a location cannot read it, as any other.
 *
 * A cell drops the wording (`as_written`) of actors the dictionary knows: it
 * matches `actor=` and is named by its dictionary id alone. `q` and `bbox`
 * look at text and coordinates no cell keeps (see routes/stats.ts).
 */
import { actorById } from './actors.ts';
import { intervalMatches } from './dates.ts';
import { entryActors, entryCasualtyStatus, entryInterval, entryPrecision, type CasualtyStatus, type IndexEntry } from './layout.ts';
import { matchesFilter, type EventFilter } from './query.ts';
import { CASUALTY_GROUPS, type ActorRole, type Event } from './schema.ts';
import { contributionOf, summarizeContributions, type EventStats, type GroupStats, type StatsContribution } from './stats.ts';

/** An actor of a cell: dictionary id (or '' before the dictionary), role (null before roles), and the wording when the dictionary lacks the id. */
export type CellActor = [id: string, role: ActorRole | null, asWritten: string];

/**
 * The facets of a cell: month of `date`, first and last day (null in a year's
 * cells when they lie within the month), type, country, precision, casualty
 * status, weapons (sorted) and actors (sorted).
 */
export type CellFacets = [month: string, start: string | null, end: string | null, type: Event['type'], country: string, precision: Event['location']['precision'], status: CasualtyStatus, weapons: string[], actors: CellActor[]];

/** Figures of one casualty group in a cell: records giving one, killed, injured, killed not reported, injured not reported. */
export type CellFigures = [events: number, killed: number, injured: number, killedNotReported: number, injuredNotReported: number];

/** The sums of a cell: records, and figures by casualty group (groups no record gives a figure for are absent). */
export interface CellSums {
  n: number;
  g?: Partial<Record<GroupStats['group'], CellFigures>>;
}

/** A cell as published: its facets and sums. */
export type Cell = [facets: CellFacets, sums: CellSums];

/** A year's cells and the keys of its months' fine cells (the value of its key as read: domain/stats-year.ts). */
export interface StatsYear {
  /** Key of each month's fine cells. */
  months: Record<string, string>;
  cells: Cell[];
}

/** One year of the directory: the year, its key, earliest `date_start` and latest `date_end` of its records. */
export type StatsYearRef = [year: string, key: string, start: string, end: string];

/** The value of the directory key. */
export interface StatsDirectory {
  years: StatsYearRef[];
}

/** Key prefix of every stats key. */
export const STATS_KEY_PREFIX = 'stats:';

/** The key of `period` (`dir`, a year `YYYY` or a month `YYYY-MM`) as written at index `revision` of `epoch`. */
export const statsKey = (epoch: string, revision: number, period: string): string => `${STATS_KEY_PREFIX}${epoch}-${revision}:${period}`;

/** Period name of the published answer of `/stats` with no filter. */
export const ANSWER_PERIOD = 'all';

/** The key of the answer of `/stats` with no filter published with the directory under `directoryKey` (the same revision's). */
export const statsAnswerKey = (directoryKey: string): string => `${directoryKey.slice(0, directoryKey.lastIndexOf(':') + 1)}${ANSWER_PERIOD}`;

/** The period a stats key holds (`dir`, `all`, `YYYY` or `YYYY-MM`). */
export const periodOfStatsKey = (key: string): string => key.slice(key.lastIndexOf(':') + 1);

/** The cell a record's index entry falls in, its sums, and whether its days lie within its month. */
export function cellOf(entry: IndexEntry): { facets: CellFacets; sums: CellSums; contained: boolean } {
  const month = entry.date.slice(0, 7);
  const { start, end } = entryInterval(entry);
  const actors = entryActors(entry)
    .map(({ id, role, as_written }): CellActor => [id, role, id && actorById(id) ? '' : as_written])
    .sort(compareJson);
  const unique = actors.filter((actor, index) => index === 0 || compareJson(actor, actors[index - 1]!) !== 0);
  const facets: CellFacets = [month, start, end, entry.type, entry.country, entryPrecision(entry), entryCasualtyStatus(entry), [...new Set(entry.weapons)].sort(), unique];
  const g: CellSums['g'] = {};
  for (const figures of contributionOf(entry).groups) g[figures.group] = [figures.events, figures.killed, figures.injured, figures.killed_not_reported, figures.injured_not_reported];
  return { facets, sums: Object.keys(g).length > 0 ? { n: 1, g } : { n: 1 }, contained: start >= `${month}-01` && end <= lastDayOf(month) };
}

/** `a` plus `sign` times `b`; groups that come to all zeros are dropped. */
export function addSums(a: CellSums, b: CellSums, sign: 1 | -1 = 1): CellSums {
  const g: CellSums['g'] = {};
  for (const group of CASUALTY_GROUPS) {
    const left = a.g?.[group];
    const right = b.g?.[group];
    if (!left && !right) continue;
    const sum = [0, 1, 2, 3, 4].map((i) => (left?.[i] ?? 0) + sign * (right?.[i] ?? 0)) as CellFigures;
    if (sum.some((figure) => figure !== 0)) g[group] = sum;
  }
  return Object.keys(g).length > 0 ? { n: a.n + sign * b.n, g } : { n: a.n + sign * b.n };
}

/** A year's cell for a fine cell: its days dropped when they lie within its month (`contained`). */
export function coarseFacets(facets: CellFacets, contained: boolean): CellFacets {
  if (!contained) return facets;
  const [month, , , ...rest] = facets;
  return [month, null, null, ...rest];
}

/** The keys of the years a filter can match records of: those whose span meets `since`/`until`. */
export function yearsInRange(directory: StatsDirectory, filter: Pick<EventFilter, 'since' | 'until'>): StatsYearRef[] {
  return directory.years.filter(([, , start, end]) => (!filter.since || end >= filter.since) && (!filter.until || start <= filter.until));
}

/** Where `since`/`until` put a whole month: wholly in, wholly out, or cut (some of its days in range). */
export function monthCut(month: string, filter: Pick<EventFilter, 'since' | 'until'>): 'in' | 'out' | 'cut' {
  const { since, until } = filter;
  const first = `${month}-01`;
  const last = lastDayOf(month);
  if ((since && last < since) || (until && first > until)) return 'out';
  return (since && first < since) || (until && last > until) ? 'cut' : 'in';
}

/**
 * Whether a cell's records match `filter` (without `q` and `bbox`). A year's
 * merged cell (no days) must not be in a month `since`/`until` cut: its
 * answer is in that month's fine cells.
 */
export function cellMatches(facets: CellFacets, filter: EventFilter): boolean {
  const [month, start, end] = facets;
  const { since, until } = filter;
  if (since || until) {
    if (start !== null && end !== null) {
      if (!intervalMatches(start, end, since, until, filter.date_match ?? 'overlap')) return false;
    } else {
      const cut = monthCut(month, filter);
      if (cut === 'cut') throw new Error(`a merged cell of ${month}, which the date range cuts`);
      if (cut === 'out') return false;
    }
  }
  return matchesFilter(entryOfCell(facets), { ...filter, since: undefined, until: undefined });
}

/** The months whose fine cells `statsFromCells` needs: those holding merged cells that `since`/`until` cut (at most two). */
export function monthsToRefine(years: readonly StatsYear[], filter: EventFilter): string[] {
  const months = new Set<string>();
  for (const year of years) for (const [facets] of year.cells) if (facets[1] === null && !months.has(facets[0]) && monthCut(facets[0], filter) === 'cut') months.add(facets[0]);
  return [...months];
}

/**
 * The stats of the records matching `filter` (without `q` and `bbox`), from
 * the years in range and the fine cells of the months in `monthsToRefine`.
 */
export function statsFromCells(years: readonly StatsYear[], months: ReadonlyMap<string, readonly Cell[]>, filter: EventFilter): EventStats {
  const picked: StatsContribution[] = [];
  const pick = ([facets, sums]: Cell): void => {
    if (cellMatches(facets, filter)) picked.push(contributionOfCell(facets, sums));
  };
  for (const year of years) for (const cell of year.cells) if (cell[0][1] !== null || !months.has(cell[0][0])) pick(cell);
  for (const cells of months.values()) for (const cell of cells) pick(cell);
  return summarizeContributions(picked);
}

/** A cell as a `summarize` contribution. */
function contributionOfCell(facets: CellFacets, sums: CellSums): StatsContribution {
  const [month, , , type, country, , status, , actors] = facets;
  const groups: GroupStats[] = CASUALTY_GROUPS.flatMap((group) => {
    const figures = sums.g?.[group];
    return figures ? [{ group, events: figures[0], killed: figures[1], injured: figures[2], killed_not_reported: figures[3], injured_not_reported: figures[4] }] : [];
  });
  return { month, type, country, status, actors: actors.map(([id, role, asWritten]) => ({ id, role, as_written: asWritten })), events: sums.n, groups };
}

/** An index entry with a cell's facets, for `matchesFilter`. */
function entryOfCell([month, start, end, type, country, precision, status, weapons, actors]: CellFacets): IndexEntry {
  return {
    k: '',
    id: '',
    rev: 0,
    date: `${month}-01`,
    date_start: start ?? `${month}-01`,
    date_end: end ?? lastDayOf(month),
    type,
    country,
    lat: 0,
    lon: 0,
    precision,
    actors: actors.map(([id, role, asWritten]) => (role === null ? asWritten : { id, role, as_written: asWritten })),
    weapons: weapons as Event['weapons'],
    killed: null,
    injured: null,
    has_casualties: status,
    updated_at: '',
    text: '',
  };
}

/** The last day of `month` (`YYYY-MM`). */
function lastDayOf(month: string): string {
  const days = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 0)).getUTCDate();
  return `${month}-${String(days).padStart(2, '0')}`;
}

/** Orders JSON values by their text, to give sets one canonical order. */
function compareJson(a: unknown, b: unknown): number {
  const [left, right] = [JSON.stringify(a), JSON.stringify(b)];
  return left < right ? -1 : left > right ? 1 : 0;
}
