// Benchmark data: N consecutive real 16 MiB WAL segments written by `pgbench -i`, plus the base backup
// taken just before that load, so a recovery from the backup replays through exactly those N segments.
// Generated once with a throwaway PostgreSQL 15 cluster and cached with a manifest.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { clusterAt, configure, freePort, initdb, pgbench, psql, start, stop } from "./lib/pg.mjs";
import { check, mkdirForPostgres, PG_BIN, postgresEnv } from "./lib/proc.mjs";

const SEGMENT_SIZE = 16 * 1024 * 1024;
const MANIFEST_VERSION = 1;

/** Returns { dir, base, segmentsDir, segments: [names], manifest }, generating the data if the cache lacks it. */
export async function ensureSegments(ctx, n) {
  const dir = join(ctx.cacheDir, `segments-${n}`);
  const cached = readValid(dir, n);
  if (cached) {
    ctx.say(`data: using cached ${n} segments in ${dir}`);
    return cached;
  }
  ctx.say(`data: generating ${n} segments with pgbench (once; cached in ${dir})`);
  await generate(ctx, n, dir);
  const fresh = readValid(dir, n);
  if (!fresh) throw new Error(`generated data in ${dir} failed validation`);
  return fresh;
}

function readValid(dir, n) {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    if (manifest.version !== MANIFEST_VERSION || manifest.segments.length !== n) return undefined;
    const segmentsDir = join(dir, "segments");
    for (const name of manifest.segments) if (statSync(join(segmentsDir, name)).size !== SEGMENT_SIZE) return undefined;
    if (!existsSync(join(dir, "base", "backup_label")) || !existsSync(join(dir, "base", "global", "pg_control"))) return undefined;
    return { dir, base: join(dir, "base"), segmentsDir, segments: manifest.segments, manifest };
  } catch {
    return undefined;
  }
}

async function generate(ctx, n, dir) {
  const gen = mkdirForPostgres(join(ctx.workDir, `gen-${n}`));
  const cluster = clusterAt(mkdirForPostgres(join(gen, "primary")), await freePort());
  const archiveDir = mkdirForPostgres(join(gen, "archive"));
  const baseDir = join(gen, "base");
  await initdb(cluster);
  configure(cluster, {
    wal_level: "replica", archive_mode: "on", archive_command: `cp %p ${archiveDir}/%f`,
    max_wal_size: "4GB", checkpoint_timeout: "30min", shared_buffers: "128MB", synchronous_commit: "off",
  });
  const stopOnExit = await start(cluster, postgresEnv(ctx.markerEnv));
  await check(join(PG_BIN, "pg_basebackup"), ["-h", cluster.root, "-p", String(cluster.port), "-D", baseDir,
    "-X", "stream", "-c", "fast", "--no-sync"], { asPostgres: true, env: postgresEnv() });
  const first = backupStartSegment(readFileSync(join(baseDir, "backup_label"), "utf8"));
  const segments = consecutive(first, n);
  const scale = Math.ceil(n * 1.4) + 2;
  for (let round = 1; ; round++) {
    ctx.say(`data: pgbench -i -s ${scale} (round ${round})`);
    await pgbench(cluster, ["-i", "-q", "-s", String(scale), "postgres"]);
    const current = await psql(cluster, "select pg_walfile_name(pg_current_wal_lsn())");
    if (segNo(current) > segNo(segments.at(-1))) break;
    if (round >= 10) throw new Error(`pgbench produced too little WAL (at ${current}, need past ${segments.at(-1)})`);
  }
  await psql(cluster, "select pg_switch_wal()");
  await waitArchived(archiveDir, segments.at(-1));
  await stop(cluster);
  stopOnExit();
  store(dir, baseDir, archiveDir, segments, { scale, pgVersion: readFileSync(join(baseDir, "PG_VERSION"), "utf8").trim() });
  // The throwaway cluster of the large set alone holds gigabytes.
  rmSync(gen, { recursive: true, force: true });
}

/** Moves the base backup (without its pg_wal contents) and the chosen segments into the cache, atomically. */
function store(dir, baseDir, archiveDir, segments, extra) {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "segments"), { recursive: true });
  for (const entry of readdirSync(join(baseDir, "pg_wal"))) {
    if (entry !== "archive_status") rmSync(join(baseDir, "pg_wal", entry), { recursive: true, force: true });
  }
  for (const entry of readdirSync(join(baseDir, "pg_wal", "archive_status"))) rmSync(join(baseDir, "pg_wal", "archive_status", entry));
  move(baseDir, join(tmp, "base"));
  for (const name of segments) move(join(archiveDir, name), join(tmp, "segments", name));
  const manifest = { version: MANIFEST_VERSION, segments, segmentSize: SEGMENT_SIZE, createdAt: new Date().toISOString(),
    source: "pgbench -i on a fresh cluster, base backup (pg_basebackup -X stream) taken just before the load", ...extra };
  writeFileSync(join(tmp, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

function move(from, to) {
  try {
    renameSync(from, to);
  } catch (error) {
    if (error.code !== "EXDEV") throw error;
    execFileSync("cp", ["-a", from, to]);
    rmSync(from, { recursive: true, force: true });
  }
}

async function waitArchived(archiveDir, last) {
  const deadline = Date.now() + 300_000;
  while (!existsSync(join(archiveDir, last))) {
    if (Date.now() > deadline) throw new Error(`segment ${last} was not archived within 300 s`);
    await sleep(200);
  }
  // cp writes in place: wait until the file is complete.
  while (statSync(join(archiveDir, last)).size < SEGMENT_SIZE) await sleep(100);
}

/** "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)" -> the file name. */
export function backupStartSegment(label) {
  const match = /START WAL LOCATION: .* \(file ([0-9A-F]{24})\)/.exec(label);
  if (!match) throw new Error("backup_label has no START WAL LOCATION");
  return match[1];
}

/** Segment number within its timeline (16 MiB segments: 256 per log id). */
export function segNo(name) {
  return Number.parseInt(name.slice(8, 16), 16) * 256 + Number.parseInt(name.slice(16, 24), 16);
}

export function consecutive(first, n) {
  const timeline = first.slice(0, 8);
  const start = segNo(first);
  const hex = (value) => value.toString(16).toUpperCase().padStart(8, "0");
  return Array.from({ length: n }, (_, i) => `${timeline}${hex(Math.floor((start + i) / 256))}${hex((start + i) % 256)}`);
}
