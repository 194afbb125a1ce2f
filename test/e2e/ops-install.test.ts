// scripts/install.sh (the Dockerfile's install step) on the host: the installed launchers and the
// runbook's wal-archive.sh/wal-restore.sh names archive and restore for a real PostgreSQL.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/paths.js";
import { type Cluster, configure, initCluster, makeWorkDir, mkdirAsPostgres, psql, runAsPostgres, start, stop, waitFor } from "../support/postgres.js";

let root: string;
let bin: string;
let cluster: Cluster | undefined;

beforeAll(async () => {
  const workDir = await makeWorkDir("ops-install");
  root = join(workDir, "root");
  const { stdout } = await promisify(execFile)("bash", [join(REPO_ROOT, "scripts", "install.sh"), root]);
  expect(stdout).toMatch(/install\.sh: installed wal-native \d+\.\d+\.\d+ into /);
  bin = join(root, "usr", "local", "bin");
});

afterAll(async () => {
  if (cluster) await stop(cluster).catch(() => undefined);
});

describe("scripts/install.sh", () => {
  it("installs launchers that run from the installed copy", async () => {
    const version = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")).version as string;
    for (const tool of ["wal-archive", "wal-restore", "wal-native", "wal-archive.sh", "wal-restore.sh"]) {
      const { stdout } = await promisify(execFile)(join(bin, tool), ["--version"], { env: { PATH: process.env.PATH ?? "" } });
      expect(stdout).toBe(`${tool.replace(".sh", "")} ${version}\n`);
    }
    const { stdout } = await promisify(execFile)(join(bin, "wal-native"), ["--help"]);
    for (const command of ["init", "check", "backup-list", "wal-verify", "cache", "drill", "restore-prepare"]) expect(stdout).toContain(`  ${command} `);
    const usage = await promisify(execFile)("sh", [join(bin, "test-pitr.sh")]).catch((error: { code: number; stderr: string }) => error);
    expect(usage).toMatchObject({ code: 64 });
  });

  it("refuses to run without a root argument", async () => {
    const run = await promisify(execFile)("bash", [join(REPO_ROOT, "scripts", "install.sh")]).catch((error: { code: number; stderr: string }) => error);
    expect(run).toMatchObject({ code: 64 });
  });

  it("archives with the installed wal-archive.sh and restores with wal-restore.sh, and check loads pg from the install", async () => {
    const workDir = await makeWorkDir("ops-install-pg");
    const store = await mkdirAsPostgres(join(workDir, "store"));
    const local = await mkdirAsPostgres(join(workDir, "wal_archive"));
    const env = { WALG_FILE_PREFIX: store, WALNATIVE_LOCAL_ARCHIVE: local, WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "", WALG_PG_WAL_SIZE: "1" };
    cluster = await initCluster({ workDir, walSegSizeMb: 1 });
    await configure(cluster, { archive_mode: "on", archive_command: `${bin}/wal-archive.sh %p %f` });
    await start(cluster, env);
    const c = cluster;
    const segment = await psql(c, "create table t as select generate_series(1, 5000) x; select pg_walfile_name(pg_switch_wal());");
    await waitFor(async () => (await psql(c, "select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= segment, { what: `${segment} archived` });

    const dest = join(workDir, "restored");
    const restore = await runAsPostgres(`${bin}/wal-restore.sh`, [segment, dest], { env: { ...env, WALNATIVE_LOCAL_ARCHIVE: "" }, check: false });
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stderr).toContain(`restored ${segment} from file://${store}`);
    expect((await readFile(dest)).equals(await readFile(join(local, segment)))).toBe(true);

    const { stdout } = await promisify(execFile)(join(bin, "wal-native"), ["check", "--json", "--max-backup-age", "1d"], {
      env: { PATH: process.env.PATH ?? "", ...env, PGHOST: c.root, PGPORT: String(c.port), PGUSER: "postgres", PGDATA: c.data },
    }).catch((error: { stdout: string }) => error);
    expect(JSON.parse(stdout).metrics).toMatchObject({ postgres_up: 1, archiver_failing: 0, wal_ready_files: 0 });
  });
});
