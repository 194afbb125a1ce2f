// Local archive retention with real PostgreSQL archiving: wal-archive prunes by itself, and
// `wal-native cache prune` never deletes a WAL file that storage does not hold.
import { execFile } from "node:child_process";
import { readdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listKeys, minioEnv, uniquePrefix } from "../support/minio.js";
import { REPO_BIN } from "../support/paths.js";
import { type Cluster, configure, initCluster, makeWorkDir, mkdirAsPostgres, psql, start, stop, waitFor } from "../support/postgres.js";

const MiB = 1048576;
let cluster: Cluster;
let localArchive: string;
let prefix: string;
let env: Record<string, string>;

async function localWal(): Promise<{ names: string[]; bytes: number }> {
  const names = (await readdir(localArchive)).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();
  let bytes = 0;
  for (const name of names) bytes += (await stat(join(localArchive, name))).size;
  return { names, bytes };
}

async function switchAndWait(): Promise<string> {
  const segment = await psql(cluster, "insert into t select generate_series(1, 500); select pg_walfile_name(pg_switch_wal());");
  await waitFor(async () => (await psql(cluster, "select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= segment, { what: `${segment} archived` });
  return segment;
}

beforeAll(async () => {
  prefix = uniquePrefix("ops-cache");
  const workDir = await makeWorkDir("ops-cache");
  localArchive = await mkdirAsPostgres(join(workDir, "wal_archive"));
  env = { ...minioEnv(prefix), WALNATIVE_LOCAL_ARCHIVE: localArchive, WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "", WALNATIVE_LOCAL_ARCHIVE_MAX_MB: "3" };
  cluster = await initCluster({ workDir, walSegSizeMb: 1 });
  await configure(cluster, { archive_mode: "on", archive_command: `${REPO_BIN}/wal-archive %p %f` });
  await start(cluster, env);
  await psql(cluster, "create table t (x int);");
});

afterAll(async () => {
  if (cluster) await stop(cluster).catch(() => undefined);
});

describe("local archive retention", () => {
  it("wal-archive keeps the local archive within WALNATIVE_LOCAL_ARCHIVE_MAX_MB, oldest first", async () => {
    for (let i = 0; i < 6; i += 1) await switchAndWait();
    const before = await localWal();
    expect(before.bytes).toBeGreaterThan(3 * MiB); // pruning is throttled: the bound is exceeded for now
    // Make the last prune look old, as if 5 minutes had passed; the next push prunes.
    const past = new Date(Date.now() - 10 * 60_000);
    await utimes(join(localArchive, ".last-prune"), past, past);
    const newest = await switchAndWait();
    const after = await waitFor(async () => {
      const now = await localWal();
      return now.bytes <= 3 * MiB ? now : undefined;
    }, { what: "the local archive to be pruned" });
    expect(after.names).toContain(newest);
    expect(after.names[0]! > before.names[0]!).toBe(true); // the oldest went first
    // Storage still has everything that was pruned locally.
    const archived = await listKeys(`${prefix}/wal_005/`);
    for (const name of before.names) expect(archived).toContain(`${prefix}/wal_005/${name}.lz4`);
  });

  it("cache prune --all removes what storage holds and keeps (and names) a file it does not", async () => {
    const orphan = "0000000100000000000000F0";
    await writeFile(join(localArchive, orphan), Buffer.alloc(MiB));
    const old = new Date(Date.now() - 100 * 3_600_000);
    await utimes(join(localArchive, orphan), old, old);
    let code = 0;
    let stderr = "";
    try {
      ({ stderr } = await promisify(execFile)(join(REPO_BIN, "wal-native"), ["cache", "prune", "--all"], { env: { PATH: process.env.PATH ?? "", ...env } }));
    } catch (error) {
      ({ code, stderr } = error as { code: number; stderr: string });
    }
    expect(code).toBe(1);
    expect(stderr).toMatch(/wal-native cache: removed \d+ local WAL files \([\d.]+ MiB\); kept 1 \(1\.0 MiB\)/);
    expect(stderr).toContain(`kept ${orphan}: not in storage yet`);
    expect((await localWal()).names).toEqual([orphan]);
  });

  it("cache prune refuses an unknown sub-command", async () => {
    const run = await promisify(execFile)(join(REPO_BIN, "wal-native"), ["cache", "clear"], { env: { PATH: process.env.PATH ?? "", ...env } }).catch((e: { code: number; stderr: string }) => e);
    expect((run as { code: number }).code).toBe(64);
    expect((run as { stderr: string }).stderr).toContain("unknown cache command 'clear'");
  });
});
