// Base backups without wal-g and without pg_basebackup: PostgreSQL's low-level backup API over one `pg`
// connection (non-exclusive), a copy of the data directory, and the backup_label (and tablespace_map)
// that the stop call returns. Works for every major 13-18, whatever client tools are installed:
//   15+:    pg_backup_start(label, fast)        ... pg_backup_stop(wait_for_archive)
//   13-14:  pg_start_backup(label, fast, false) ... pg_stop_backup(false, wait_for_archive)
// The copy follows the documentation's list of what to leave out ("Making a Base Backup Using the Low
// Level API"); without includeWal, pg_wal is empty and recovery reads every segment from the archive.
import { chmod, chown, copyFile, lstat, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";

/** The part of a test cluster a backup needs (test/support/postgres.ts Cluster). */
export interface BackupSource {
  readonly data: string;
  readonly port: number;
}

export interface BaseBackup {
  /** The copied data directory, owned like the source, with backup_label: ready for restore-prepare. */
  readonly dir: string;
  readonly label: string;
  readonly major: number;
  /** server_version_num, e.g. 160014 (wal-g's PgVersion). */
  readonly versionNum: number;
  readonly timeline: number;
  readonly startLsn: string;
  readonly stopLsn: string;
  /** WAL file holding the start LSN (what wal-g names a backup after: base_<startSegment>). */
  readonly startSegment: string;
  readonly stopSegment: string;
  readonly startTime: Date;
  readonly finishTime: Date;
  readonly systemIdentifier: bigint;
  readonly walIncluded: boolean;
}

export interface BaseBackupOptions {
  /** Default: "wal-native test <time>". */
  readonly label?: string;
  /** Copy the segments from start to stop out of pg_wal, so the backup is consistent without an archive. */
  readonly includeWal?: boolean;
  /** Request an immediate checkpoint (default true: tests should not wait for checkpoint_timeout). */
  readonly fast?: boolean;
  /** Wait until the last segment is archived before returning (default true, as wal-g and pg_basebackup do). */
  readonly waitForArchive?: boolean;
  /** Runs between the start and the stop call, after the copy: e.g. writes that must fall inside the backup. */
  readonly beforeStop?: () => Promise<unknown>;
}

/** Names in the data directory root whose contents are left out (the directories themselves are kept). */
const EMPTIED_DIRS = new Set(["pg_wal", "pg_dynshmem", "pg_notify", "pg_replslot", "pg_serial", "pg_snapshots", "pg_stat_tmp", "pg_subtrans"]);
/** Files in the data directory root that are never copied. */
const SKIPPED_FILES = new Set(["postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "backup_label.old",
  "current_logfiles", "postgresql.auto.conf.tmp"]);

/** Takes a base backup of a running cluster into `dest` (created; must not exist or be empty). */
export async function takeBaseBackup(source: BackupSource, dest: string, opts: BaseBackupOptions = {}): Promise<BaseBackup> {
  const client = new pg.Client({ host: "127.0.0.1", port: source.port, user: "postgres", database: "postgres" });
  await client.connect();
  try {
    const versionNum = Number((await client.query<{ v: string }>("select current_setting('server_version_num') as v")).rows[0]?.v);
    const major = Math.floor(versionNum / 10000);
    const label = opts.label ?? `wal-native test ${new Date().toISOString()}`;
    const fast = opts.fast ?? true;
    const waitForArchive = opts.waitForArchive ?? true;
    const startTime = new Date();
    const start = major >= 15
      ? await client.query<{ lsn: string }>("select pg_backup_start($1, $2)::text as lsn", [label, fast])
      : await client.query<{ lsn: string }>("select pg_start_backup($1, $2, false)::text as lsn", [label, fast]);
    const startLsn = start.rows[0]?.lsn ?? "";
    const facts = (await client.query<{ timeline: number; segment: string; system: string }>(
      "select timeline_id as timeline, pg_walfile_name($1::pg_lsn) as segment, (select system_identifier::text from pg_control_system()) as system from pg_control_checkpoint()",
      [startLsn],
    )).rows[0];
    if (facts === undefined) throw new Error("pg_control_checkpoint() returned no row");

    const owner = await lstat(source.data);
    await copyTree(source.data, dest, owner, true);
    await opts.beforeStop?.();

    const stop = major >= 15
      ? await client.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
        "select lsn::text, labelfile, spcmapfile from pg_backup_stop($1)", [waitForArchive])
      : await client.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
        "select lsn::text, labelfile, spcmapfile from pg_stop_backup(false, $1)", [waitForArchive]);
    const stopped = stop.rows[0];
    if (stopped === undefined) throw new Error("the backup stop call returned no row");
    const finishTime = new Date();
    // The stop LSN points just past the backup-end record; the segment it falls in is the last one needed.
    const stopSegment = (await client.query<{ segment: string }>("select pg_walfile_name($1::pg_lsn) as segment", [stopped.lsn])).rows[0]?.segment ?? "";

    await writeOwned(join(dest, "backup_label"), stopped.labelfile, owner);
    if (stopped.spcmapfile) await writeOwned(join(dest, "tablespace_map"), stopped.spcmapfile, owner);
    if (opts.includeWal) await copyWal(source.data, dest, facts.segment, stopSegment, owner);
    return {
      dir: dest, label, major, versionNum, timeline: facts.timeline, startLsn, stopLsn: stopped.lsn, startSegment: facts.segment, stopSegment,
      startTime, finishTime, systemIdentifier: BigInt(facts.system), walIncluded: opts.includeWal === true,
    };
  } finally {
    await client.end();
  }
}

type Owner = { uid: number; gid: number; mode: number };

/** Copies a directory tree (mode and owner kept); files that vanish while it runs are skipped, as PostgreSQL allows. */
async function copyTree(from: string, to: string, owner: Owner, atRoot: boolean): Promise<void> {
  const info = await lstat(from);
  await mkdir(to, { recursive: true });
  await chown(to, owner.uid, owner.gid);
  await chmod(to, info.mode & 0o7777);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.name.startsWith("pgsql_tmp") || entry.name === "pg_internal.init") continue;
    if (atRoot && SKIPPED_FILES.has(entry.name)) continue;
    if (entry.isSymbolicLink()) {
      throw new Error(`${source} is a symbolic link (a tablespace?): base-backup.ts copies only clusters without tablespaces`);
    }
    if (entry.isDirectory()) {
      if (atRoot && EMPTIED_DIRS.has(entry.name)) await emptyDir(source, target, owner, entry.name === "pg_wal");
      else await copyTree(source, target, owner, false);
    } else if (entry.isFile()) {
      try {
        await copyFile(source, target);
        await chown(target, owner.uid, owner.gid);
        await chmod(target, (await lstat(source)).mode & 0o7777);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
  }
}

/** The directory without its contents; pg_wal keeps an empty archive_status (PostgreSQL 13-17 expect it). */
async function emptyDir(source: string, target: string, owner: Owner, isWal: boolean): Promise<void> {
  const info = await lstat(source);
  for (const dir of isWal ? [target, join(target, "archive_status")] : [target]) {
    await mkdir(dir, { recursive: true });
    await chown(dir, owner.uid, owner.gid);
    await chmod(dir, info.mode & 0o7777);
  }
}

/** Copies the segments from `first` to `last` (same timeline, by name order) out of the source's pg_wal. */
async function copyWal(sourceData: string, dest: string, first: string, last: string, owner: Owner): Promise<void> {
  const names = (await readdir(join(sourceData, "pg_wal"))).filter((name) => /^[0-9A-F]{24}$/.test(name) && name >= first && name <= last);
  if (!names.includes(first) || !names.includes(last)) {
    throw new Error(`pg_wal of ${sourceData} no longer holds ${first} to ${last} (found ${names.join(", ") || "none"})`);
  }
  for (const name of names) {
    const target = join(dest, "pg_wal", name);
    await copyFile(join(sourceData, "pg_wal", name), target);
    await chown(target, owner.uid, owner.gid);
    await chmod(target, 0o600);
  }
}

async function writeOwned(path: string, text: string, owner: Owner): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chown(path, owner.uid, owner.gid);
}

/**
 * The sentinel and metadata.json that wal-g backup-push writes for a full backup (walg-compat.md 6.1,
 * 6.2; shaped like wal-g v3.0.9's own), filled from a backup taken here: for tests of commands that
 * read basebackups_005/ (check, backup-list, drills) on a machine without wal-g. The data tars are not
 * written. Keys are relative to the archive root; values are the objects' text.
 */
export function walgBackupObjects(backup: BaseBackup, opts: { hostname?: string; permanent?: boolean } = {}): Record<string, string> {
  const lsn = (text: string): bigint => {
    const [high = "0", low = "0"] = text.split("/");
    return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
  };
  const name = `base_${backup.startSegment}`;
  const hostname = JSON.stringify(opts.hostname ?? "wal-native-test");
  const dataDir = JSON.stringify(backup.dir);
  const start = backup.startTime.toISOString();
  const finish = backup.finishTime.toISOString();
  const permanent = opts.permanent ?? false;
  // Written by hand: JSON.stringify cannot write a 64-bit integer such as the system identifier exactly.
  const sentinel = `{"LSN":${lsn(backup.startLsn)},"PgVersion":${backup.versionNum},"FinishLSN":${lsn(backup.stopLsn)},` +
    `"SystemIdentifier":${backup.systemIdentifier},"UncompressedSize":0,"CompressedSize":0,"ChkpNum":null,"Version":2,` +
    `"StartTime":"${start}","FinishTime":"${finish}","DateFmt":"%Y-%m-%dT%H:%M:%S.%fZ","Hostname":${hostname},` +
    `"DataDir":${dataDir},"IsPermanent":${permanent}}`;
  const metadata = `{"start_time":"${start}","finish_time":"${finish}","date_fmt":"%Y-%m-%dT%H:%M:%S.%fZ","hostname":${hostname},` +
    `"data_dir":${dataDir},"pg_version":${backup.versionNum},"start_lsn":${lsn(backup.startLsn)},"finish_lsn":${lsn(backup.stopLsn)},` +
    `"is_permanent":${permanent},"system_identifier":${backup.systemIdentifier},"uncompressed_size":0,"compressed_size":0}`;
  return {
    [`basebackups_005/${name}/metadata.json`]: metadata,
    // Last, as wal-g uploads it: its presence is what makes the backup complete.
    [`basebackups_005/${name}_backup_stop_sentinel.json`]: sentinel,
  };
}
