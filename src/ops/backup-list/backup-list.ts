// wal-native backup-list: the backups in basebackups_005/ with wal-g's columns, --detail and --json.
import type { Storage } from "../../storage/storage.js";
import type { Logger } from "../../log.js";
import { type BackupEntry, type BackupMetadata, listBackups, readBackupMetadata } from "../shared/backups.js";
import { formatLsn, goJsonTime, goRfc3339, tabwriter } from "../shared/go-format.js";
import { stringifyJson } from "../shared/json.js";

export interface BackupListOptions {
  readonly detail: boolean;
  readonly json: boolean;
  readonly pretty: boolean;
}

/** wal-g's single storage is reported as "default" (walg-compat.md 1.1). */
const STORAGE_NAME = "default";

interface Row {
  readonly backup: BackupEntry;
  readonly meta?: BackupMetadata;
}

/** Returns what to print on stdout (empty when there is nothing and the output is text). */
export async function backupList(storage: Storage, options: BackupListOptions, log: Logger): Promise<string> {
  const backups = await listBackups(storage);
  if (backups.length === 0) {
    if (!options.json) log.info(`no backups found in ${storage.label}`);
    return options.json ? "[]\n" : "";
  }
  let rows: Row[] = backups.map((backup) => ({ backup }));
  if (options.detail) {
    rows = await Promise.all(backups.map(async (backup) => ({ backup, meta: await readBackupMetadata(storage, backup) })));
    rows = sortLikeWalg(rows);
  }
  if (options.json) return `${stringifyJson(rows.map((row) => jsonRow(row, options.detail)), options.pretty ? "    " : "")}\n`;
  const header = ["backup_name", "modified", "wal_file_name", "storage_name"];
  if (options.detail) header.push("start_time", "finish_time", "hostname", "data_dir", "pg_version", "start_lsn", "finish_lsn", "is_permanent");
  return tabwriter([header, ...rows.map((row) => textRow(row, options.detail))]);
}

/** wal-g sorts --detail by start_time, unless a backup lacks metadata: then by modification time. */
function sortLikeWalg(rows: Row[]): Row[] {
  const byStart = rows.every((row) => row.meta?.startTime !== undefined);
  const key = (row: Row): number => (byStart ? Date.parse(row.meta?.startTime ?? "") : row.backup.modified.getTime());
  return [...rows].sort((a, b) => key(a) - key(b));
}

function textRow({ backup, meta }: Row, detail: boolean): string[] {
  const row = [backup.name, goRfc3339(backup.modified), backup.walFileName, STORAGE_NAME];
  if (!detail) return row;
  return [
    ...row,
    goRfc3339(meta?.startTime),
    goRfc3339(meta?.finishTime),
    meta?.hostname ?? "",
    meta?.dataDir ?? "",
    String(meta?.pgVersion ?? 0),
    formatLsn(meta?.startLsn ?? 0n),
    formatLsn(meta?.finishLsn ?? 0n),
    String(meta?.isPermanent ?? false),
  ];
}

function jsonRow({ backup, meta }: Row, detail: boolean): Record<string, unknown> {
  const row: Record<string, unknown> = {
    backup_name: backup.name,
    time: goJsonTime(backup.modified),
    wal_file_name: backup.walFileName,
    storage_name: STORAGE_NAME,
  };
  if (!detail) return row;
  return {
    ...row,
    start_time: goJsonTime(meta?.startTime),
    finish_time: goJsonTime(meta?.finishTime),
    date_fmt: meta?.dateFmt ?? "",
    hostname: meta?.hostname ?? "",
    data_dir: meta?.dataDir ?? "",
    pg_version: meta?.pgVersion ?? 0,
    start_lsn: meta?.startLsn ?? 0n,
    finish_lsn: meta?.finishLsn ?? 0n,
    is_permanent: meta?.isPermanent ?? false,
    system_identifier: meta?.systemIdentifier ?? null,
    uncompressed_size: meta?.uncompressedSize ?? 0,
    compressed_size: meta?.compressedSize ?? 0,
    user_data: meta?.userData,
  };
}
