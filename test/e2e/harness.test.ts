// Smoke test of the e2e harness itself: MinIO access and restart, PostgreSQL as the postgres user,
// and an archive_command that sees the environment we pass to the server.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { getObject, listKeys, minioInfo, putObject, startMinio, stopMinio, uniquePrefix } from "../support/minio.js";
import { REPO_BIN } from "../support/paths.js";
import { configure, initCluster, makeWorkDir, mkdirAsPostgres, psql, start, stop, waitFor } from "../support/postgres.js";

describe("minio harness", () => {
  it("stores, lists and returns objects", async () => {
    const prefix = uniquePrefix("harness");
    await putObject(`${prefix}/a.txt`, "hello");
    await putObject(`${prefix}/b/c.bin`, Buffer.from([0, 1, 2]));
    expect(await listKeys(prefix)).toEqual([`${prefix}/a.txt`, `${prefix}/b/c.bin`]);
    expect((await getObject(`${prefix}/a.txt`)).toString()).toBe("hello");
  });

  it("keeps data across a stop and restart on the same port", async () => {
    const key = `${uniquePrefix("restart")}/kept`;
    await putObject(key, "survives");
    await stopMinio();
    try {
      await expect(fetch(`${minioInfo().endpoint}/minio/health/live`)).rejects.toThrow();
    } finally {
      await startMinio();
    }
    expect((await getObject(key)).toString()).toBe("survives");
  });
});

describe("postgres harness", () => {
  it("runs a cluster as the postgres user", async () => {
    const cluster = await initCluster();
    await start(cluster);
    expect(await psql(cluster, "select 1; select current_user;")).toBe("1\npostgres");
    await stop(cluster);
  });

  it("runs archive_command with the environment given to start()", async () => {
    const workDir = await makeWorkDir("archive");
    const archive = await mkdirAsPostgres(join(workDir, "archive"));
    const cluster = await initCluster({ workDir, walSegSizeMb: 1 });
    await configure(cluster, {
      archive_mode: "on",
      archive_command: 'echo "$PATH" > "$ARCHIVE_DIR/path.txt" && cp %p "$ARCHIVE_DIR/%f"',
    });
    await start(cluster, { ARCHIVE_DIR: archive });
    const segment = await psql(cluster,
      "create table t as select generate_series(1, 1000) as x;\nselect pg_walfile_name(pg_switch_wal());");
    const archived = join(archive, segment);
    // PostgreSQL records the file once the command has exited (in order); before that, cp may still be writing it.
    await waitFor(async () => (await psql(cluster, "select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= segment,
      { what: `${archived} to be archived` });
    expect((await stat(archived)).size).toBe(1024 * 1024);
    expect((await readFile(join(archive, "path.txt"), "utf8")).split(":")[0]).toBe(REPO_BIN);
    expect(Number(await psql(cluster, "select archived_count from pg_stat_archiver"))).toBeGreaterThanOrEqual(1);
    await stop(cluster);
  });
});
