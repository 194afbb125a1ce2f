// Which backup a drill restores: a named one, the newest, or for a time target the newest that
// finished before that time (a backup that ends after the target cannot reach it).
import type { Config } from "../../config.js";
import { DrillError } from "./process.js";
import { listBackups, readBackupMetadata } from "../shared/backups.js";
import { goRfc3339 } from "../shared/go-format.js";

export async function chooseBackup(
  config: Config,
  wanted: string,
  targetTime: string | undefined,
  say: (line: string) => void,
  listAll: boolean,
): Promise<string> {
  const { openStorage } = await import("../../storage/open.js");
  const storage = await openStorage(config);
  const backups = await listBackups(storage);
  if (backups.length === 0) throw new DrillError(`no backups in ${storage.label}`, "run wal-g backup-push first");
  if (listAll) {
    say(`${backups.length} backup${backups.length > 1 ? "s" : ""} in ${storage.label}:`);
    for (const backup of backups) say(`  ${backup.name}  ${goRfc3339(backup.modified)}`);
  }
  if (wanted !== "LATEST") {
    if (!backups.some((backup) => backup.name === wanted)) throw new DrillError(`no backup '${wanted}' in ${storage.label}`);
    return wanted;
  }
  const target = targetTime === undefined ? undefined : parsePgTimestamp(targetTime);
  if (target === undefined) return (backups[backups.length - 1] as { name: string }).name;
  let best: { name: string; finished: number } | undefined;
  for (const backup of backups) {
    const finished = Date.parse((await readBackupMetadata(storage, backup))?.finishTime ?? "") || backup.modified.getTime();
    if (finished <= target && (!best || finished > best.finished)) best = { name: backup.name, finished };
  }
  if (!best) throw new DrillError(`no backup finished before ${targetTime}`, "pick a later target time, or a backup taken before it");
  say(`using ${best.name}, the newest backup that finished before ${targetTime}`);
  return best.name;
}

/** '2024-01-08 14:30:00+00' (PostgreSQL's form) or ISO 8601; undefined when unparseable (PostgreSQL will judge). */
export function parsePgTimestamp(text: string): number | undefined {
  const iso = text.trim().replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00").replace(/([+-]\d\d)(\d\d)$/, "$1:$2");
  const value = Date.parse(iso);
  return Number.isNaN(value) ? undefined : value;
}
