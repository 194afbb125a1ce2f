// A throwaway "data directory" with pg_wal/archive_status and a FILE store beside it, for tests that run the
// built commands the way PostgreSQL does (cwd = data dir, %p under pg_wal), and consecutive segment names.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WalSegment } from "../../src/wal/file-name.js";
import { MiB } from "./wal.js";

export interface WalScratch {
  readonly root: string;
  readonly store: string;
  readonly data: string;
  readonly wal: string;
  readonly env: Record<string, string>;
}

/** Created under the system temp dir; the caller removes `root` (and stops any worker started in it). */
export function walScratch(label: string): WalScratch {
  const root = mkdtempSync(join(tmpdir(), `wal-native-${label}-`));
  const store = join(root, "store");
  const data = join(root, "data");
  const wal = join(data, "pg_wal");
  mkdirSync(store);
  mkdirSync(join(wal, "archive_status"), { recursive: true });
  const env = { WALG_FILE_PREFIX: store, WALNATIVE_LOCAL_ARCHIVE: "off", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "" };
  return { root, store, data, wal, env };
}

/** `count` consecutive segment names from `first` (across log boundaries for the given segment size). */
export function segmentNames(first: string, count: number, segmentSize = 16 * MiB): string[] {
  const list = [first];
  while (list.length < count) list.push(WalSegment.parse(list.at(-1) as string, segmentSize).next(segmentSize).toString());
  return list;
}
