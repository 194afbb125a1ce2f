// wal-native restore-prepare as a DBA runs it: on a real data directory, against a real running server,
// and with wal-g or the storage settings missing.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_BIN } from "../support/paths.js";
import { type Cluster, initCluster, makeWorkDir, runAsPostgres, start, stop } from "../support/postgres.js";
import { PG_BIN } from "../support/tools.js";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await initCluster();
});

function prepare(args: string[], env: Record<string, string> = {}): ReturnType<typeof runAsPostgres> {
  return runAsPostgres(join(REPO_BIN, "wal-native"), ["restore-prepare", ...args], { env, check: false });
}

describe("wal-native restore-prepare", () => {
  it("writes PostgreSQL 12+ settings with our wal-restore and recovery.signal, never recovery.conf", async () => {
    const result = await prepare([cluster.data, "--target-time", "2030-01-01 00:00:00+00", "--exclusive", "--target-action", "pause"]);
    expect(result.code, result.stderr).toBe(0);
    const conf = await readFile(join(cluster.data, "postgresql.auto.conf"), "utf8");
    expect(conf.split("\n").slice(-7)).toEqual([
      "# recovery settings written by wal-native restore-prepare",
      `restore_command = '${REPO_BIN}/wal-restore %f %p'`,
      "recovery_target_time = '2030-01-01 00:00:00+00'",
      "recovery_target_inclusive = 'off'",
      "recovery_target_action = 'pause'",
      "recovery_target_timeline = 'latest'",
      "",
    ]);
    expect(conf).toContain(`port = '${cluster.port}'`); // the rest of the file is kept
    expect((await stat(join(cluster.data, "recovery.signal"))).size).toBe(0);
    await expect(stat(join(cluster.data, "recovery.conf"))).rejects.toThrow(/ENOENT/);
    expect(result.stdout).toBe("");
  });

  it("refuses the data directory of a running server (65) and says why", async () => {
    const work = await makeWorkDir("prepare-running");
    const running = await initCluster({ workDir: work });
    await start(running);
    try {
      const result = await prepare([running.data]);
      expect(result.code).toBe(65);
      expect(result.stderr).toMatch(new RegExp(`error: data directory '${running.data}' is in use by a running server \\(postmaster.pid: pid \\d+\\)`));
      await expect(stat(join(running.data, "recovery.signal"))).rejects.toThrow(/ENOENT/);
    } finally {
      await stop(running);
    }
  });

  it("checks the data directory's major version against the binaries in --pg-bin", async () => {
    const result = await prepare([cluster.data, "--pg-bin", PG_BIN]);
    expect(result.code, result.stderr).toBe(0);
    const wrong = await prepare([cluster.data, "--pg-bin", "/nonexistent"]);
    expect([wrong.code, wrong.stderr.split("\n")[0]]).toEqual([64, "wal-native restore-prepare: error: --pg-bin '/nonexistent' has no postgres executable"]);
  });

  it("--fetch: needs the storage settings (78) and wal-g (78)", async () => {
    const target = join(await makeWorkDir("prepare-fetch"), "data");
    const noStore = await prepare([target, "--fetch"]);
    expect([noStore.code, noStore.stderr.split("\n")[0]]).toEqual([78, "wal-native restore-prepare: error: WALG_S3_PREFIX: no storage configured"]);
    const noWalg = await prepare([target, "--fetch", "LATEST"], { WALG_FILE_PREFIX: "/tmp" });
    expect(noWalg.code).toBe(78);
    expect(noWalg.stderr).toContain("error: --fetch needs wal-g, which is not on PATH");
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });
});
