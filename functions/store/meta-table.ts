/**
 * Small named values in the Coordinator's SQLite (`meta` table): the storage
 * epoch, the current manifest, publishing state and counters; and the
 * column migration other tables use.
 */

/** The table's definition. */
export const META_SCHEMA = ['CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)'];

/** The value stored under `key`, or null. */
export function readMeta(sql: SqlStorage, key: string): string | null {
  return sql.exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]?.value ?? null;
}

/** Stores `value` under `key`; null removes it. */
export function writeMeta(sql: SqlStorage, key: string, value: string | null): void {
  if (value === null) sql.exec('DELETE FROM meta WHERE key = ?', key);
  else sql.exec('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value', key, value);
}

/** A numeric value (0 when absent). */
export function readCounter(sql: SqlStorage, key: string): number {
  return Number(readMeta(sql, key) ?? 0);
}

/** Adds `by` to a numeric value, in one statement (it runs for every key a write queues). */
export function addToCounter(sql: SqlStorage, key: string, by: number): void {
  if (by !== 0) sql.exec("INSERT INTO meta (key, value) VALUES (?, CAST(? AS TEXT)) ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT)", key, by, by);
}

/** Adds the columns a table created by an earlier version lacks (`columns`: name → SQL definition). */
export function addMissingColumns(sql: SqlStorage, table: string, columns: Record<string, string>): void {
  const present = new Set(sql.exec<{ name: string }>(`PRAGMA table_info(${table})`).toArray().map((row) => row.name));
  for (const [name, definition] of Object.entries(columns)) if (!present.has(name)) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${definition}`);
}
