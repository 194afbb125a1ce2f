// The archiver backlog that pg_stat_archiver does not show: .ready files in pg_wal/archive_status.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

export interface Backlog {
  /** Files PostgreSQL has finished and is waiting to archive. */
  readonly count: number;
  readonly oldestName?: string;
  /** mtime of the oldest .ready file: when PostgreSQL handed that file to the archiver. */
  readonly oldestSince?: Date;
}

/** Throws when the directory cannot be read (wrong PGDATA, no permission): an unknown backlog is not an empty one. */
export async function readBacklog(dataDir: string): Promise<Backlog> {
  const dir = join(dataDir, "pg_wal", "archive_status");
  const names = (await readdir(dir)).filter((name) => name.endsWith(".ready"));
  let oldest: { name: string; mtime: Date } | undefined;
  for (const name of names) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    // Gone between readdir and stat: archived meanwhile.
    if (info && (!oldest || info.mtime < oldest.mtime)) oldest = { name: name.slice(0, -".ready".length), mtime: info.mtime };
  }
  return { count: names.length, oldestName: oldest?.name, oldestSince: oldest?.mtime };
}
