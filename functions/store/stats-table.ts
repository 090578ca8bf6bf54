/**
 * The `/stats` aggregates in the Coordinator's SQLite (see
 * domain/stats-cells.ts): each live record's cell and sums
 * (`stats_members`, so a change subtracts exactly what the record added),
 * the sums of every cell (`stats_cells`), the sums of every cell at the
 * grain of the year keys (`stats_coarse`, cells within their month merged
 * as `coarseFacets` merges them, kept with the fine ones so that a year's
 * value and the answer with no filter read a few cells a month, never
 * every day's), and the key each period (`dir`, a
 * year, a month) is published under at present, with the days a year's
 * records span (`stats_keys`).
 *
 * A write changes them in its own storage transaction: the old version's
 * sums leave its cell, the new version's join its cell; each period that
 * changed is named under a new key of the write's revision (the old key is
 * retired like a replaced chunk) and the directory with it, which the
 * manifest (and the index head) of that revision names. Values are made
 * from these tables when the publisher puts the key: a key is live only
 * while its period is unchanged, so the value is the one of its revision.
 *
 * Records stored before the aggregates existed are added by `buildSlice`, a
 * bounded slice of records in id order run from the alarm; until the build
 * is over no directory is named and `/stats` scans the index as before.
 * Writes during the build change the aggregates as usual: moving a record
 * into the cell it is in already changes nothing, so the build may meet
 * records written since it started.
 */
import type { IndexEntry } from '../domain/layout.ts';
import { ANSWER_PERIOD, addSums, cellOf, coarseFacets, periodOfStatsKey, statsFromCells, statsKey, type Cell, type CellFacets, type CellSums, type StatsDirectory, type StatsYear } from '../domain/stats-cells.ts';
import { encodeStatsYear } from '../domain/stats-year.ts';
import { readMeta, writeMeta } from './meta-table.ts';
import type { Publisher } from './publisher.ts';

/** The tables this module keeps. */
export const STATS_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS stats_members (id TEXT PRIMARY KEY, month TEXT NOT NULL, cell TEXT NOT NULL, sums TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS stats_cells (month TEXT NOT NULL, cell TEXT NOT NULL, sums TEXT NOT NULL, contained INTEGER NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL, PRIMARY KEY (month, cell))',
  'CREATE TABLE IF NOT EXISTS stats_keys (period TEXT PRIMARY KEY, key TEXT NOT NULL, start TEXT, end TEXT)',
  'CREATE TABLE IF NOT EXISTS stats_coarse (month TEXT NOT NULL, cell TEXT NOT NULL, sums TEXT NOT NULL, PRIMARY KEY (month, cell))',
];

/** Meta flag: `stats_coarse` holds the sums of `stats_cells` (set once they were summed for a store from before it). */
const COARSE_BUILT = 'stats_coarse_built';

/** Records one build slice adds. */
export const STATS_BUILD_SLICE = 1_000;

/** Meta key: the last record id the build added (absent before it started). */
const BUILD_CURSOR = 'stats_build_cursor';
/** Meta key: set once every record is in the aggregates. */
const READY = 'stats_ready';
/** Period name of the directory. */
const DIRECTORY = 'dir';
/** Periods renamed at every change of the aggregates: the directory, and the answer with no filter. */
const WHOLE_PERIODS = [DIRECTORY, ANSWER_PERIOD];

/**
 * Most coarse cells (those of the year keys) the answer with no filter is
 * published over: it is summed from all of them when it is put, so past
 * this (data whose records differ in facets almost one by one) it is not
 * published, and `/stats` with no filter sums the year keys as any other
 * request does.
 */
export const ANSWER_MAX_CELLS = 20_000;

/** One record's change, for the aggregates: its id and the index entry of its new version (null when it left the index). */
export interface StatsChange {
  id: string;
  entry: IndexEntry | null;
}

/** The stats aggregates of the dataset. */
export class StatsTable {
  constructor(
    private readonly sql: SqlStorage,
    private readonly answerMaxCells = ANSWER_MAX_CELLS,
  ) {
    this.sumCoarseOnce();
  }

  /** Sums `stats_cells` into `stats_coarse` once, for a store whose aggregates were kept before it. */
  private sumCoarseOnce(): void {
    if (readMeta(this.sql, COARSE_BUILT) !== null) return;
    this.sql.exec('DELETE FROM stats_coarse');
    for (const row of this.sql.exec<{ month: string; cell: string; sums: string; contained: number }>('SELECT month, cell, sums, contained FROM stats_cells').toArray()) {
      this.addToCoarse(row.month, JSON.parse(row.cell) as CellFacets, row.contained === 1, JSON.parse(row.sums) as CellSums, 1);
    }
    writeMeta(this.sql, COARSE_BUILT, '1');
  }

  /** Whether every record is in the aggregates (the directory may be named). */
  ready(): boolean {
    return readMeta(this.sql, READY) !== null;
  }

  /** Marks an empty store built: a new store keeps its aggregates from its first write. */
  readyIfEmpty(recordCount: number): void {
    if (!this.ready() && readMeta(this.sql, BUILD_CURSOR) === null && recordCount === 0) writeMeta(this.sql, READY, '1');
  }

  /** The key of the directory named now; null until the build is over. */
  directoryKey(): string | null {
    return this.ready() ? (this.keyOf(DIRECTORY) ?? null) : null;
  }

  /**
   * Applies one write's changes to the aggregates and, once built, names the periods
   * that changed under keys of `revision`, retiring their old keys. Returns
   * the directory key the manifest of `revision` names (null until built).
   * Call inside the write's storage transaction.
   */
  apply(changes: readonly StatsChange[], epoch: string, revision: number, publisher: Publisher, nowMs: number): string | null {
    const months = new Set<string>();
    for (const { id, entry } of changes) for (const month of this.move(id, entry)) months.add(month);
    if (!this.ready()) return null;
    if (months.size > 0 || this.keyOf(DIRECTORY) === undefined) this.rename(months, epoch, revision, publisher, nowMs);
    return this.keyOf(DIRECTORY)!;
  }

  /**
   * Adds the next STATS_BUILD_SLICE records (in id order) to the aggregates;
   * true when that was the last slice: every period is then named under keys
   * of `revision` (the caller makes that revision, whose manifest names the
   * directory). Call inside a storage transaction.
   */
  buildSlice(records: (after: string, limit: number) => { id: string; entry: IndexEntry }[], epoch: string, revision: number, publisher: Publisher, nowMs: number): boolean {
    const cursor = readMeta(this.sql, BUILD_CURSOR) ?? '';
    const slice = records(cursor, STATS_BUILD_SLICE);
    for (const { id, entry } of slice) this.move(id, entry);
    if (slice.length > 0) writeMeta(this.sql, BUILD_CURSOR, slice.at(-1)!.id);
    if (slice.length === STATS_BUILD_SLICE) return false;
    writeMeta(this.sql, READY, '1');
    const months = this.sql.exec<{ month: string }>('SELECT DISTINCT month FROM stats_cells').toArray().map((row) => row.month);
    this.rename(new Set(months), epoch, revision, publisher, nowMs);
    return true;
  }

  /** The value to publish under a stats key; null when the key is no longer its period's. */
  publishedValue(key: string): string | null {
    const period = periodOfStatsKey(key);
    if (this.keyOf(period) !== key) return null;
    if (period === DIRECTORY) return JSON.stringify(this.directory());
    if (period === ANSWER_PERIOD) return this.answer();
    if (period.length === 4) return JSON.stringify(encodeStatsYear(this.year(period), key));
    const cells = this.sql
      .exec<{ cell: string; sums: string }>('SELECT cell, sums FROM stats_cells WHERE month = ? AND contained = 1', period)
      .toArray()
      .map((row): Cell => [JSON.parse(row.cell) as CellFacets, JSON.parse(row.sums) as CellSums]);
    return JSON.stringify(cells);
  }

  /** Moves record `id` out of its current cell and into the cell of `entry` (none when null); the months whose cells changed. */
  private move(id: string, entry: IndexEntry | null): string[] {
    const before = this.sql.exec<{ month: string; cell: string; sums: string }>('SELECT month, cell, sums FROM stats_members WHERE id = ?', id).toArray()[0];
    const after = entry ? cellOf(entry) : null;
    const afterCell = after ? JSON.stringify(after.facets) : null;
    const afterSums = after ? JSON.stringify(after.sums) : null;
    if (before && after && before.cell === afterCell && before.sums === afterSums) return [];
    const months: string[] = [];
    if (before) {
      this.addToCell(before.month, before.cell, JSON.parse(before.sums) as CellSums, -1);
      this.sql.exec('DELETE FROM stats_members WHERE id = ?', id);
      months.push(before.month);
    }
    if (after) {
      const month = after.facets[0];
      this.addToCell(month, afterCell!, after.sums, 1, after.contained, after.facets);
      this.sql.exec('INSERT INTO stats_members (id, month, cell, sums) VALUES (?, ?, ?, ?)', id, month, afterCell, afterSums);
      months.push(month);
    }
    return months;
  }

  /** Adds `sums` (times `sign`) to a cell, creating it or dropping it when it comes to no record. */
  private addToCell(month: string, cell: string, sums: CellSums, sign: 1 | -1, contained = false, facets?: CellFacets): void {
    const row = this.sql.exec<{ sums: string; contained: number }>('SELECT sums, contained FROM stats_cells WHERE month = ? AND cell = ?', month, cell).toArray()[0];
    const total = addSums(row ? (JSON.parse(row.sums) as CellSums) : { n: 0 }, sums, sign);
    if (total.n === 0) this.sql.exec('DELETE FROM stats_cells WHERE month = ? AND cell = ?', month, cell);
    else if (row) this.sql.exec('UPDATE stats_cells SET sums = ? WHERE month = ? AND cell = ?', JSON.stringify(total), month, cell);
    else this.sql.exec('INSERT INTO stats_cells (month, cell, sums, contained, start, end) VALUES (?, ?, ?, ?, ?, ?)', month, cell, JSON.stringify(total), contained ? 1 : 0, facets![1]!, facets![2]!);
    this.addToCoarse(month, facets ?? (JSON.parse(cell) as CellFacets), row ? row.contained === 1 : contained, sums, sign);
  }

  /** Adds `sums` (times `sign`) to the coarse cell a fine cell of `facets` falls in, creating it or dropping it when it comes to no record. */
  private addToCoarse(month: string, facets: CellFacets, contained: boolean, sums: CellSums, sign: 1 | -1): void {
    const cell = JSON.stringify(coarseFacets(facets, contained));
    const row = this.sql.exec<{ sums: string }>('SELECT sums FROM stats_coarse WHERE month = ? AND cell = ?', month, cell).toArray()[0];
    const total = addSums(row ? (JSON.parse(row.sums) as CellSums) : { n: 0 }, sums, sign);
    if (total.n === 0) this.sql.exec('DELETE FROM stats_coarse WHERE month = ? AND cell = ?', month, cell);
    else this.sql.exec('INSERT INTO stats_coarse (month, cell, sums) VALUES (?, ?, ?) ON CONFLICT(month, cell) DO UPDATE SET sums = excluded.sums', month, cell, JSON.stringify(total));
  }

  /** Names `months`, their years, the directory and the answer with no filter under keys of `revision`; periods left empty lose their key. */
  private rename(months: ReadonlySet<string>, epoch: string, revision: number, publisher: Publisher, nowMs: number): void {
    const years = new Set([...months].map((month) => month.slice(0, 4)));
    for (const period of [...months, ...years, ...WHOLE_PERIODS]) {
      const old = this.keyOf(period);
      if (old !== undefined) publisher.retire(old, nowMs);
      const span = WHOLE_PERIODS.includes(period) ? { n: 1, start: null, end: null } : this.sql.exec<{ n: number; start: string | null; end: string | null }>('SELECT COUNT(*) AS n, MIN(start) AS start, MAX(end) AS end FROM stats_cells WHERE month >= ? AND month <= ?', ...monthsOf(period)).one();
      if (span.n === 0) {
        this.sql.exec('DELETE FROM stats_keys WHERE period = ?', period);
        continue;
      }
      const key = statsKey(epoch, revision, period);
      this.sql.exec('INSERT INTO stats_keys (period, key, start, end) VALUES (?, ?, ?, ?) ON CONFLICT(period) DO UPDATE SET key = excluded.key, start = excluded.start, end = excluded.end', period, key, span.start, span.end);
      publisher.enqueue(key);
    }
  }

  /**
   * The body of `/stats` with no filter, `{ data }` as the route writes it:
   * every year's cells summed as `readStats` sums them; null past
   * `answerMaxCells` cells (readers then sum the year keys).
   */
  private answer(): string | null {
    const cells = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM (SELECT 1 FROM stats_coarse LIMIT ?)', this.answerMaxCells + 1).one().n;
    if (cells > this.answerMaxCells) return null;
    const years = this.directory().years.map(([year]) => this.year(year));
    return JSON.stringify({ data: statsFromCells(years, new Map(), {}) });
  }

  /** The directory: every year with records, its key and the days its records span. */
  private directory(): StatsDirectory {
    const years = this.sql.exec<{ period: string; key: string; start: string; end: string }>('SELECT period, key, start, end FROM stats_keys WHERE length(period) = 4 ORDER BY period').toArray();
    return { years: years.map(({ period, key, start, end }) => [period, key, start, end]) };
  }

  /** A year's value: its cells, merged within their months where their days allow, and its months' keys. */
  private year(year: string): StatsYear {
    const cells = this.sql
      .exec<{ cell: string; sums: string }>('SELECT cell, sums FROM stats_coarse WHERE month >= ? AND month <= ?', ...monthsOf(year))
      .toArray()
      .map((row): Cell => [JSON.parse(row.cell) as CellFacets, JSON.parse(row.sums) as CellSums]);
    const months: Record<string, string> = {};
    for (const row of this.sql.exec<{ period: string; key: string }>('SELECT period, key FROM stats_keys WHERE period >= ? AND period <= ? AND length(period) = 7', ...monthsOf(year))) months[row.period] = row.key;
    return { months, cells };
  }

  /** The key period `period` (`dir`, a year or a month) is published under now, if any. */
  private keyOf(period: string): string | undefined {
    return this.sql.exec<{ key: string }>('SELECT key FROM stats_keys WHERE period = ?', period).toArray()[0]?.key;
  }
}

/** The first and last month (`YYYY-MM`) of a year or a month. */
const monthsOf = (period: string): [string, string] => (period.length === 4 ? [`${period}-01`, `${period}-12`] : [period, period]);
