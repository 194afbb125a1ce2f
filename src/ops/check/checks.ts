// wal-native check: is the archive healthy? PostgreSQL's archiving settings, storage reachability and
// usage, newest backup age, archiver status from pg_stat_archiver, the .ready backlog it hides, the local
// archive's size, and (--switch) the proof that a segment PostgreSQL finishes now reaches storage intact.
import type { Config } from "../../config.js";
import { BACKUP_FOLDER, type Storage, WAL_FOLDER } from "../../storage/storage.js";
import { type BackupEntry, backupCompletedAt, backupEntryOf } from "../shared/backups.js";
import { bucketNameProblem } from "../shared/bucket-name.js";
import { readBacklog } from "./ready-backlog.js";
import { readLocalUsage } from "../../local-archive/usage.js";
import { formatAge, formatBytes } from "../../format.js";
import type { Query } from "../shared/pg.js";
import { SETTINGS_SQL, type ArchiveSettings, judgeSettings, settingsFromRow } from "./settings.js";
import { type FolderUsage, UsageTally, type WalUsage } from "./usage.js";
import type { SwitchOutcome } from "./switch.js";
import { CHECKS, type Finding, LEVEL_VALUE, type Level } from "./finding.js";

export { CHECKS, type Finding, LEVEL_VALUE, type Level } from "./finding.js";

export interface CheckOptions {
  readonly maxArchiveAgeMs: number;
  readonly maxBackupAgeMs: number;
  readonly maxReadyAgeMs: number;
  /** PGDATA for the .ready backlog; the server's data_directory is tried when unset. */
  readonly dataDir?: string;
  /** Connects with libpq's PG* variables; undefined skips the archiver and backlog checks. */
  readonly postgres?: <T>(body: (query: Query) => Promise<T>) => Promise<T>;
  readonly localArchiveMaxBytes?: number;
  /** --switch: force a WAL switch and wait this long for the segment to be archived and verified. */
  readonly switchTimeoutMs?: number;
  /** false: skip the listing of wal_005/ (a large archive takes a LIST request per 1000 objects). */
  readonly walUsage?: boolean;
}

/** What check found beyond pass/fail, for JSON: the settings it read, the storage usage, the switch. */
export interface CheckDetails {
  settings?: ArchiveSettings;
  usage?: { wal?: WalUsage; backups: FolderUsage };
  switch?: { segment?: string; ok: boolean };
}

export interface CheckReport {
  readonly status: Level;
  readonly checkedAt: Date;
  readonly findings: Finding[];
  /** Prometheus-style metric names (without the walnative_ prefix) to values; only what was measured. */
  readonly metrics: Record<string, number>;
  readonly details: CheckDetails;
}

interface ArchiverRow {
  archived_count: string;
  last_archived_wal: string | null;
  last_archived: number | null;
  failed_count: string;
  last_failed_wal: string | null;
  last_failed: number | null;
  now: number;
  in_recovery: boolean;
}

export async function runChecks(config: Config, openStorage: () => Promise<Storage>, options: CheckOptions): Promise<CheckReport> {
  const checkedAt = new Date();
  const findings: Finding[] = [];
  const metrics: Record<string, number> = {};
  const details: CheckDetails = {};
  let opened: Promise<Storage> | undefined;
  const storage = (): Promise<Storage> => (opened ??= openStorage());
  // The switch first, so that the storage usage and the archiver's statistics below already include its segment.
  if (options.postgres) {
    await checkPostgres(options.postgres, config, storage, options, checkedAt, findings, metrics, details);
  }
  const listed = await checkStorage(storage, config, options, findings, metrics, details);
  if (listed) await checkBackups(listed.storage, listed.backups, checkedAt, options, findings, metrics);
  await checkLocalArchive(config, options, findings, metrics);
  const status = findings.reduce<Level>((worst, f) => (LEVEL_VALUE[f.status] > LEVEL_VALUE[worst] ? f.status : worst), "ok");
  metrics.check_timestamp_seconds = Math.floor(checkedAt.getTime() / 1000);
  const ordered = [...findings].sort((a, b) => CHECKS.indexOf(a.check) - CHECKS.indexOf(b.check));
  return { status, checkedAt, findings: ordered, metrics, details };
}

/**
 * One listing of basebackups_005/ gives both the backups (their sentinels) and the bytes they take; wal_005/ is
 * listed for its usage unless told not to.
 */
async function checkStorage(
  open: () => Promise<Storage>,
  config: Config,
  options: CheckOptions,
  findings: Finding[],
  metrics: Record<string, number>,
  details: CheckDetails,
): Promise<{ storage: Storage; backups: BackupEntry[] } | undefined> {
  const started = performance.now();
  let storage: Storage | undefined;
  const backups: BackupEntry[] = [];
  const backupTally = new UsageTally(BACKUP_FOLDER);
  try {
    storage = await open();
    for await (const object of storage.list(BACKUP_FOLDER)) {
      backupTally.add(object);
      const backup = backupEntryOf(object);
      if (backup) backups.push(backup);
    }
  } catch (error) {
    metrics.storage_up = 0;
    // S3 answers a malformed bucket name with a bare 400, which reads like a credentials problem.
    const name = config.storage.kind === "s3" ? config.storage.bucket : undefined;
    const problem = name === undefined ? undefined : bucketNameProblem(name);
    const why = problem ? `; '${name}' is not a valid bucket name: ${problem}` : "";
    findings.push({ check: "storage", status: "critical", message: `cannot reach ${storage?.label ?? "the storage"}: ${(error as Error).message}${why}` });
    return undefined;
  }
  const ms = performance.now() - started;
  metrics.storage_up = 1;
  metrics.storage_list_seconds = ms / 1000;
  findings.push({ check: "storage", status: "ok", message: `${storage.label} reachable (listing took ${Math.round(ms)} ms)` });
  backups.sort((a, b) => a.modified.getTime() - b.modified.getTime());

  const backupUsage = backupTally.result();
  metrics.storage_backup_objects = backupUsage.objects;
  metrics.storage_backup_bytes = backupUsage.bytes;
  details.usage = { backups: { objects: backupUsage.objects, bytes: backupUsage.bytes } };
  const backupText = `${BACKUP_FOLDER} ${plural(backupUsage.objects, "object")}, ${formatBytes(backupUsage.bytes)}`;
  if (options.walUsage === false) {
    findings.push({ check: "usage", status: "ok", message: `${backupText} (${WAL_FOLDER} not counted: --no-wal-usage)` });
    return { storage, backups };
  }
  try {
    const walTally = new UsageTally(WAL_FOLDER);
    for await (const object of storage.list(WAL_FOLDER)) walTally.add(object);
    const wal = walTally.result();
    details.usage.wal = wal;
    metrics.storage_wal_objects = wal.objects;
    metrics.storage_wal_bytes = wal.bytes;
    const range = wal.oldest && wal.newest ? `, segments ${wal.oldest.name} to ${wal.newest.name}` : ", no WAL segment yet";
    if (wal.newest?.lastModified) metrics.storage_wal_newest_timestamp_seconds = Math.floor(wal.newest.lastModified.getTime() / 1000);
    if (wal.oldest?.lastModified) metrics.storage_wal_oldest_timestamp_seconds = Math.floor(wal.oldest.lastModified.getTime() / 1000);
    findings.push({ check: "usage", status: "ok", message: `${WAL_FOLDER} ${plural(wal.objects, "object")}, ${formatBytes(wal.bytes)}${range}; ${backupText}` });
  } catch (error) {
    findings.push({ check: "usage", status: "warning", message: `cannot list ${WAL_FOLDER}: ${(error as Error).message}` });
  }
  return { storage, backups };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
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
    // A warning, not a failure: right after set-up archiving works before the first backup exists, and that is
    // the moment to prove it (check --switch). Until then there is nothing to restore from.
    findings.push({ check: "backups", status: "warning", message: `no base backup in ${storage.label} yet: nothing to restore from until one exists (wal-g backup-push --full)` });
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

async function checkPostgres(
  postgres: NonNullable<CheckOptions["postgres"]>,
  config: Config,
  storage: () => Promise<Storage>,
  options: CheckOptions,
  now: Date,
  findings: Finding[],
  metrics: Record<string, number>,
  details: CheckDetails,
): Promise<void> {
  let row: ArchiverRow;
  let serverDataDir: string | undefined;
  let settings: ArchiveSettings;
  try {
    [settings, row, serverDataDir] = await postgres(async (query) => {
      const settingsNow = settingsFromRow((await query(SETTINGS_SQL))[0] ?? {});
      // Needs superuser or pg_read_all_settings; without it the backlog needs --pgdata.
      const dataDir = await query("select current_setting('data_directory') as dir").then((rows) => String(rows[0]?.dir), () => undefined);
      if (options.switchTimeoutMs !== undefined) {
        const outcome = await switchIfPossible(query, settingsNow, config, storage, { timeoutMs: options.switchTimeoutMs, dataDir: options.dataDir ?? dataDir });
        findings.push(outcome.finding);
        Object.assign(metrics, outcome.metrics);
        details.switch = { segment: outcome.segment, ok: outcome.finding.status === "ok" };
      }
      return [settingsNow, (await query(ARCHIVER_SQL))[0] as unknown as ArchiverRow, dataDir] as const;
    });
  } catch (error) {
    metrics.postgres_up = 0;
    findings.push({ check: "archiver", status: "critical", message: (error as Error).message });
    return;
  }
  metrics.postgres_up = 1;
  details.settings = settings;
  findings.push(...judgeSettings(settings));
  metrics.archive_timeout_seconds = settings.archiveTimeoutSeconds;
  metrics.archiver_archived_count = Number(row.archived_count);
  metrics.archiver_failed_count = Number(row.failed_count);
  const failing = row.last_failed !== null && (row.last_archived === null || row.last_failed > row.last_archived);
  metrics.archiver_failing = failing ? 1 : 0;
  if (row.last_archived !== null) metrics.archiver_last_archive_age_seconds = Math.max(0, row.now - row.last_archived);
  if (row.last_failed !== null) metrics.archiver_last_failure_age_seconds = Math.max(0, row.now - row.last_failed);
  findings.push(archiverFinding(row, settings, failing, options));
  await checkBacklog(options.dataDir ?? serverDataDir, failing, now, options, findings, metrics);
}

/** The switch proves nothing while the settings make archiving impossible: say so instead of waiting for the timeout. */
async function switchIfPossible(
  query: Query, settings: ArchiveSettings, config: Config, storage: () => Promise<Storage>, switchOptions: { timeoutMs: number; dataDir?: string },
): Promise<SwitchOutcome> {
  const blocking = judgeSettings(settings).find((finding) => finding.status === "critical");
  if (blocking) return { finding: { check: "switch", status: "critical", message: `not attempted: ${blocking.message}` }, metrics: { switch_ok: 0 } };
  let opened: Storage;
  try {
    opened = await storage();
  } catch (error) {
    return { finding: { check: "switch", status: "critical", message: `not attempted: ${(error as Error).message}` }, metrics: { switch_ok: 0 } };
  }
  const { proveArchiving } = await import("./switch.js");
  try {
    return await proveArchiving(query, opened, config, switchOptions);
  } catch (error) {
    return { finding: { check: "switch", status: "critical", message: (error as Error).message }, metrics: { switch_ok: 0 } };
  }
}

const ARCHIVER_SQL = `select archived_count, last_archived_wal, extract(epoch from last_archived_time)::float8 as last_archived,
  failed_count, last_failed_wal, extract(epoch from last_failed_time)::float8 as last_failed,
  extract(epoch from now())::float8 as now, pg_is_in_recovery() as in_recovery
  from pg_stat_archiver`;

function archiverFinding(row: ArchiverRow, settings: ArchiveSettings, failing: boolean, options: CheckOptions): Finding {
  // The settings line says why (critical); the statistics of an archiver that does not run mean nothing.
  if (settings.archiveMode === "off") return { check: "archiver", status: "ok", message: "not running (archive_mode = off, see settings)" };
  if (row.in_recovery && settings.archiveMode !== "always") {
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
