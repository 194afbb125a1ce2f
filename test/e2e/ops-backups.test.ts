// backup-list and wal-verify against real wal-g on the same bucket: after real wal-g backup-push runs
// with our archive_command, both tools must print the same. Without wal-g, compat-walg-vectors proves it
// against wal-g's recorded output for a bucket it filled.
import { chmod, copyFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listKeys, minioEnv, minioInfo, putObject, uniquePrefix } from "../support/minio.js";
import { REPO_BIN } from "../support/paths.js";
import { type Cluster, configure, initCluster, makeWorkDir, mkdirAsPostgres, psql, runAsPostgres, start, stop, waitFor } from "../support/postgres.js";
import { liveName, walgPath, walgBinary } from "../support/walg.js";
import { parseJson } from "../../src/ops/shared/json.js";
import { S3Client, DeleteObjectCommand } from "@aws-sdk/client-s3";

let walg: string;
let cluster: Cluster;
let env: Record<string, string>;
let prefix: string;

async function tool(cmd: string, args: string[], extra: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  return runAsPostgres(cmd, args, { env: { ...env, ...extra }, check: false });
}

async function archivedUpTo(segment: string): Promise<void> {
  await waitFor(async () => (await psql(cluster, "select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= segment, {
    what: `${segment} to be archived`,
  });
}

async function switchWal(): Promise<string> {
  return psql(cluster, "insert into t select generate_series(1, 1000); select pg_walfile_name(pg_switch_wal());");
}

describe("wal-native backup-list on an archive without backups", () => {
  it("prints [] for --json and nothing for text", async () => {
    const empty = { ...minioEnv(uniquePrefix("ops-empty")), WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "" };
    const json = await runAsPostgres(`${REPO_BIN}/wal-native`, ["backup-list", "--json"], { env: empty });
    const text = await runAsPostgres(`${REPO_BIN}/wal-native`, ["backup-list"], { env: empty });
    expect(json.stdout).toBe("[]\n");
    expect(text.stdout).toBe("");
    expect(text.stderr).toContain("no backups found");
  });
});

describe.skipIf(!walgBinary)(liveName("wal-native and wal-g v3.0.9 on one bucket"), () => {
  beforeAll(async () => {
    prefix = uniquePrefix("ops-backups");
    const workDir = await makeWorkDir("ops-backups");
    // /root/go/bin is not reachable for the postgres user: run a copy.
    walg = join(workDir, "wal-g");
    await copyFile(walgPath(), walg);
    await chmod(walg, 0o755);
    const localArchive = await mkdirAsPostgres(join(workDir, "wal_archive"));
    cluster = await initCluster({ workDir });
    env = {
      ...minioEnv(prefix),
      WALNATIVE_LOCAL_ARCHIVE: localArchive,
      WALNATIVE_ARCHIVE_LOG: "",
      WALNATIVE_RESTORE_LOG: "",
      PGHOST: cluster.root,
      PGPORT: String(cluster.port),
      PGDATA: cluster.data,
      PGUSER: "postgres",
    };
    await configure(cluster, { archive_mode: "on", archive_command: `${REPO_BIN}/wal-archive %p %f`, wal_level: "replica" });
    await start(cluster, env);
    await psql(cluster, "create table t (x int);");
    for (let i = 0; i < 2; i += 1) {
      await archivedUpTo(await switchWal());
      const push = await tool(walg, ["backup-push", cluster.data]);
      expect(push.code, push.stderr).toBe(0);
    }
    await archivedUpTo(await switchWal());
  });

  afterAll(async () => {
    if (cluster) await stop(cluster).catch(() => undefined);
  });

  describe("wal-native backup-list", () => {
    it("prints the same table as wal-g backup-list", async () => {
      const ours = await tool(`${REPO_BIN}/wal-native`, ["backup-list"]);
      const theirs = await tool(walg, ["backup-list"]);
      expect(ours.code, ours.stderr).toBe(0);
      expect(ours.stdout.split("\n")).toHaveLength(4); // header, two backups, final newline
      expect(ours.stdout).toBe(theirs.stdout);
    });

    it("prints the same --detail table as wal-g", async () => {
      const ours = await tool(`${REPO_BIN}/wal-native`, ["backup-list", "--detail"]);
      const theirs = await tool(walg, ["backup-list", "--detail"]);
      expect(ours.code, ours.stderr).toBe(0);
      expect(ours.stdout).toContain("is_permanent");
      expect(ours.stdout).toBe(theirs.stdout);
    });

    it("prints the same --json and --detail --json as wal-g, with the exact system identifier", async () => {
      for (const args of [["--json"], ["--detail", "--json"]]) {
        const ours = await tool(`${REPO_BIN}/wal-native`, ["backup-list", ...args]);
        const theirs = await tool(walg, ["backup-list", ...args]);
        expect(ours.code, ours.stderr).toBe(0);
        expect(ours.stdout).toBe(theirs.stdout);
      }
      const detail = parseJson((await tool(`${REPO_BIN}/wal-native`, ["backup-list", "--detail", "--json"])).stdout) as Array<Record<string, unknown>>;
      const systemId = BigInt(await psql(cluster, "select system_identifier from pg_control_system()"));
      expect(systemId > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
      expect(detail.map((backup) => backup.system_identifier)).toEqual([systemId, systemId]);
    });
  });

  describe("wal-native wal-verify", () => {
    it("reports OK like wal-g wal-verify on a complete archive", async () => {
      const ours = await tool(`${REPO_BIN}/wal-native`, ["wal-verify", "integrity", "timeline", "--json"]);
      const theirs = await tool(walg, ["wal-verify", "integrity", "timeline", "--json"]);
      expect(ours.code, ours.stderr).toBe(0);
      expect(JSON.parse(ours.stdout).integrity.status).toBe("OK");
      expect(ours.stdout.trim()).toBe(theirs.stdout.trim());
    });

    it("prints the same text as wal-g wal-verify (compared per check: wal-g prints them in random order)", async () => {
      const ours = await tool(`${REPO_BIN}/wal-native`, ["wal-verify", "integrity", "timeline"]);
      const theirs = await tool(walg, ["wal-verify", "integrity", "timeline"]);
      expect(sections(ours.stdout)).toHaveLength(2);
      expect(sections(ours.stdout)).toEqual(sections(theirs.stdout));
    });

    it("finds the same lost segment as wal-g after one is deleted from the bucket", async () => {
      const segments = (await listKeys(`${prefix}/wal_005/`)).filter((key) => /\/[0-9A-F]{24}\.lz4$/.test(key));
      const backups = (await listKeys(`${prefix}/basebackups_005/`)).filter((key) => key.endsWith("_backup_stop_sentinel.json"));
      const firstBackupSegment = /base_([0-9A-F]{24})/.exec(backups[0] ?? "")?.[1] ?? "";
      // A segment the first backup needs, well before the newest ones (which would count as uploading).
      const victim = segments.find((key) => key.includes(firstBackupSegment));
      expect(victim).toBeDefined();
      const body = await getBytes(victim as string);
      await s3().send(new DeleteObjectCommand({ Bucket: minioInfo().bucket, Key: victim }));
      try {
        // Enough newer segments that the gap is outside wal-g's "still uploading" window.
        const ours = await tool(`${REPO_BIN}/wal-native`, ["wal-verify", "--json"], { WALG_UPLOAD_CONCURRENCY: "1" });
        const theirs = await tool(walg, ["wal-verify", "integrity", "timeline", "--json"], { WALG_UPLOAD_CONCURRENCY: "1" });
        expect(ours.code).toBe(2);
        const result = JSON.parse(ours.stdout);
        expect(result.integrity.status).toBe("FAILURE");
        expect(result.integrity.details).toContainEqual(expect.objectContaining({ start_segment: firstBackupSegment, status: "MISSING_LOST" }));
        expect(ours.stdout.trim()).toBe(theirs.stdout.trim());
        const text = await tool(`${REPO_BIN}/wal-native`, ["wal-verify"], { WALG_UPLOAD_CONCURRENCY: "1" });
        expect(text.stdout).toContain("[wal-verify] integrity check status: FAILURE");
        const theirsText = await tool(walg, ["wal-verify", "integrity", "timeline"], { WALG_UPLOAD_CONCURRENCY: "1" });
        expect(sections(text.stdout)).toEqual(sections(theirsText.stdout));
        expect(text.stdout).toMatch(new RegExp(`\\| +1 \\| ${firstBackupSegment} \\| ${firstBackupSegment} \\| +1 \\| +MISSING_LOST \\|`));
      } finally {
        await putObject(victim as string, body);
      }
    });

    it("takes the position from --timeline/--lsn without a database connection", async () => {
      const lsn = await psql(cluster, "select pg_current_wal_lsn()");
      const ours = await runAsPostgres(`${REPO_BIN}/wal-native`, ["wal-verify", "timeline", "--timeline", "1", "--lsn", lsn, "--json"], {
        env: { ...env, PGHOST: "/nonexistent" },
      });
      expect(JSON.parse(ours.stdout)).toEqual({ timeline: { status: "OK", details: { current_timeline_id: 1, highest_storage_timeline_id: 1 } } });
    });
  });
});

/** wal-verify's text, one entry per check, in a fixed order. */
function sections(text: string): string[] {
  return text.split(/(?=\[wal-verify\] \w+ check status)/).filter(Boolean).sort();
}

let client: S3Client | undefined;
function s3(): S3Client {
  const info = minioInfo();
  client ??= new S3Client({ endpoint: info.endpoint, region: info.region, forcePathStyle: true, credentials: { accessKeyId: info.accessKey, secretAccessKey: info.secretKey } });
  return client;
}

async function getBytes(key: string): Promise<Buffer> {
  const { getObject } = await import("../support/minio.js");
  return getObject(key);
}
