// The container, built and run: Dockerfile.walg from the command in docs/CONTAINERS.md, a scenario
// driven by testcontainers (archive under pgbench to MinIO, recover in a second container to a restore
// point, wal-native check, tini as PID 1), and the compose overlay merged onto the runbook's base file
// and brought up, all on a Docker engine of the test's own (test/support/docker-engine.ts) with host
// networking only. wal-g goes into the image only when WALG_BIN names one.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { chown, copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Engine, startEngine } from "../support/docker-engine.js";
import { type BuiltImages, buildImages } from "../support/docker-images.js";
import { freePort } from "../support/minio-server.js";
import { minioInfo, uniquePrefix } from "../support/minio.js";
import { REPO_ROOT, WORK_DIR_PREFIX } from "../support/paths.js";
import { findWalg } from "../support/walg.js";

const run = promisify(execFile);
const DOC = join(REPO_ROOT, "docs", "CONTAINERS.md");
const PGDATA = "/var/lib/postgresql/data";
const WAL_RESTORE = "/usr/local/bin/wal-restore.sh %f %p";

// wal-g goes into the image where one is found (WALG_BIN, PATH, ~/go/bin); else the image has none, the
// base backup is taken with pg_basebackup, and the test's name says so.
const walgBin = findWalg();
const withoutWalg = walgBin ? "" : " (wal-g steps skipped: no wal-g binary; set WALG_BIN; base backup by pg_basebackup)";

/** The fenced block after each `<!-- container-test: NAME -->` marker, as command lines (continuations joined). */
export function markedBlocks(markdown: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  const marker = /<!-- container-test: ([a-z-]+) -->\n```sh\n([\s\S]*?)\n```/g;
  for (const [, name, body] of markdown.matchAll(marker)) {
    blocks.set(name as string, (body as string).replace(/\\\n\s*/g, "").split("\n").filter((l) => l.trim() && !l.trim().startsWith("#")));
  }
  return blocks;
}
const docBlocks = markedBlocks(readFileSync(DOC, "utf8"));
function block(name: string): string[] {
  const lines = docBlocks.get(name);
  if (!lines) throw new Error(`docs/CONTAINERS.md has no block marked container-test: ${name}`);
  return lines;
}

/** The runbook's .env (docker/.env.example) with the storage pointed at this run's MinIO. */
function runbookEnv(overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(REPO_ROOT, "docker", ".env.example"), "utf8").split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1] as string] = m[2] as string;
  }
  const info = minioInfo();
  return {
    ...env,
    AWS_ENDPOINT: info.endpoint,
    AWS_ACCESS_KEY_ID: info.accessKey,
    AWS_SECRET_ACCESS_KEY: info.secretKey,
    AWS_REGION: info.region,
    AWS_S3_FORCE_PATH_STYLE: "true",
    POSTGRES_LISTEN_ADDRESSES: "127.0.0.1",
    ...overrides,
  };
}

let engine: Engine;
let images: BuiltImages;
let workDir: string;
let containerPgUid = 0;
const savedEnv: Record<string, string | undefined> = {};

async function sh(container: StartedTestContainer, command: string, user = "postgres"): Promise<{ code: number; out: string; stdout: string }> {
  const result = await container.exec(["sh", "-c", command], { user });
  return { code: result.exitCode, out: result.output.trim(), stdout: result.stdout };
}
async function sql(container: StartedTestContainer, query: string): Promise<string> {
  const { code, out } = await sh(container, `psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U sahool -d sahool -Atc "${query}"`);
  if (code !== 0) throw new Error(`psql failed (${code}): ${out}`);
  return out;
}
async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
async function containerLogs(id: string): Promise<string> {
  const { stdout, stderr } = await run("docker", ["logs", "--tail", "60", id], { env: engine.env }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? "", stderr: e.stderr ?? "" }));
  return `${stdout}${stderr}`;
}

function postgresContainer(env: Record<string, string>, dataDir: string, extraMounts: Array<{ source: string; target: string }> = []): GenericContainer {
  return new GenericContainer(images.image)
    .withNetworkMode("host")
    .withEnvironment(env)
    .withBindMounts([{ source: dataDir, target: PGDATA }, ...extraMounts])
    .withWaitStrategy(Wait.forSuccessfulCommand(`pg_isready -h 127.0.0.1 -p ${env["PGPORT"]} -U sahool`))
    .withStartupTimeout(180_000);
}

async function ownedDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  await chown(path, containerPgUid, containerPgUid);
  return path;
}

beforeAll(async () => {
  const started = Date.now();
  engine = await startEngine();
  for (const key of ["DOCKER_HOST", "DOCKER_BUILDKIT", "TESTCONTAINERS_RYUK_DISABLED", "TESTCONTAINERS_HOST_OVERRIDE"]) {
    savedEnv[key] = process.env[key];
    process.env[key] = engine.env[key];
  }
  // Not through support/postgres.js: vitest.config.ts reruns every e2e file importing it on PostgreSQL 16,
  // and the image's PostgreSQL comes from its base, not from that setting.
  workDir = await mkdtemp(`${WORK_DIR_PREFIX}${inject("runId") ?? "norun"}-container-`);
  const buildLine = block("build")[0] ?? "";
  images = await buildImages(engine, buildLine.split(/\s+/), walgBin, workDir);
  const uid = (await engine.docker(["run", "--rm", "--network", "host", "--entrypoint", "id", images.image, "-u", "postgres"])).trim();
  containerPgUid = Number(uid);
  console.log(`[ops-docker] image ${images.image}: ${(images.sizeBytes / 1e6).toFixed(0)} MB (${(images.addedBytes / 1e6).toFixed(0)} MB on top of the base), Node ${images.nodeVersion}, ` +
    `wal-g ${images.withWalg ? "from WALG_BIN" : "left out"}; ${Object.entries(images.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(", ")}; ` +
    `engine + images ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 1_800_000);

afterAll(async () => {
  await engine?.stop();
  if (workDir && process.env["WALNATIVE_TEST_KEEP"] !== "1") await rm(workDir, { recursive: true, force: true });
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}, 300_000);

describe("Dockerfile.walg and the container scenario (testcontainers, host network)", () => {
  it("the README's container blocks are docs/CONTAINERS.md's, which this test runs", () => {
    const readme = markedBlocks(readFileSync(join(REPO_ROOT, "README.md"), "utf8"));
    expect([...readme.keys()].sort()).toEqual(["build", "compose-setup", "compose-up"]);
    for (const [name, lines] of readme) expect(lines, name).toEqual(block(name));
  });

  it("the image has Node 22, the native codecs load, the runbook's commands start, and tini is its entrypoint", async () => {
    expect(images.nodeVersion).toMatch(/^22\./);
    const out = await engine.docker(["run", "--rm", "--network", "host", images.image, "sh", "-c",
      "node --version; wal-archive.sh --version; wal-restore.sh --version; cat /proc/1/comm; " +
      "cd /opt/wal-native && node -e 'require(\"lz4\"); require(\"zstd-napi\"); console.log(\"codecs ok\")'; " +
      "command -v wal-g || echo 'no wal-g'"]);
    expect(out).toMatch(/^v22\.\d+\.\d+\nwal-archive \d\S*\nwal-restore \d\S*\ntini\ncodecs ok\n/);
    expect(out.trim().split("\n").pop()).toBe(images.withWalg ? "/usr/local/bin/wal-g" : "no wal-g");
    const entrypoint = JSON.parse(await engine.docker(["image", "inspect", "--format", "{{json .Config.Entrypoint}}", images.image])) as string[];
    expect(entrypoint).toEqual(["/usr/bin/tini", "--", "walnative-entrypoint.sh"]);
  });

  it(`archives under pgbench to MinIO, and a second container recovers to a restore point with restore-prepare and wal-restore.sh${withoutWalg}`, async () => {
    const scenarioStarted = Date.now();
    const prefix = uniquePrefix("container");
    const env = runbookEnv({ WALG_S3_PREFIX: `s3://${minioInfo().bucket}/${prefix}`, PGPORT: String(await freePort()) });
    const primaryData = await ownedDir(join(workDir, "primary-data"));
    const backupDir = await ownedDir(join(workDir, "backup"));
    const primary = await postgresContainer(env, primaryData, [{ source: backupDir, target: "/backup" }]).start();
    let recovered: StartedTestContainer | undefined;
    try {
      // The runbook's settings, from the image's entrypoint (no command line of ours).
      expect(await sql(primary, "SHOW archive_mode")).toBe("on");
      expect(await sql(primary, "SHOW archive_command")).toBe("/usr/local/bin/wal-archive.sh %p %f");

      // PID 1 is tini; the postmaster is not.
      expect((await sh(primary, "cat /proc/1/comm")).out).toBe("tini");
      expect((await sh(primary, `head -1 ${PGDATA}/postmaster.pid`)).out).not.toBe("1");

      const bench = await sh(primary, "pgbench -i -q -s 5 -h /var/run/postgresql -U sahool sahool && pgbench -n -c 2 -T 8 -h /var/run/postgresql -U sahool sahool");
      expect(bench.code, bench.out).toBe(0);

      // The detached uploader was handed to tini when the archive call that started it exited.
      const parents = await sh(primary, "for s in /proc/[0-9]*/cmdline; do if tr '\\0' ' ' <$s | grep -q -- --upload-worker; then d=${s%/cmdline}; " +
        "p=$(awk '/^PPid:/ {print $2}' $d/status); echo \"$(cat /proc/$p/comm)\"; fi; done", "root");
      expect(parents.out.split("\n").filter(Boolean), "the uploader's parent").toContain("tini");
      expect(parents.out).not.toMatch(/postgres/);

      if (walgBin) {
        const push = await sh(primary, `wal-g backup-push ${PGDATA} 2>&1`);
        expect(push.code, push.out).toBe(0);
      } else {
        const backup = await sh(primary, "pg_basebackup -h /var/run/postgresql -U sahool -D /backup/base -X none -c fast 2>&1");
        expect(backup.code, backup.out).toBe(0);
      }
      await sql(primary, "CREATE TABLE marker AS SELECT g AS id FROM generate_series(1, 1000) g");
      await sh(primary, "pgbench -n -c 2 -t 200 -h /var/run/postgresql -U sahool sahool");
      const expected = await sql(primary, "SELECT (SELECT count(*) FROM marker) || ' ' || (SELECT sum(abalance) FROM pgbench_accounts)");
      await sql(primary, "SELECT pg_create_restore_point('before_mistake')");
      await sql(primary, "DROP TABLE marker; UPDATE pgbench_accounts SET abalance = abalance + 1");
      const last = await sql(primary, "SELECT pg_walfile_name(pg_switch_wal())");
      await waitUntil(`${last} archived`, async () => (await sql(primary, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")) >= last);

      // wal-native check inside: storage, archiver, backlog and local archive are ok; backups too with wal-g.
      const check = await sh(primary, "wal-native check --json");
      const report = JSON.parse(check.stdout) as { status: string; checks: Array<{ check: string; status: string; message: string }> };
      expect(report.checks.map((c) => c.check)).toEqual(expect.arrayContaining(["archiver", "backlog", "backups", "local archive", "storage"]));
      for (const c of report.checks.filter((f) => f.check !== "backups")) expect(c.status, `${c.check}: ${c.message}`).toBe("ok");
      if (walgBin) expect(check.code, check.out).toBe(0);
      else expect(["warning", "critical"], "no wal-g, so no base backup in the bucket").toContain(report.checks.find((c) => c.check === "backups")?.status);

      // The second container: prepare (one-shot, as postgres), then the server recovers and promotes.
      const envB = runbookEnv({ WALG_S3_PREFIX: env["WALG_S3_PREFIX"] as string, PGPORT: String(await freePort()) });
      const dataB = await ownedDir(join(workDir, "recovered-data"));
      if (!walgBin) {
        await cp(join(backupDir, "base"), dataB, { recursive: true });
        await run("chown", ["-R", `${containerPgUid}:${containerPgUid}`, dataB]);
      }
      const prepare = await new GenericContainer(images.image)
        .withNetworkMode("host").withEnvironment(envB).withUser("postgres")
        .withBindMounts([{ source: dataB, target: PGDATA }])
        .withCommand(["wal-native", "restore-prepare", PGDATA, ...(walgBin ? ["--fetch", "LATEST"] : []),
          "--target-name", "before_mistake", "--restore-command", WAL_RESTORE])
        .withWaitStrategy(Wait.forOneShotStartup()).withStartupTimeout(180_000)
        .start();
      const prepareId = prepare.getId();
      const exit = (await engine.docker(["inspect", "--format", "{{.State.ExitCode}}", prepareId])).trim();
      expect(exit, await containerLogs(prepareId)).toBe("0");
      expect(await readFile(join(dataB, "postgresql.auto.conf"), "utf8")).toContain(`restore_command = '${WAL_RESTORE}'`);

      recovered = await postgresContainer(envB, dataB).start();
      const container = recovered;
      await waitUntil("the recovered server to promote", async () => (await sql(container, "SELECT pg_is_in_recovery()")) === "f", 300_000);
      expect(await sql(recovered, "SELECT (SELECT count(*) FROM marker) || ' ' || (SELECT sum(abalance) FROM pgbench_accounts)")).toBe(expected);
      const restoreLog = await sh(recovered, "cat /var/log/postgresql/wal-restore.log");
      expect(restoreLog.out).toMatch(/restored [0-9A-F]{24}/);
      expect((await sh(recovered, "cat /proc/1/comm")).out).toBe("tini");
      console.log(`[ops-docker] scenario (archive, backup, recovery) took ${((Date.now() - scenarioStarted) / 1000).toFixed(1)} s`);
    } finally {
      await recovered?.stop().catch(() => undefined);
      await primary.stop().catch(() => undefined);
    }
  }, 900_000);
});

describe("docker/docker-compose.walg.yml as an overlay of the runbook's compose file", () => {
  const project = `walnative${process.pid}`;
  let dir: string;
  let composeEnv: NodeJS.ProcessEnv;

  function envFor(files: string | undefined): NodeJS.ProcessEnv {
    return files === undefined ? composeEnv : { ...composeEnv, COMPOSE_FILE: files };
  }
  /** Runs one documented line in the compose directory, as a user would in a shell. */
  async function docLine(line: string, files?: string): Promise<string> {
    const { stdout } = await run("sh", ["-c", line], { cwd: dir, env: envFor(files), timeout: 300_000 });
    return stdout.trim();
  }
  /** A `docker-compose config` line's output as JSON (Debian's docker-compose brings PyYAML with it). */
  async function configJson(line: string, files?: string): Promise<{ services: Record<string, Record<string, unknown>> }> {
    const json = await docLine(`${line} | /usr/bin/python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'`, files);
    return JSON.parse(json) as { services: Record<string, Record<string, unknown>> };
  }

  beforeAll(async () => {
    dir = join(workDir, "compose");
    await mkdir(dir, { recursive: true });
    await copyFile(join(REPO_ROOT, "test", "fixtures", "container", "docker-compose.yml"), join(dir, "docker-compose.yml"));
    const pgPort = await freePort();
    const env = runbookEnv({ WALG_S3_PREFIX: `s3://walnative-compose-${process.pid}/pg-primary`, PGPORT: String(pgPort) });
    // The runbook's .env as it is before the documented setup appends COMPOSE_FILE to it.
    await writeFile(join(dir, "runbook.env"), Object.entries(env).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
    await copyFile(join(dir, "runbook.env"), join(dir, ".env"));
    composeEnv = { ...engine.env, WALNATIVE_SRC: REPO_ROOT, COMPOSE_PROJECT_NAME: project };
    // The test's own third file: every service on the host network (never a bridge), and the
    // image of the build above.
    await writeFile(join(dir, "docker-compose.test-host.yml"), [
      "services:",
      ...["postgres", "walg-init", "minio"].flatMap((s) => [`  ${s}:`, "    network_mode: host"]),
      "",
    ].join("\n"));
    for (const line of block("compose-setup")) await docLine(line);
  });

  afterAll(async () => {
    await run("docker-compose", ["down", "-v", "--remove-orphans"], {
      cwd: dir, env: { ...composeEnv, COMPOSE_FILE: "docker-compose.yml:docker-compose.walg.yml:docker-compose.test-host.yml" },
    }).catch(() => undefined);
  }, 120_000);

  it("keeps the base's services, command, healthcheck and data volume, and adds the image, init, storage settings and walg-init", async () => {
    const env = (await readFile(join(dir, ".env"), "utf8"));
    expect(env).toMatch(/^COMPOSE_FILE=docker-compose\.yml:docker-compose\.walg\.yml$/m);
    const base = await configJson("docker-compose config", "docker-compose.yml");
    // The documented command, which takes the files from COMPOSE_FILE in .env.
    const overlay = await configJson(block("compose-config")[0] as string);
    expect(Object.keys(overlay.services).sort()).toEqual(["minio", "postgres", "walg-init"]);
    expect(overlay.services["minio"]).toEqual(base.services["minio"]);
    const pg = overlay.services["postgres"] as Record<string, unknown>;
    const basePg = base.services["postgres"] as Record<string, unknown>;
    expect(pg["command"]).toEqual(basePg["command"]);
    expect(pg["healthcheck"]).toEqual(basePg["healthcheck"]);
    expect(pg["ports"]).toEqual(basePg["ports"]);
    expect(pg["image"]).toBe("sahool/postgres-walg:16-3.4");
    expect(pg["init"]).toBe(true);
    expect(pg["volumes"]).toEqual(expect.arrayContaining(["postgres_data:/var/lib/postgresql/data:rw",
      "wal_archive:/var/lib/postgresql/wal_archive:rw", "postgres_logs:/var/log/postgresql:rw"]));
    const environment = pg["environment"] as Record<string, string>;
    expect(environment["POSTGRES_USER"]).toBe("sahool");
    expect(environment["WALG_S3_PREFIX"]).toMatch(/^s3:\/\/walnative-compose-/);
    expect((overlay.services["walg-init"] as Record<string, unknown>)["entrypoint"]).toEqual(["/usr/local/bin/init-walg.sh"]);
  });

  it("comes up from the documented commands: base command kept, archiving to MinIO, PID 1 an init, no bridge network", async () => {
    // On the host network published ports mean nothing, and docker-compose 1.29 refuses them there:
    // the bring-up uses the base file without its `ports:`, everything else as it is.
    const baseWithoutPorts = await docLine(`/usr/bin/python3 -c 'import sys, yaml; d = yaml.safe_load(open("docker-compose.yml"))
for s in d["services"].values(): s.pop("ports", None)
print(yaml.safe_dump(d, sort_keys=False))'`);
    dir = join(workDir, "compose-up");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "docker-compose.yml"), baseWithoutPorts);
    await copyFile(join(workDir, "compose", "runbook.env"), join(dir, ".env"));
    await copyFile(join(workDir, "compose", "docker-compose.test-host.yml"), join(dir, "docker-compose.test-host.yml"));
    for (const line of block("compose-setup")) await docLine(line);
    const files = "docker-compose.yml:docker-compose.walg.yml:docker-compose.test-host.yml";
    const [up, init] = block("compose-up");
    await docLine(up as string, files);
    await waitUntil("the compose postgres to accept connections", async () =>
      (await docLine("docker-compose exec -T postgres pg_isready -h 127.0.0.1 -U sahool", files)).includes("accepting"), 180_000);
    const initOut = await docLine(init as string, files);
    expect(initOut).toMatch(/round trip/);
    const verify = block("compose-verify");
    const outputs: string[] = [];
    for (const line of verify) outputs.push(await docLine(line, files));
    expect(outputs[0]).toBe("on");
    expect(outputs[1]).toBe("/usr/local/bin/wal-archive.sh %p %f");
    const segment = outputs[2] as string;
    expect(segment).toMatch(/^[0-9A-F]{24}$/);
    await waitUntil(`${segment} archived`, async () =>
      (await docLine(`docker-compose exec -T postgres psql -U sahool -Atc "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver"`, files)) >= segment);
    // The base's own command line is still in force, and PID 1 is Docker's init (init: true), not the postmaster.
    expect(await docLine(`docker-compose exec -T postgres psql -U sahool -Atc "SHOW max_connections"`, files)).toBe("150");
    expect(await docLine("docker-compose exec -T postgres cat /proc/1/comm", files)).toBe("docker-init");
    const networks = await engine.docker(["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    expect(networks).not.toMatch(/ bridge$/m);
  }, 600_000);
});
