// wal-native wal-verify [integrity] [timeline] [--json] [--timeline N --lsn X/X]: wal-g's wal-verify.
import type { ToolCommand } from "../shared/command.js";
import { UsageError } from "../../errors.js";
import { flagProblem, parseFlags } from "../shared/flags.js";

const FLAGS = { switches: ["json"], values: ["timeline", "lsn"], maxPositionals: 2 } as const;

export const command: ToolCommand = {
  usage: `usage: wal-native wal-verify [integrity] [timeline] [--json] [--timeline N --lsn X/X]
  Checks the WAL archive the way "wal-g wal-verify integrity timeline" does, on names only:
  integrity  every segment from the cluster's current one back to the start of the earliest
             non-permanent backup, following timeline switches (.history); a gap is
             MISSING_DELAYED/MISSING_UPLOADING near the newest end, MISSING_LOST elsewhere
  timeline   the highest timeline in storage equals the cluster's
  The current LSN and timeline come from PostgreSQL (PGHOST, PGPORT, ...), or from --timeline/--lsn.
  --json     wal-g's JSON output
exit codes: 0 OK; 1 WARNING; 2 FAILURE (wal-g exits 0 for all three); 75 PostgreSQL or storage unreachable
`,
  checkArgs(args) {
    const problem = flagProblem(args, FLAGS);
    if (problem) return problem;
    const flags = parseFlags(args, FLAGS);
    const bad = flags.positionals.find((name) => name !== "integrity" && name !== "timeline");
    if (bad) return `unknown check '${bad}' (integrity or timeline)`;
    if (flags.values.has("timeline") !== flags.values.has("lsn")) return "--timeline and --lsn go together";
    return undefined;
  },
  async run(args, { config, log }) {
    const flags = parseFlags(args, FLAGS);
    const [{ walVerify, walVerifyJson, walVerifyText }, { openStorage }, { parseLsn }] = await Promise.all([
      import("./wal-verify.js"),
      import("../../storage/open.js"),
      import("../shared/go-format.js"),
    ]);
    const cluster = flags.values.has("lsn")
      ? { timeline: positiveInt(flags.values.get("timeline") as string), lsn: lsnArg(parseLsn, flags.values.get("lsn") as string) }
      : await currentPosition(config().segmentSize);
    const result = await walVerify(await openStorage(config()), {
      ...cluster,
      segmentSize: config().segmentSize,
      uploadingWindow: config().uploadConcurrency,
      delayedWindow: Number(process.env.WALG_INTEGRITY_MAX_DELAYED_WALS || 0),
      encryption: config().encryption,
    });
    if (result.earliestBackup) log.info(`scanning back to the start of backup ${result.earliestBackup}`);
    else log.warn("no usable backup found; scanning back to segment 1");
    const wanted = flags.positionals.length ? flags.positionals : ["integrity", "timeline"];
    process.stdout.write(flags.switches.has("json") ? `${walVerifyJson(result, wanted)}\n` : walVerifyText(result, wanted));
    const statuses = wanted.map((check) => (check === "integrity" ? result.integrity.status : result.timeline.status));
    return statuses.includes("FAILURE") ? 2 : statuses.includes("WARNING") ? 1 : 0;
  },
};

function positiveInt(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--timeline: '${text}' is not a timeline number`);
  return Number(text);
}

function lsnArg(parse: (text: string) => bigint, text: string): bigint {
  try {
    return parse(text);
  } catch (error) {
    throw new UsageError(`--lsn: ${(error as Error).message}`);
  }
}

/** What wal-g asks: receive LSN on a standby, else the current write LSN; timeline of the last checkpoint. */
async function currentPosition(segmentSize: number): Promise<{ timeline: number; lsn: bigint }> {
  const { withPostgres } = await import("../shared/pg.js");
  const { parseLsn } = await import("../shared/go-format.js");
  return withPostgres(async (query) => {
    const [row] = await query(
      `select case when pg_catalog.pg_is_in_recovery() then pg_catalog.pg_last_wal_receive_lsn() else pg_catalog.pg_current_wal_lsn() end::text as lsn,
              timeline_id, bytes_per_wal_segment
         from pg_catalog.pg_control_checkpoint(), pg_catalog.pg_control_init()`,
    );
    if (Number(row?.bytes_per_wal_segment) !== segmentSize) {
      throw new UsageError(`the cluster uses ${Number(row?.bytes_per_wal_segment) / 1048576} MiB WAL segments; set WALG_PG_WAL_SIZE accordingly`);
    }
    return { timeline: Number(row?.timeline_id), lsn: parseLsn(String(row?.lsn)) };
  });
}
