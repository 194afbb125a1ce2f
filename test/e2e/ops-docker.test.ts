// The image and compose stack of the runbook, through the docker CLI. Runs only where a Docker
// engine is reachable (this is the one test allowed to skip); everything else is tested on the host
// through scripts/install.sh (ops-install.test.ts).
import { execFile, spawnSync } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/paths.js";

const engine = spawnSync("docker", ["info"], { timeout: 15_000, stdio: "ignore" }).status === 0;
const reason = engine ? "" : " [skipped: no Docker engine reachable]";
const compose = join(REPO_ROOT, "docker", "docker-compose.walg.yml");

async function docker(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout } = await promisify(execFile)("docker", args, { cwd: REPO_ROOT, env, timeout: 1_800_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

describe("Dockerfile.walg and docker/docker-compose.walg.yml", () => {
  it.skipIf(!engine)(`build the image and archive to MinIO through the runbook's wal-archive.sh${reason}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "walnative-docker-"));
    const envFile = join(dir, ".env");
    await copyFile(join(REPO_ROOT, "docker", ".env.example"), envFile);
    await writeFile(envFile, `${await readFile(envFile, "utf8")}\nWALNATIVE_ENV_FILE=${envFile}\n`);
    const env = { ...process.env, WALNATIVE_ENV_FILE: envFile, POSTGRES_PASSWORD: "change-me", MINIO_ROOT_USER: "sahool_minio_admin", MINIO_ROOT_PASSWORD: "change-me-too" };
    const project = ["compose", "-p", `walnative${process.pid}`, "-f", compose];
    try {
      await docker([...project, "up", "-d", "--build", "--wait"], env);
      expect(await docker([...project, "exec", "-T", "postgres", "wal-archive.sh", "--version"], env)).toMatch(/^wal-archive \d/);
      await docker([...project, "exec", "-T", "-u", "postgres", "postgres", "psql", "-U", "sahool", "-c", "select pg_switch_wal()"], env);
      let status = "";
      for (let i = 0; i < 30 && !/archived/.test(status); i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        status = await docker([...project, "exec", "-T", "-u", "postgres", "postgres", "psql", "-U", "sahool", "-tAc", "select coalesce(last_archived_wal, '') || ' archived' from pg_stat_archiver"], env);
      }
      expect(status).toMatch(/^[0-9A-F]{24} archived/);
      expect(await docker([...project, "exec", "-T", "-u", "postgres", "postgres", "wal-native", "backup-list", "--json"], env)).toBe("[]\n");
    } finally {
      await docker([...project, "down", "-v"], env).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }, 2_400_000);
});
