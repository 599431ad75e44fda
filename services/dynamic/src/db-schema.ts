import type { Generated } from 'kysely';

/**
 * The tables of the stock database as Kysely sees them (infra/db/migrations holds the DDL, one
 * file per dialect). Column names are the database's; the API renames them to camelCase.
 */
export interface InfoTable {
  id: Generated<number>;
  code: string;
  short_name: string;
  change_pct: number;
  turnover_pct: number;
  price: number;
  high: number;
  /** YYYY-MM-DD (text in SQLite, DATE read as a string from MariaDB). */
  date: string;
}

export interface FocusTable {
  id: Generated<number>;
  info_id: number;
  note: string;
  /** ISO-8601 timestamps, stored as text so that both dialects read them alike. */
  created_at: string;
  updated_at: string;
}

export interface SchemaMigrationsTable {
  version: string;
  applied_at: string;
}

export interface StockDatabase {
  info: InfoTable;
  focus: FocusTable;
  schema_migrations: SchemaMigrationsTable;
}

export type Dialect = 'sqlite' | 'mysql';
