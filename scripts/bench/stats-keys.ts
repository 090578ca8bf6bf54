/**
 * The `/stats` aggregates of a synthetic store for `npm run bench:cpu`,
 * built by the Coordinator's own code (store/stats-table.ts) over Node's
 * SQLite instead of a Durable Object's: every record added in one write,
 * then every stats key the write names published with the value the
 * Coordinator would put (directory, years, months, and the answer with no
 * filter). Only for the benchmark; never deployed. The database is passed
 * in (Node's `DatabaseSync`): this module is type-checked with the Worker's
 * types, which know SqlStorage but not Node's modules.
 */
import type { IndexEntry } from '../../functions/domain/layout.ts';
import { META_SCHEMA } from '../../functions/store/meta-table.ts';
import type { Publisher } from '../../functions/store/publisher.ts';
import { STATS_SCHEMA, StatsTable } from '../../functions/store/stats-table.ts';

/** A cursor as the Coordinator's SqlStorage gives one, over rows already read. */
function cursorOf(rows: Record<string, SqlStorageValue>[], rowsWritten: number): SqlStorageCursor<Record<string, SqlStorageValue>> {
  return Object.assign(rows[Symbol.iterator](), {
    toArray: () => rows,
    one: () => {
      if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
      return rows[0]!;
    },
    rowsRead: rows.length,
    rowsWritten,
    columnNames: rows[0] ? Object.keys(rows[0]) : [],
    raw: () => rows.map((row) => Object.values(row))[Symbol.iterator](),
  }) as unknown as SqlStorageCursor<Record<string, SqlStorageValue>>;
}

/** What this module uses of a Node `DatabaseSync` (node:sqlite). */
export interface SqliteDatabase {
  prepare(query: string): SqliteStatement;
}

/** What this module uses of a Node `StatementSync`. */
interface SqliteStatement {
  all(...bindings: (string | number | null)[]): unknown[];
  run(...bindings: (string | number | null)[]): { changes: number | bigint };
}

/** Durable Objects' `SqlStorage.exec` over a Node SQLite database (statements prepared once). */
function sqlStorageOver(db: SqliteDatabase): SqlStorage {
  const statements = new Map<string, SqliteStatement>();
  const exec = (query: string, ...bindings: (string | number | null)[]) => {
    let statement = statements.get(query);
    if (statement === undefined) statements.set(query, (statement = db.prepare(query)));
    if (/^\s*(SELECT|WITH)\b/i.test(query) || /\bRETURNING\b/i.test(query)) return cursorOf(statement.all(...bindings) as Record<string, SqlStorageValue>[], 0);
    return cursorOf([], Number(statement.run(...bindings).changes));
  };
  return { exec } as unknown as SqlStorage;
}

/** Records added to the aggregates in one `apply` (the entries of a million records would not all fit in memory at once). */
const BATCH = 10_000;

/**
 * Builds the stats keys of a store written at `revision` of `epoch` in an
 * empty database `db`: `add`
 * each record's index entry, then `finish` gives the keys with their
 * values and the directory key the head names.
 */
export function statsKeysBuilder(db: SqliteDatabase, epoch: string, revision: number): { add(id: string, entry: IndexEntry): void; finish(): { directory: string; values: [string, string][] } } {
  const sql = sqlStorageOver(db);
  for (const statement of [...META_SCHEMA, ...STATS_SCHEMA]) sql.exec(statement);
  const stats = new StatsTable(sql);
  stats.readyIfEmpty(0);
  const queued = new Set<string>();
  const publisher = { enqueue: (key: string) => queued.add(key), retire: (key: string) => queued.delete(key) } as unknown as Publisher;
  let batch: { id: string; entry: IndexEntry }[] = [];
  let directory: string | null = null;
  const flush = () => {
    directory = stats.apply(batch, epoch, revision, publisher, 0);
    batch = [];
  };
  return {
    add(id, entry) {
      batch.push({ id, entry });
      if (batch.length === BATCH) flush();
    },
    finish() {
      if (batch.length > 0 || directory === null) flush();
      const values = [...queued].flatMap((key): [string, string][] => {
        const value = stats.publishedValue(key);
        return value === null ? [] : [[key, value]];
      });
      return { directory: directory!, values };
    },
  };
}
