// pgBackRest as a peer: `archive-push` and `archive-get` with archive-async=y (a spool directory per cluster,
// process-max 2), its S3 driver on the bench's https MinIO (the same endpoint every tool uses), lz4, and zst
// where the others use brotli (pgBackRest has no brotli; zst is the nearest: a modern entropy-coded LZ codec
// at a similar ratio and speed, level 3 against brotli's quality 3). Each scenario gets its own config file,
// spool, lock and log paths, so nothing is shared with another run or with /etc/pgbackrest. Its file log is
// off, as ours and wal-g's are in the bench.
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ACCESS_KEY, BUCKET, caFile, listKeys, SECRET_KEY } from "./minio.mjs";
import { check, mkdirForPostgres, postgresEnv } from "./proc.mjs";

export const PGBACKREST_BIN = "/usr/bin/pgbackrest";
export const STANZA = "bench";
/** pgBackRest's codec for each codec name of the bench. */
export const PGBACKREST_CODEC = { lz4: "lz4", brotli: "zst" };

/**
 * Returns { bin, version } or { reason } when pgBackRest is absent and cannot be installed. Installs Debian's
 * package when missing (root and apt-get: the bench's setup step, as for matplotlib).
 */
export function ensurePgbackrest(say) {
  if (!existsSync(PGBACKREST_BIN)) {
    if (!existsSync("/usr/bin/apt-get") || process.getuid?.() !== 0) return { reason: "pgbackrest is not installed (apt-get install pgbackrest)" };
    say("pgBackRest: installing Debian's pgbackrest package (once)");
    const install = () => execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "pgbackrest"],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    try {
      try {
        install();
      } catch {
        execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "pipe"] });
        install();
      }
    } catch (error) {
      return { reason: `pgbackrest is not installed and apt-get install pgbackrest failed: ${error.stderr?.toString().trim().split("\n").at(-1) ?? error.message}` };
    }
  }
  try {
    const version = execFileSync(PGBACKREST_BIN, ["version"]).toString().trim();
    return { bin: PGBACKREST_BIN, version };
  } catch (error) {
    return { reason: `pgbackrest version failed: ${error.message.split("\n")[0]}` };
  }
}

/**
 * Writes <root>/pgbackrest.conf for a cluster at `dataDir` using repository s3://bucket/<prefix> through
 * `endpoint` (https://127.0.0.1:<port>, MinIO or the delay proxy); `socketDir` and `port` for an online stanza.
 * Returns { config, spool, archivePush, archiveGet, stanzaCreate(online) }.
 */
export function pgbackrestSetup(root, { dataDir, endpoint, prefix, codec, socketDir, port }) {
  const dir = mkdirForPostgres(join(root, "pgbackrest"));
  const url = new URL(endpoint);
  const config = join(dir, "pgbackrest.conf");
  const settings = [
    "[global]",
    "repo1-type=s3", `repo1-path=/${prefix}`, `repo1-s3-bucket=${BUCKET}`, `repo1-s3-endpoint=${url.hostname}`,
    `repo1-storage-port=${url.port}`, `repo1-storage-ca-file=${caFile()}`, "repo1-s3-region=us-east-1",
    `repo1-s3-key=${ACCESS_KEY}`, `repo1-s3-key-secret=${SECRET_KEY}`, "repo1-s3-uri-style=path",
    "archive-async=y", "process-max=2", `compress-type=${PGBACKREST_CODEC[codec]}`,
    `spool-path=${mkdirForPostgres(join(dir, "spool"))}`, `lock-path=${mkdirForPostgres(join(dir, "lock"))}`,
    `log-path=${mkdirForPostgres(join(dir, "log"))}`, "log-level-console=warn", "log-level-stderr=warn", "log-level-file=off",
    "", `[${STANZA}]`, `pg1-path=${dataDir}`,
    ...(socketDir ? [`pg1-socket-path=${socketDir}`, `pg1-port=${port}`, "pg1-user=postgres"] : []),
    "",
  ];
  writeFileSync(config, settings.join("\n"), { mode: 0o644 });
  const base = `${PGBACKREST_BIN} --config=${config} --stanza=${STANZA}`;
  return {
    config,
    archivePush: `${base} archive-push`,
    archiveGet: `${base} archive-get`,
    /** stanza-create: online checks the running cluster; offline reads pg_control from pg1-path. */
    stanzaCreate: (online) => check(PGBACKREST_BIN, [`--config=${config}`, `--stanza=${STANZA}`, ...(online ? [] : ["--no-online"]), "stanza-create"],
      { asPostgres: true, env: postgresEnv() }),
  };
}

/** Names of the segments pgBackRest holds under <prefix> (its keys are archive/<stanza>/<id>/<dir>/<name>-<sha1>.<ext>). */
export async function pgbackrestSegments(endpoint, prefix) {
  const keys = await listKeys(endpoint, `${prefix}/archive/${STANZA}/`);
  return new Set(keys.map((key) => /\/([0-9A-F]{24})-[0-9a-f]{40}(?:\.\w+)?$/.exec(key)?.[1]).filter(Boolean));
}
