// The tools the bench compares, in one place: how each archives and restores a file (as a command line for
// PostgreSQL, with %p and %f, and as argv for the bench's own archiver), what it needs set up per cluster
// (pgBackRest's config and stanza, wal-g's daemon), and how to check that storage holds what it pushed.
//   ours          bin/wal-archive %p %f, bin/wal-restore %f %p
//   wal-g         wal-g wal-push %p, wal-g wal-fetch %f %p
//   wal-g daemon  walg-daemon-client <socket> wal-push %f / wal-fetch %f %p, against `wal-g daemon`
//   pgbackrest    pgbackrest archive-push %p / archive-get %f %p, archive-async=y, process-max 2
//   cp            the floor: cp to and from a local directory
//   pg_wal        recovery only, the physical limit: every segment already in pg_wal, no restore_command
import { join } from "node:path";
import { startDaemon } from "./daemon.mjs";
import { listKeys, s3Env } from "./minio.mjs";
import { PGBACKREST_CODEC, pgbackrestSegments, pgbackrestSetup } from "./pgbackrest.mjs";
import { postgresEnv } from "./proc.mjs";

export const CODEC_EXT = { lz4: "lz4", brotli: "br" };

/** How a tool is named in tables: pgBackRest's codec is named where it differs from the column's. */
export function toolLabel(tool, codec) {
  if (tool === "pgbackrest") return codec && PGBACKREST_CODEC[codec] !== codec ? `pgBackRest async (${PGBACKREST_CODEC[codec]}, nearest to ${codec})` : "pgBackRest async";
  return tool;
}

/** Why a tool cannot run here, or undefined. */
export function unavailable(ctx, tool) {
  if (tool === "wal-g") return ctx.tools.walg ? undefined : ctx.tools.walgNote;
  if (tool === "wal-g daemon") return ctx.tools.daemonClient ? undefined : ctx.tools.daemonNote;
  if (tool === "pgbackrest") return ctx.tools.pgbackrest ? undefined : ctx.tools.pgbackrestNote;
  return undefined;
}

/** The environment every tool of a scenario gets (pg_ctl passes it on to archive and restore commands). */
export function toolEnv(ctx, { scenarioEnv, endpoint, prefix, codec, extra = {} }) {
  return postgresEnv({
    ...ctx.markerEnv, ...scenarioEnv, ...ctx.toolSettings,
    ...(endpoint ? s3Env(endpoint, prefix) : {}), WALG_COMPRESSION_METHOD: codec ?? "lz4", ...extra,
  }, ctx.toolsDir);
}

/**
 * Sets a tool up for one cluster (or the bench's stand-in data dir) and returns { archive, restore, stop }:
 * archive and restore are command lines with PostgreSQL's %p and %f; archiveArgv(name) and restoreArgv(name,
 * dest) the same for the bench's own calls. opts: { root, dataDir, endpoint, prefix, codec, env, cgroup, cpDir,
 * online: { socketDir, port } (pgBackRest checks a running cluster), stanza: false to skip stanza-create }.
 */
export async function setUp(ctx, tool, opts) {
  switch (tool) {
    case "ours":
      return {
        archive: `${ctx.tools.walArchive} %p %f`, restore: `${ctx.tools.walRestore} %f %p`,
        archiveArgv: (name) => [ctx.tools.walArchive, `pg_wal/${name}`, name],
        restoreArgv: (name, dest) => [ctx.tools.walRestore, name, dest], stop: () => undefined,
      };
    case "wal-g":
      return {
        archive: `${ctx.tools.walg} wal-push %p`, restore: `${ctx.tools.walg} wal-fetch %f %p`,
        archiveArgv: (name) => [ctx.tools.walg, "wal-push", `pg_wal/${name}`],
        restoreArgv: (name, dest) => [ctx.tools.walg, "wal-fetch", name, dest], stop: () => undefined,
      };
    case "wal-g daemon": {
      const daemon = await startDaemon(ctx, opts.root, opts.dataDir, opts.env, opts.cgroup);
      const client = `${ctx.tools.daemonClient} ${daemon.socket}`;
      return {
        archive: `${client} wal-push %f`, restore: `${client} wal-fetch %f %p`,
        archiveArgv: (name) => [ctx.tools.daemonClient, daemon.socket, "wal-push", name],
        restoreArgv: (name, dest) => [ctx.tools.daemonClient, daemon.socket, "wal-fetch", name, dest], stop: daemon.stop,
      };
    }
    case "pgbackrest": {
      const setup = pgbackrestSetup(opts.root, { dataDir: opts.dataDir, endpoint: opts.endpoint, prefix: opts.prefix, codec: opts.codec, ...opts.online });
      if (opts.stanza !== false) await setup.stanzaCreate(Boolean(opts.online));
      return {
        archive: `${setup.archivePush} %p`, restore: `${setup.archiveGet} %f %p`,
        archiveArgv: (name) => [...setup.archivePush.split(" "), `pg_wal/${name}`],
        restoreArgv: (name, dest) => [...setup.archiveGet.split(" "), name, dest], stop: () => undefined, config: setup.config,
        // For a cluster that must be running first (stanza: false, then this once it accepts connections).
        stanzaCreate: () => setup.stanzaCreate(Boolean(opts.online)),
      };
    }
    case "cp":
      return {
        archive: `cp %p ${opts.cpDir}/%f`, restore: `cp ${opts.cpDir}/%f %p`,
        archiveArgv: (name) => ["cp", `pg_wal/${name}`, join(opts.cpDir, name)],
        restoreArgv: (name, dest) => ["cp", join(opts.cpDir, name), dest], stop: () => undefined,
      };
    default:
      throw new Error(`unknown tool ${tool}`);
  }
}

/** Throws unless storage holds every one of `names` as `tool` writes it; returns how many objects it found. */
export async function verifyArchived(tool, { endpoint, prefix, codec }, names) {
  if (tool === "cp") return names.length;
  let have;
  if (tool === "pgbackrest") have = await pgbackrestSegments(endpoint, prefix);
  else {
    const ext = CODEC_EXT[codec];
    const keys = await listKeys(endpoint, `${prefix}/wal_005/`);
    have = new Set(keys.map((key) => key.slice(`${prefix}/wal_005/`.length)).filter((key) => key.endsWith(`.${ext}`)).map((key) => key.slice(0, -ext.length - 1)));
  }
  const missing = names.filter((name) => !have.has(name));
  if (missing.length > 0) throw new Error(`${tool}: ${missing.length} of ${names.length} segments missing in storage, e.g. ${missing[0]}`);
  return have.size;
}
