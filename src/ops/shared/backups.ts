// Backups in basebackups_005/ as wal-g sees them (walg-compat.md 6): sentinels, metadata.json, ages.
import { BACKUP_FOLDER, type ObjectInfo, type Storage } from "../../storage/storage.js";
import { type JsonValue, bigintMember, parseJson } from "./json.js";

export const SENTINEL_SUFFIX = "_backup_stop_sentinel.json";

export interface BackupEntry {
  /** e.g. base_000000010000000000000002 */
  readonly name: string;
  /** First 24-hex run of the key, as wal-g's StripWalFileName; "ZZZ…" when there is none. */
  readonly walFileName: string;
  /** LastModified of the sentinel object: what wal-g prints as "modified". */
  readonly modified: Date;
  readonly sentinelKey: string;
}

/** What wal-g's ExtendedMetadataDto holds; times kept as written so that no precision is lost. */
export interface BackupMetadata {
  readonly startTime?: string;
  readonly finishTime?: string;
  readonly dateFmt?: string;
  readonly hostname?: string;
  readonly dataDir?: string;
  readonly pgVersion?: number;
  readonly startLsn?: bigint;
  readonly finishLsn?: bigint;
  readonly isPermanent: boolean;
  readonly systemIdentifier?: bigint;
  readonly uncompressedSize?: number | bigint;
  readonly compressedSize?: number | bigint;
  readonly userData?: JsonValue;
}

/** Sentinels directly in basebackups_005/, oldest LastModified first (wal-g sorts stably by it). */
export async function listBackups(storage: Storage): Promise<BackupEntry[]> {
  const backups: BackupEntry[] = [];
  for await (const object of storage.list(BACKUP_FOLDER)) {
    const backup = backupEntryOf(object);
    if (backup) backups.push(backup);
  }
  return backups.sort((a, b) => a.modified.getTime() - b.modified.getTime());
}

/** The backup an object of a basebackups_005/ listing is the sentinel of, or undefined for any other object. */
export function backupEntryOf(object: ObjectInfo): BackupEntry | undefined {
  const relative = object.key.slice(BACKUP_FOLDER.length);
  if (relative.includes("/") || !relative.endsWith(SENTINEL_SUFFIX)) return undefined;
  return {
    name: relative.split("_backup")[0] ?? relative,
    walFileName: /[0-9A-F]{24}/.exec(object.key)?.[0] ?? "Z".repeat(24),
    modified: object.lastModified ?? new Date(0),
    sentinelKey: object.key,
  };
}

export async function readJsonObject(storage: Storage, key: string): Promise<Record<string, JsonValue> | undefined> {
  if ((await storage.stat(key)) === undefined) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.read(key)) chunks.push(chunk as Buffer);
  const value = parseJson(Buffer.concat(chunks).toString("utf8"));
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new SyntaxError(`${key} in ${storage.label} is not a JSON object`);
  }
  return value;
}

/** metadata.json of a backup, or the sentinel's equivalent fields when metadata.json is missing. */
export async function readBackupMetadata(storage: Storage, backup: BackupEntry): Promise<BackupMetadata | undefined> {
  const meta = await readJsonObject(storage, `${BACKUP_FOLDER}${backup.name}/metadata.json`);
  if (meta) {
    return {
      startTime: text(meta.start_time),
      finishTime: text(meta.finish_time),
      dateFmt: text(meta.date_fmt),
      hostname: text(meta.hostname),
      dataDir: text(meta.data_dir),
      pgVersion: typeof meta.pg_version === "number" ? meta.pg_version : undefined,
      startLsn: bigintMember(meta.start_lsn),
      finishLsn: bigintMember(meta.finish_lsn),
      isPermanent: meta.is_permanent === true,
      systemIdentifier: bigintMember(meta.system_identifier ?? undefined),
      uncompressedSize: size(meta.uncompressed_size),
      compressedSize: size(meta.compressed_size),
      userData: meta.user_data,
    };
  }
  const sentinel = await readJsonObject(storage, backup.sentinelKey);
  if (!sentinel) return undefined;
  return sentinelMetadata(sentinel);
}

export function sentinelMetadata(sentinel: Record<string, JsonValue>): BackupMetadata {
  return {
    startTime: text(sentinel.StartTime),
    finishTime: text(sentinel.FinishTime),
    dateFmt: text(sentinel.DateFmt),
    hostname: text(sentinel.Hostname),
    dataDir: text(sentinel.DataDir),
    pgVersion: typeof sentinel.PgVersion === "number" ? sentinel.PgVersion : undefined,
    startLsn: bigintMember(sentinel.LSN),
    finishLsn: bigintMember(sentinel.FinishLSN),
    isPermanent: sentinel.IsPermanent === true,
    systemIdentifier: bigintMember(sentinel.SystemIdentifier),
    uncompressedSize: size(sentinel.UncompressedSize),
    compressedSize: size(sentinel.CompressedSize),
    userData: sentinel.UserData,
  };
}

/**
 * When the newest backup was completed: the sentinel's FinishTime (when the backup became usable),
 * else its StartTime, else the sentinel object's LastModified. FinishTime is preferred over
 * LastModified because a copied or re-uploaded bucket keeps the sentinel's content but not its mtime.
 */
export async function backupCompletedAt(storage: Storage, backup: BackupEntry): Promise<{ at: Date; source: string }> {
  const sentinel = await readJsonObject(storage, backup.sentinelKey).catch(() => undefined);
  for (const field of ["FinishTime", "StartTime"] as const) {
    const value = sentinel ? text(sentinel[field]) : undefined;
    const at = value ? new Date(value) : undefined;
    if (at && !Number.isNaN(at.getTime())) return { at, source: `sentinel ${field}` };
  }
  return { at: backup.modified, source: "sentinel LastModified" };
}

function text(value: JsonValue | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function size(value: JsonValue | undefined): number | bigint | undefined {
  return typeof value === "number" || typeof value === "bigint" ? value : undefined;
}
