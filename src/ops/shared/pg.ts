// A short-lived PostgreSQL connection for operations commands; the pg package is loaded only here.
// Connection settings come from libpq's variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ...).
import { ExitCode, WalNativeError } from "../../errors.js";

export class PostgresUnavailableError extends WalNativeError {
  constructor(message: string, cause?: unknown) {
    super(message, ExitCode.tempFailure, { cause, hint: "set PGHOST/PGPORT/PGUSER (a socket directory works as PGHOST) so that psql would connect" });
  }
}

export type Row = Record<string, unknown>;
export type Query = (sql: string) => Promise<Row[]>;

export interface PgOptions {
  readonly timeoutMs?: number;
}

export async function withPostgres<T>(body: (query: Query) => Promise<T>, options: PgOptions = {}): Promise<T> {
  const { default: pg } = await import("pg");
  const timeout = options.timeoutMs ?? 10_000;
  const client = new pg.Client({
    application_name: "wal-native",
    connectionTimeoutMillis: timeout,
    query_timeout: timeout,
    database: process.env.PGDATABASE || "postgres",
  });
  // An error event after connect (server restart) must not crash the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new PostgresUnavailableError(`cannot connect to PostgreSQL at ${describeTarget()}: ${(error as Error).message}`, error);
  }
  try {
    return await body(async (sql) => (await client.query(sql)).rows as Row[]);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function describeTarget(): string {
  const host = process.env.PGHOST || "localhost";
  return `${host}${process.env.PGPORT ? `:${process.env.PGPORT}` : ""}`;
}
