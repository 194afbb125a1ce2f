// wal-native check: is the archive healthy? Storage reachability, newest backup age, archiver status
// from pg_stat_archiver, the .ready backlog it hides, and the local archive's size.
import type { Config } from "../../config.js";
import type { Storage } from "../../storage/storage.js";
import { type BackupEntry, backupCompletedAt, listBackups } from "../shared/backups.js";
import { formatAge } from "../shared/flags.js";
import { readBacklog } from "./ready-backlog.js";
import { readLocalUsage } from "../../local-archive/usage.js";
import { formatBytes } from "../../log.js";
import type { Query } from "../shared/pg.js";

export type Level = "ok" | "warning" | "critical";
export const LEVEL_VALUE: Record<Level, number> = { ok: 0, warning: 1, critical: 2 };

export interface Finding {
  readonly check: "storage" | "backups" | "archiver" | "backlog" | "local archive";
  readonly status: Level;
  readonly message: string;
}

export interface CheckOptions {
  readonly maxArchiveAgeMs: number;
  readonly maxBackupAgeMs: number;
  readonly maxReadyAgeMs: number;
  /** PGDATA for the .ready backlog; the server's data_directory is tried when unset. */
  readonly dataDir?: string;
  /** Connects with libpq's PG* variables; undefined skips the archiver and backlog checks. */
  readonly postgres?: <T>(body: (query: Query) => Promise<T>) => Promise<T>;
  readonly localArchiveMaxBytes?: number;
}

export interface CheckReport {
  readonly status: Level;
  readonly checkedAt: Date;
  readonly findings: Finding[];
  /** Prometheus-style metric names (without the walnative_ prefix) to values; only what was measured. */
  readonly metrics: Record<string, number>;
}

interface ArchiverRow {
  archived_count: string;
  last_archived_wal: string | null;
  last_archived: number | null;
  failed_count: string;
  last_failed_wal: string | null;
  last_failed: number | null;
  now: number;
  archive_mode: string;
  in_recovery: boolean;
}

export async function runChecks(config: Config, openStorage: () => Promise<Storage>, options: CheckOptions): Promise<CheckReport> {
  const checkedAt = new Date();
  const findings: Finding[] = [];
  const metrics: Record<string, number> = {};
  const storage = await checkStorage(openStorage, findings, metrics);
  if (storage) await checkBackups(storage.storage, storage.backups, checkedAt, options, findings, metrics);
  if (options.postgres) await checkArchiver(options.postgres, options, checkedAt, findings, metrics);
  await checkLocalArchive(config, options, findings, metrics);
  const status = findings.reduce<Level>((worst, f) => (LEVEL_VALUE[f.status] > LEVEL_VALUE[worst] ? f.status : worst), "ok");
  metrics.check_timestamp_seconds = Math.floor(checkedAt.getTime() / 1000);
  return { status, checkedAt, findings, metrics };
}

async function checkStorage(
  open: () => Promise<Storage>,
  findings: Finding[],
  metrics: Record<string, number>,
): Promise<{ storage: Storage; backups: BackupEntry[] } | undefined> {
  const started = performance.now();
  let storage: Storage | undefined;
  try {
    storage = await open();
    const backups = await listBackups(storage);
    const ms = performance.now() - started;
    metrics.storage_up = 1;
    metrics.storage_list_seconds = ms / 1000;
    findings.push({ check: "storage", status: "ok", message: `${storage.label} reachable (listing took ${Math.round(ms)} ms)` });
    return { storage, backups };
  } catch (error) {
    metrics.storage_up = 0;
    findings.push({ check: "storage", status: "critical", message: `cannot reach ${storage?.label ?? "the storage"}: ${(error as Error).message}` });
    return undefined;
  }
}

/** Age from the sentinel's FinishTime (see backupCompletedAt for why not LastModified). */
async function checkBackups(
  storage: Storage,
  backups: readonly BackupEntry[],
  now: Date,
  options: CheckOptions,
  findings: Finding[],
  metrics: Record<string, number>,
): Promise<void> {
  metrics.backup_count = backups.length;
  if (backups.length === 0) {
    findings.push({ check: "backups", status: "critical", message: `no backups in ${storage.label}: nothing to restore from (run wal-g backup-push)` });
    return;
  }
  let newest: { name: string; at: Date; source: string } | undefined;
  for (const backup of backups) {
    const completed = await backupCompletedAt(storage, backup);
    if (!newest || completed.at > newest.at) newest = { name: backup.name, ...completed };
  }
  if (!newest) return;
  const age = now.getTime() - newest.at.getTime();
  metrics.last_backup_age_seconds = Math.max(0, age / 1000);
  metrics.last_backup_timestamp_seconds = newest.at.getTime() / 1000;
  const text = `newest of ${backups.length} backup${backups.length > 1 ? "s" : ""} is ${newest.name}, completed ${formatAge(age)} ago (${newest.source})`;
  const late = age > options.maxBackupAgeMs;
  findings.push({ check: "backups", status: late ? "warning" : "ok", message: late ? `${text}: older than ${formatAge(options.maxBackupAgeMs)}` : text });
}

async function checkArchiver(
  postgres: NonNullable<CheckOptions["postgres"]>,
  options: CheckOptions,
  now: Date,
  findings: Finding[],
  metrics: Record<string, number>,
): Promise<void> {
  let row: ArchiverRow;
  let serverDataDir: string | undefined;
  try {
    [row, serverDataDir] = await postgres(async (query) => [
      (await query(ARCHIVER_SQL))[0] as unknown as ArchiverRow,
      // Needs superuser or pg_read_all_settings; without it the backlog needs --pgdata.
      await query("select current_setting('data_directory') as dir").then((rows) => String(rows[0]?.dir), () => undefined),
    ]);
  } catch (error) {
    metrics.postgres_up = 0;
    findings.push({ check: "archiver", status: "critical", message: (error as Error).message });
    return;
  }
  metrics.postgres_up = 1;
  metrics.archiver_archived_count = Number(row.archived_count);
  metrics.archiver_failed_count = Number(row.failed_count);
  const failing = row.last_failed !== null && (row.last_archived === null || row.last_failed > row.last_archived);
  metrics.archiver_failing = failing ? 1 : 0;
  if (row.last_archived !== null) metrics.archiver_last_archive_age_seconds = Math.max(0, row.now - row.last_archived);
  if (row.last_failed !== null) metrics.archiver_last_failure_age_seconds = Math.max(0, row.now - row.last_failed);
  findings.push(archiverFinding(row, failing, options));
  await checkBacklog(options.dataDir ?? serverDataDir, failing, now, options, findings, metrics);
}

const ARCHIVER_SQL = `select archived_count, last_archived_wal, extract(epoch from last_archived_time)::float8 as last_archived,
  failed_count, last_failed_wal, extract(epoch from last_failed_time)::float8 as last_failed,
  extract(epoch from now())::float8 as now, current_setting('archive_mode') as archive_mode, pg_is_in_recovery() as in_recovery
  from pg_stat_archiver`;

function archiverFinding(row: ArchiverRow, failing: boolean, options: CheckOptions): Finding {
  if (row.archive_mode === "off") return { check: "archiver", status: "critical", message: "archive_mode is off: no WAL is archived" };
  if (row.in_recovery && row.archive_mode !== "always") {
    return { check: "archiver", status: "ok", message: "standby: archive_mode=on archives only after promotion" };
  }
  const last = row.last_archived === null ? "nothing archived since the statistics were reset"
    : `last archived ${row.last_archived_wal} ${formatAge((row.now - row.last_archived) * 1000)} ago`;
  const counts = `${row.archived_count} archived, ${row.failed_count} failed`;
  if (failing) {
    const failure = `${row.last_failed_wal} ${formatAge((row.now - (row.last_failed ?? row.now)) * 1000)} ago`;
    return { check: "archiver", status: "warning", message: `archive_command is failing: last failure ${failure}; ${last} (${counts})` };
  }
  if (row.last_archived !== null && (row.now - row.last_archived) * 1000 > options.maxArchiveAgeMs) {
    return { check: "archiver", status: "warning", message: `${last}: longer than ${formatAge(options.maxArchiveAgeMs)} (${counts})` };
  }
  return { check: "archiver", status: "ok", message: `${last} (${counts})` };
}

async function checkBacklog(
  dataDir: string | undefined,
  failing: boolean,
  now: Date,
  options: CheckOptions,
  findings: Finding[],
  metrics: Record<string, number>,
): Promise<void> {
  if (!dataDir) {
    findings.push({ check: "backlog", status: "warning", message: "unknown: give --pgdata or set PGDATA (the server did not tell its data_directory)" });
    return;
  }
  let backlog;
  try {
    backlog = await readBacklog(dataDir);
  } catch (error) {
    findings.push({ check: "backlog", status: "warning", message: `cannot read ${dataDir}/pg_wal/archive_status: ${(error as Error).message}` });
    return;
  }
  metrics.wal_ready_files = backlog.count;
  const age = backlog.oldestSince ? Math.max(0, now.getTime() - backlog.oldestSince.getTime()) : 0;
  metrics.wal_oldest_ready_age_seconds = age / 1000;
  if (backlog.count === 0) return void findings.push({ check: "backlog", status: "ok", message: "no WAL files waiting to be archived" });
  const waiting = `${backlog.count} WAL file${backlog.count > 1 ? "s" : ""} waiting in pg_wal, oldest ${backlog.oldestName} for ${formatAge(age)}`;
  if (failing) {
    findings.push({ check: "backlog", status: "critical", message: `archiving stalled: ${waiting}; pg_wal grows until archive_command succeeds` });
  } else if (age > options.maxReadyAgeMs) {
    findings.push({ check: "backlog", status: "critical", message: `${waiting}: longer than ${formatAge(options.maxReadyAgeMs)}; is archive_command hanging?` });
  } else {
    findings.push({ check: "backlog", status: "ok", message: waiting });
  }
}

async function checkLocalArchive(config: Config, options: CheckOptions, findings: Finding[], metrics: Record<string, number>): Promise<void> {
  const dir = config.localArchiveDir;
  if (!dir) return void findings.push({ check: "local archive", status: "ok", message: "switched off" });
  try {
    const usage = await readLocalUsage(dir);
    metrics.local_archive_bytes = usage.bytes;
    metrics.local_archive_files = usage.files.length;
    const text = `${usage.files.length} files, ${formatBytes(usage.bytes)} in ${dir}`;
    const over = options.localArchiveMaxBytes !== undefined && usage.bytes > options.localArchiveMaxBytes;
    findings.push({
      check: "local archive",
      status: over ? "warning" : "ok",
      message: over ? `${text}: over the ${formatBytes(options.localArchiveMaxBytes ?? 0)} limit; run wal-native cache prune` : text,
    });
  } catch (error) {
    findings.push({ check: "local archive", status: "warning", message: `cannot read ${dir}: ${(error as Error).message}` });
  }
}
