// docs/GETTING-STARTED.md, part A (plain host), run from the document itself: every ```sh block of part A carries
// a marker, `<!-- test: KIND NAME[: reason] -->`, and this file reads the blocks out of the document and runs them
// in order, as root, the way a new user types them into a shell:
//   values   the names the guide uses; the one block replaced, by this machine's values (same variable names)
//   run      run
//   walg     run where a wal-g binary is found, skipped with the reason in its name elsewhere
//   no-walg  the documented wal-g-free alternative: run where no wal-g binary is found
//   skip     cannot run in a test (installing Node itself, a download from outside): skipped, its reason in its name
// The machine is a fresh one as far as the guide can tell: the blocks run in a private mount namespace where /etc,
// /opt, /usr/local, /var and the checkout are overlays on scratch directories (whatever the guide writes there is
// gone afterwards) and PostgreSQL's directories are empty tmpfs, with a cluster made by Debian's pg_createcluster
// (its socket only: no TCP port, so nothing on the machine is in its way). The network is the machine's: npm ci
// reaches the registry, and the MinIO is the run's, with a bucket and an archive user of this test's own.
// wal-g, where found, is installed into the namespace's /usr/local/bin only, as the guide's WALG_BIN block does.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readFile, readdir, readlink, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { minioInfo } from "../support/minio.js";
import { REPO_ROOT } from "../support/paths.js";
import { tempDir } from "../support/temp-dir.js";
import { findTool } from "../support/tools.js";
import { NO_WALG, walgBinary } from "../support/walg.js";

const DOC = join(REPO_ROOT, "docs", "GETTING-STARTED.md");

interface Block {
  readonly kind: "values" | "run" | "walg" | "no-walg" | "skip";
  readonly name: string;
  readonly reason?: string;
  readonly code: string;
}

/** The ```sh blocks between "## A." and "## B.", each with its marker; throws on a block without one. */
export function partABlocks(text: string): Block[] {
  const start = text.indexOf("\n## A. ");
  const end = text.indexOf("\n## B. ");
  if (start < 0 || end < start) throw new Error("docs/GETTING-STARTED.md has no part A followed by part B");
  const lines = text.slice(start, end).split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i] !== "```sh") continue;
    const close = lines.indexOf("```", i + 1);
    const marker = /^<!-- test: (values|run|walg|no-walg|skip)(?: ([\w-]+))?(?:: (.+))? -->$/.exec(lines[i - 1] ?? "");
    if (!marker) throw new Error(`a sh block of part A has no test marker: ${lines[i + 1]}`);
    blocks.push({ kind: marker[1] as Block["kind"], name: marker[2] ?? (marker[1] as string), reason: marker[3], code: lines.slice(i + 1, close).join("\n") });
    i = close;
  }
  return blocks;
}

const text = await readFile(DOC, "utf8");
const blocks = partABlocks(text);
const PG_MAJOR = 15; // Debian's packaged PostgreSQL, which pg_createcluster manages
const RUN = randomBytes(3).toString("hex");
const GUIDE_BUCKET = `guide-${RUN}`;
const ARCHIVE_USER = `guide-archiver-${RUN}`;

/** This machine's values: the same names as the guide's first block, and where things are here. */
function values(): string {
  const minio = minioInfo();
  return [
    `export PG_VERSION=${PG_MAJOR} PG_CLUSTER=main`,
    `export S3_ENDPOINT=${minio.endpoint}`,
    `export S3_BUCKET=${GUIDE_BUCKET} S3_PREFIX=pg-primary`,
    `export MINIO_ADMIN_USER=${minio.accessKey}`,
    `export MINIO_ADMIN_PASSWORD=${minio.secretKey}`,
    `export ARCHIVE_USER=${ARCHIVE_USER}`,
    "export ARCHIVE_SECRET=$(openssl rand -hex 24)",
    `export WALNATIVE_SRC=${REPO_ROOT}`,
  ].join("\n");
}

function exportedNames(code: string): string[] {
  return [...code.matchAll(/(?:^|\s)([A-Z][A-Z0-9_]*)=/g)].map((match) => match[1] as string).sort();
}

interface Run { code: number; stdout: string; stderr: string }

let scratch: string;
let holder: ReturnType<typeof spawn> | undefined;
let valuesFile: string;
let failedStep: string | undefined;

/** Runs a shell script inside the namespace, as root, with a new login's environment and the values exported. */
async function inNamespace(script: string, timeoutMs = 600_000): Promise<Run> {
  if (holder?.pid === undefined) throw new Error("the namespace is not up");
  const file = join(scratch, `step-${Date.now()}-${Math.random().toString(36).slice(2)}.sh`);
  await writeFile(file, `set -euo pipefail\n. ${valuesFile}\ncd "$HOME"\n${script}\n`);
  const env = {
    HOME: join(scratch, "home"),
    PATH: ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", dirname(mcBinary())].join(":"),
    LANG: "C.UTF-8",
    // A user's npm cache: the test's own, so that npm ci does not download every package again.
    npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? "/root", ".npm"),
    ...(walgBinary ? { WALG_BIN: walgBinary } : {}),
  };
  try {
    const { stdout, stderr } = await promisify(execFile)("nsenter", ["--target", String(holder.pid), "--mount", "--", "bash", file], {
      env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

function mcBinary(): string {
  const mc = findTool("mc");
  if (!mc) throw new Error("mc (MinIO's client) not found: run bash scripts/setup-test-tools.sh");
  return mc;
}

/** A step of the guide; once one fails, the later ones say so instead of failing on its consequences. */
async function step(block: Block, timeoutMs?: number): Promise<Run> {
  if (failedStep) throw new Error(`not run: step '${failedStep}' failed before it`);
  const run = await inNamespace(block.code, timeoutMs);
  if (run.code !== 0) failedStep = block.name;
  expect(run.code, `step '${block.name}' exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`).toBe(0);
  return run;
}

const SETUP = String.raw`
set -euo pipefail
scratch=$1 repo=$2 major=$3
# Whatever the guide writes under these goes to scratch layers; the machine's own files are only read.
for dir in /etc /opt /usr/local /var "$repo"; do
  layer=$scratch/overlay/$(echo "$dir" | tr / _)
  mkdir -p "$layer/upper" "$layer/work"
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir"
done
# PostgreSQL's directories start empty: none of this machine's clusters is seen or touched.
for dir in /etc/postgresql /var/lib/postgresql /var/log/postgresql /run/postgresql; do
  mkdir -p "$dir"
  mount -t tmpfs -o mode=0755 tmpfs "$dir"
done
chown postgres:postgres /var/lib/postgresql /var/log/postgresql /run/postgresql
chmod 2775 /run/postgresql
# The cluster to protect, as Debian's packages make it; listening on its socket only.
pg_createcluster "$major" main > "$scratch/createcluster.log"
echo "listen_addresses = ''" > "/etc/postgresql/$major/main/conf.d/no-tcp.conf"
pg_ctlcluster "$major" main start
echo READY
exec sleep infinity
`;

/** Every process in the namespace (PostgreSQL, the uploader, MinIO, the holder), ended by pid: all started here. */
async function endNamespace(): Promise<void> {
  if (holder?.pid === undefined) return;
  const ns = await readlink(`/proc/${holder.pid}/ns/mnt`).catch(() => undefined);
  await inNamespace(`pg_ctlcluster ${PG_MAJOR} main stop -m immediate || true`, 60_000).catch(() => undefined);
  if (ns) {
    for (const entry of await readdir("/proc")) {
      if (!/^\d+$/.test(entry) || Number(entry) === holder.pid) continue;
      if ((await readlink(`/proc/${entry}/ns/mnt`).catch(() => "")) === ns) process.kill(Number(entry), "SIGKILL");
    }
  }
  holder.kill("SIGKILL");
}

const NO_WALG_REASON = NO_WALG.replace(/^\(skipped: /, "").replace(/\)$/, "");

describe("docs/GETTING-STARTED.md, part A, run from the document", () => {
  beforeAll(async () => {
    scratch = await tempDir("getting-started");
    // root's home, as on a fresh machine: private, with the user's npm configuration where there is one (it may
    // name the Node headers that node-gyp compiles against, as this machine's does, instead of downloading them).
    await mkdir(join(scratch, "home"), { recursive: true, mode: 0o700 });
    await copyFile(join(homedir(), ".npmrc"), join(scratch, "home", ".npmrc")).catch(() => undefined);
    // The guide's values block, run once in place of the document's (the names must be the same).
    valuesFile = join(scratch, "values.sh");
    const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", `${values()}\nexport -p`]);
    const names = exportedNames(values());
    await writeFile(valuesFile, stdout.split("\n").filter((line) => names.some((name) => line.startsWith(`declare -x ${name}=`))).join("\n"));
    holder = spawn("unshare", ["--mount", "--propagation", "private", "--", "bash", "-c", SETUP, "setup", scratch, REPO_ROOT, String(PG_MAJOR)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    await new Promise<void>((resolve, reject) => {
      holder?.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("READY\n")) resolve();
      });
      holder?.stderr?.on("data", (chunk: Buffer) => void (output += chunk.toString()));
      holder?.on("exit", (code) => reject(new Error(`the namespace's setup exited ${code}:\n${output}`)));
    });
  }, 120_000);

  afterAll(async () => {
    await endNamespace();
    if (scratch) await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }, 120_000);

  it("every sh block of part A has a marker, and the values block names what this test sets", () => {
    expect(blocks.map((block) => `${block.kind} ${block.name}`)).toEqual([
      "values values", "skip install-node", "run node-and-build-tools", "run install-wal-native", "skip download-wal-g",
      "walg install-wal-g-binary", "run minio-user", "run settings-file", "run init", "run archive-command",
      "run prove-archiving", "walg full-backup", "no-walg base-backup-without-wal-g", "walg drill", "no-walg drill-without-wal-g",
      "walg protected", "run monitoring",
    ]);
    expect(exportedNames(blocks[0]?.code ?? "")).toEqual(exportedNames(values()));
  });

  for (const block of blocks) {
    if (block.kind === "values") continue;
    if (block.kind === "skip") {
      it.skip(`${block.name} (skipped: cannot run in a test: ${block.reason})`, () => undefined);
      continue;
    }
    const skipped = (block.kind === "walg" && !walgBinary) || (block.kind === "no-walg" && walgBinary !== undefined);
    const name = block.kind === "walg" && !walgBinary ? `${block.name} (skipped: ${NO_WALG_REASON}; the no-walg blocks run instead)`
      : block.kind === "no-walg" && walgBinary ? `${block.name} (skipped: wal-g is found, so the walg blocks run instead)`
        : block.name;
    it.skipIf(skipped)(name, async () => {
      const run = await step(block, block.name === "install-wal-native" ? 1_200_000 : 300_000);
      await CHECKS[block.name]?.(run);
    }, block.name === "install-wal-native" ? 1_300_000 : 330_000);
  }
});

/** What each step must have done, beyond exiting 0. */
const CHECKS: Record<string, (run: Run) => Promise<void>> = {
  "install-wal-native": async (run) => {
    expect(run.stdout).toMatch(/^wal-native \d+\.\d+\.\d+/m);
    const where = await inNamespace("readlink -f /usr/local/bin/wal-archive; ls /opt/wal-native/dist");
    expect(where.stdout).toContain("/opt/wal-native/bin/wal-archive\n");
    expect(where.stdout).toContain("wal-archive.cjs");
  },
  "install-wal-g-binary": async (run) => {
    expect(run.stdout).toMatch(/wal-g version v3\.0\.9/);
  },
  "minio-user": async () => {
    // The root credentials are not left on the host, and the archive's user cannot touch another bucket.
    const aliases = await inNamespace("mc alias list");
    expect(aliases.stdout).not.toContain("archive-admin");
    const denied = await inNamespace(`export WALG_S3_PREFIX=s3://another-bucket/x AWS_ENDPOINT=$S3_ENDPOINT AWS_S3_FORCE_PATH_STYLE=true
export AWS_ACCESS_KEY_ID=$ARCHIVE_USER AWS_SECRET_ACCESS_KEY=$ARCHIVE_SECRET WALNATIVE_LOCAL_ARCHIVE=
wal-native init || echo "exit $?"`);
    expect(denied.stdout).toContain("exit 75");
    expect(denied.stderr).toContain("AccessDenied (HTTP 403)");
    expect(denied.stderr).toContain("hint: the storage knows these credentials but its policy refuses them on bucket 'another-bucket'");
  },
  "settings-file": async () => {
    const run = await inNamespace("stat -c '%U:%G %a' /etc/wal-native/env; cat /etc/wal-native/env");
    expect(run.stdout).toMatch(/^root:postgres 640\n/);
    expect(run.stdout).toContain(`export AWS_ACCESS_KEY_ID=${ARCHIVE_USER}\n`);
    expect(run.stdout).not.toContain(minioInfo().accessKey);
    expect(run.stdout).not.toContain(minioInfo().secretKey);
  },
  init: async (run) => {
    expect(run.stdout).toMatch(/^changed +versioning +versioning enabled/m);
    expect(run.stdout).toMatch(/^ok +round trip +wrote, read back and deleted/m);
  },
  "archive-command": async () => {
    const run = await inNamespace("runuser -u postgres -- psql -Atc 'show archive_command' -c 'show archive_mode' -c 'show archive_timeout'");
    expect(run.stdout).toBe(". /etc/wal-native/env && exec /usr/local/bin/wal-archive %p %f\non\n1min\n");
  },
  "prove-archiving": async (run) => {
    expect(run.stdout).toMatch(/^wal-native check: WARNING \(1 warning\)$/m);
    expect(run.stdout).toMatch(/^ {2}ok +switch +[0-9A-F]{24} archived \d+ ms after pg_switch_wal\(\), read back and verified in \d+ ms \(.*XXH64 recorded at archive time matches; identical to pg_wal's copy\)$/m);
    expect(run.stdout).toMatch(new RegExp(`^ {2}warning +backups +no base backup in s3://${GUIDE_BUCKET}/pg-primary/ yet`, "m"));
  },
  "full-backup": async (run) => {
    expect(run.stdout).toMatch(/^base_[0-9A-F]{24} /m);
  },
  drill: async (run) => {
    expect(run.stdout).toMatch(/^OK: recovery time /m);
  },
  "drill-without-wal-g": async (run) => {
    expect(run.stdout).toMatch(/^OK: recovery time /m);
  },
  protected: async (run) => {
    expect(run.stdout).toMatch(/^wal-native check: OK$/m);
  },
  monitoring: async () => {
    // cron does not run in the test: the cron line's command runs as its user, as cron would run it.
    const line = (await inNamespace("grep -v '^#' /etc/cron.d/wal-native")).stdout.trim();
    const match = /^(\S+ \S+ \S+ \S+ \S+) (\S+) (.+)$/.exec(line);
    expect(match?.[1]).toBe("*/30 * * * *");
    expect(match?.[2]).toBe("postgres");
    const run = await inNamespace(`runuser -u ${match?.[2]} -- env -i HOME=/var/lib/postgresql PATH=/usr/bin:/bin sh -c ${shellQuote(match?.[3] ?? "")} || echo "exit $?"`);
    const log = await inNamespace("cat /var/log/postgresql/monitor-walg.log; cat /var/lib/prometheus/node-exporter/wal-native.prom");
    // With a backup in the archive (wal-g) everything is ok; without one, check warns and the alert command runs.
    expect(log.stdout).toMatch(walgBinary ? /^wal-native check: OK$/m : /^wal-native check: WARNING \(1 warning\)$/m);
    expect(log.stdout).toMatch(walgBinary ? /^walnative_check_status 0$/m : /^walnative_check_status 1$/m);
    expect(run.stdout).toBe(walgBinary ? "" : "exit 1\n");
  },
};

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

// Part B is not run here (no container image can be pulled on the test machine); its blocks must still name
// only commands and files that exist: the compose overlay, the Dockerfile and the scripts it calls.
describe("docs/GETTING-STARTED.md, part B", () => {
  it("names the repository's Dockerfile and compose overlay, which exist", async () => {
    const partB = text.slice(text.indexOf("\n## B. "));
    expect(partB).toContain("Dockerfile.walg");
    expect(partB).toContain("docker/docker-compose.walg.yml");
    expect((await stat(join(REPO_ROOT, "Dockerfile.walg"))).isFile()).toBe(true);
    expect((await stat(join(REPO_ROOT, "docker", "docker-compose.walg.yml"))).isFile()).toBe(true);
    for (const command of partB.matchAll(/docker compose exec [^\n]*?\b(wal-native \w[\w-]*|monitor-walg\.sh|init-walg\.sh)/g)) {
      expect(["wal-native init", "wal-native check", "wal-native backup", "wal-native drill", "monitor-walg.sh", "init-walg.sh"]
        .some((known) => (command[1] as string).startsWith(known)), command[0]).toBe(true);
    }
  });
});
