// Steps shared by the core e2e tests: a PostgreSQL cluster archiving through wal-archive into a store,
// the checks on what landed there, a point-in-time recovery through wal-restore, and running our commands.
import { execFile } from "node:child_process";
import { copyFile, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WalSegment } from "../../src/wal/file-name.js";
import { listKeys, minioEnv } from "../support/minio.js";
import { REPO_BIN } from "../support/paths.js";
import {
  type Cluster, basebackup, configure, initCluster, logTail, makeWorkDir, mkdirAsPostgres, pgbench, psql, runAsPostgres,
  start, stop, waitFor,
} from "../support/postgres.js";

export type Codec = "lz4" | "brotli" | "none";
export const SUFFIX: Record<Codec, string> = { lz4: ".lz4", brotli: ".br", none: "" };

/** Where wal-archive stores: the environment our commands need and a listing of wal_005/. */
export interface Store {
  readonly kind: "s3" | "file";
  readonly env: Record<string, string>;
  /** Object keys under wal_005/, relative to the store root ("wal_005/<name><suffix>"), sorted. */
  walKeys(): Promise<string[]>;
}

export function s3Store(prefix: string): Store {
  return {
    kind: "s3",
    env: minioEnv(prefix),
    walKeys: async () => (await listKeys(`${prefix}/wal_005/`)).map((key) => key.slice(prefix.length + 1)),
  };
}

export async function fileStore(label: string): Promise<Store & { root: string }> {
  const root = await mkdirAsPostgres(join(await makeWorkDir(label), "store"));
  return {
    kind: "file",
    root,
    env: { WALG_FILE_PREFIX: root },
    walKeys: async () => (await readdir(join(root, "wal_005")).catch(() => [])).map((name) => `wal_005/${name}`).sort(),
  };
}

export interface Sums {
  readonly count: string;
  readonly sum: string;
}

export interface LoadedCluster {
  readonly workDir: string;
  readonly cluster: Cluster;
  /** Stopped copy of the cluster taken with pg_basebackup before the load. */
  readonly backup: Cluster;
  readonly restorePoint: string;
  readonly atRestorePoint: Sums;
  readonly final: Sums;
  /** The segment pg_switch_wal() closed last; everything up to it is archived. */
  readonly lastSegment: string;
  /** A copy (taken from pg_wal) of a full segment written during the load, and its name. */
  readonly sample: { readonly name: string; readonly path: string };
}

const SUMS_SQL = "select count(*) || ' ' || sum(abalance) from pgbench_accounts";

/**
 * initdb, archive_command = 'wal-archive %p %f' with `codec`, a base backup, pgbench -i -s `scale`,
 * some transactions, a named restore point, more transactions, pg_switch_wal(), and wait until archived.
 * No checkpoint runs during the load (big max_wal_size), so every segment stays in pg_wal unrecycled.
 */
export async function archiveLoad(store: Store, codec: Codec, scale: number): Promise<LoadedCluster> {
  const workDir = await makeWorkDir(`core-${store.kind}-${codec}`);
  const localArchive = await mkdirAsPostgres(join(workDir, "local-archive"));
  const cluster = await initCluster({ workDir });
  await configure(cluster, {
    archive_mode: "on",
    archive_command: "wal-archive %p %f",
    max_wal_size: "4GB",
    checkpoint_timeout: "1h",
  });
  await start(cluster, {
    ...store.env,
    WALG_COMPRESSION_METHOD: codec,
    WALNATIVE_LOCAL_ARCHIVE: localArchive,
    WALNATIVE_ARCHIVE_LOG: join(workDir, "wal-archive.log"),
  });
  const backup = await basebackup(cluster, join(workDir, "backup"));
  await pgbench(cluster, ["-i", "-q", "-s", String(scale)]);
  await pgbench(cluster, ["-n", "-c", "2", "-t", "150"]);
  const atRestorePoint = parseSums(await psql(cluster, SUMS_SQL));
  const restorePoint = `core_${codec}_rp`;
  await psql(cluster, `select pg_create_restore_point('${restorePoint}')`);
  await pgbench(cluster, ["-n", "-c", "2", "-t", "150"]);
  const final = parseSums(await psql(cluster, SUMS_SQL));
  const sample = await copySample(cluster, workDir);
  const lastSegment = await psql(cluster, "select pg_walfile_name(pg_switch_wal())");
  await withLogOnFailure(cluster, () =>
    waitFor(async () => (await psql(cluster, "select last_archived_wal from pg_stat_archiver")) >= lastSegment, {
      timeoutMs: 170_000,
      intervalMs: 500,
      what: `archiving up to ${lastSegment}`,
    }),
  );
  return { workDir, cluster, backup, restorePoint, atRestorePoint, final, lastSegment, sample };
}

function parseSums(line: string): Sums {
  const [count = "", sum = ""] = line.split(" ");
  return { count, sum };
}

/** Copies a full segment from the middle of the load out of pg_wal, before anything can recycle it. */
async function copySample(cluster: Cluster, workDir: string): Promise<{ name: string; path: string }> {
  const current = await psql(cluster, "select pg_walfile_name(pg_current_wal_lsn())");
  const segments = (await readdir(join(cluster.data, "pg_wal"))).filter((name) => /^[0-9A-F]{24}$/.test(name) && name < current).sort();
  const name = segments[Math.floor(segments.length / 2)];
  if (name === undefined) throw new Error(`no complete segment in ${cluster.data}/pg_wal before ${current}`);
  const path = join(workDir, `original-${name}`);
  await copyFile(join(cluster.data, "pg_wal", name), path);
  return { name, path };
}

/**
 * (a) Every file the archiver reports as archived is in the store under wal_005/ with the codec's
 * extension: as many objects as archived_count, segments contiguous up to the last one, no failures.
 */
export async function expectCompleteArchive(store: Store, loaded: LoadedCluster, codec: Codec): Promise<void> {
  const stats = await psql(loaded.cluster, "select archived_count || ' ' || failed_count from pg_stat_archiver");
  const [archived, failed] = stats.split(" ").map(Number);
  expect(failed).toBe(0);
  const keys = await store.walKeys();
  expect(keys.length).toBe(archived);
  const suffix = SUFFIX[codec].replace(".", "\\.");
  const pattern = new RegExp(`^wal_005/([0-9A-F]{24})(\\.[0-9A-F]{8}\\.backup)?${suffix}$`);
  for (const key of keys) expect(key).toMatch(pattern);
  const segments = keys.flatMap((key) => {
    const [, name, backupLabel] = pattern.exec(key) ?? [];
    return name !== undefined && backupLabel === undefined ? [name] : [];
  });
  expect(segments[0]).toBe("000000010000000000000001");
  expect(segments.at(-1)).toBe(loaded.lastSegment);
  const expected = [segments[0] as string];
  while (expected.length < segments.length) expected.push(WalSegment.parse(expected.at(-1) as string).next(16 << 20).toString());
  expect(segments).toEqual(expected);
  // pg_basebackup's backup history file is archived too.
  expect(keys.some((key) => key.includes(".backup"))).toBe(true);
}

/**
 * (b) Recovers the base backup with restore_command = 'wal-restore %f %p' to the named restore point
 * (local archive off, so every file comes from the store) and returns the recovered sums and restore log.
 */
export async function recoverToRestorePoint(
  store: Store,
  loaded: LoadedCluster,
): Promise<{ sums: Sums; log: string; serverLog: string }> {
  const target = loaded.backup;
  const restoreLog = join(loaded.workDir, "wal-restore.log");
  await configure(target, {
    archive_mode: "off",
    restore_command: "wal-restore %f %p",
    recovery_target_name: loaded.restorePoint,
    recovery_target_action: "promote",
  });
  await runAsPostgres("touch", [join(target.data, "recovery.signal")]);
  await start(target, {
    ...store.env,
    WALNATIVE_LOCAL_ARCHIVE: "",
    WALNATIVE_RESTORE_LOG: restoreLog,
    WALNATIVE_RESTORE_RETRY_SECONDS: "10",
  });
  await withLogOnFailure(target, () =>
    waitFor(async () => (await psql(target, "select pg_is_in_recovery()")) === "f", { timeoutMs: 120_000, what: "end of recovery" }),
  );
  const sums = parseSums(await psql(target, SUMS_SQL));
  await stop(target);
  return { sums, log: await readFile(restoreLog, "utf8"), serverLog: await readFile(target.logFile, "utf8") };
}

/** Adds the server log's tail to a failure: that is where archive_command and restore_command errors go. */
async function withLogOnFailure<T>(cluster: Cluster, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await logTail(cluster)}`);
  }
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs bin/<command> as root with exactly `env` (plus PATH/HOME) in `cwd`, as a shell would. */
export function runOurs(
  command: "wal-archive" | "wal-restore",
  args: readonly string[],
  env: Record<string, string>,
  cwd?: string,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      join(REPO_BIN, command),
      args,
      { cwd, env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: "/root", ...env }, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 128) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * (a), (b) and (c) for one codec on one store: archive a pgbench load, check the archive, restore a
 * segment by hand, and recover the base backup to the restore point. One test in three steps: each step needs
 * what the one before made, and a failure names its step instead of leaving the next ones to fail on nothing.
 */
export function describeArchiveAndRestore(makeStore: () => Promise<Store>, codec: Codec, scale: number): void {
  describe(`${codec}, pgbench -s ${scale}`, () => {
    it(
      `archives every WAL file under wal_005/ as <name>${SUFFIX[codec]}, restores one by hand byte-identical, and recovers to the restore point`,
      async () => {
        const store = await makeStore();
        const loaded = await step("archive with no archiver failures", async () => {
          const archived = await archiveLoad(store, codec, scale);
          await expectCompleteArchive(store, archived, codec);
          return archived;
        });

        await step("restore a single segment by hand (wal-restore <segment> <path>) with bytes identical to the original", async () => {
          const out = join(loaded.workDir, "x");
          const env = { ...store.env, WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_RESTORE_LOG: "" };
          const result = await runOurs("wal-restore", [loaded.sample.name, out], env);
          expect(result.code, result.stderr).toBe(0);
          expect(result.stderr).toContain(`restored ${loaded.sample.name} from ${store.kind === "s3" ? "s3" : "file"}://`);
          expect((await readFile(out)).equals(await readFile(loaded.sample.path))).toBe(true);
        });

        await step("recover a base backup taken before the load to the named restore point: same count and sum", async () => {
          const { sums, log, serverLog } = await recoverToRestorePoint(store, loaded);
          expect(serverLog).toContain(`recovery stopping at restore point "${loaded.restorePoint}"`);
          expect(sums).toEqual(loaded.atRestorePoint);
          expect(sums.count).toBe(String(scale * 100_000));
          // The transactions after the restore point changed the sum; recovery must have stopped before them.
          expect(sums).not.toEqual(loaded.final);
          // Local archive off: each segment came from storage, directly or through the prefetch worker.
          expect(log).toMatch(/restored [0-9A-F]{24} from ((s3|file):\/\/|prefetch)/);
          expect(log).not.toMatch(/local archive|error:/);
        });
      },
      // Each step has the project's 180 s.
      540_000,
    );
  });
}

/** One step of a test: its failure (an assertion's diff included) is reported under the step's name. */
async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof Error) error.message = `${name}: ${error.message}`;
    throw error;
  }
}
