// What PostgreSQL's archiving settings mean for this archive: archive_mode, wal_level, archive_command
// (and archive_library, which replaces it from PostgreSQL 15 on) and archive_timeout. Pure: the values
// come from the server, the judgement is here.
import type { Finding } from "./finding.js";

export interface ArchiveSettings {
  readonly archiveMode: string;
  readonly walLevel: string;
  readonly archiveCommand: string;
  /** PostgreSQL 15+; "" when unset or on older servers. */
  readonly archiveLibrary: string;
  readonly archiveTimeoutSeconds: number;
}

export const SETTINGS_SQL = `select current_setting('archive_mode') as archive_mode, current_setting('wal_level') as wal_level,
  current_setting('archive_command') as archive_command, coalesce(current_setting('archive_library', true), '') as archive_library,
  (select setting::int from pg_settings where name = 'archive_timeout') as archive_timeout`;

export function settingsFromRow(row: Record<string, unknown>): ArchiveSettings {
  return {
    archiveMode: String(row.archive_mode),
    walLevel: String(row.wal_level),
    archiveCommand: String(row.archive_command ?? ""),
    archiveLibrary: String(row.archive_library ?? ""),
    archiveTimeoutSeconds: Number(row.archive_timeout ?? 0),
  };
}

/** The archive_command runs our archiver (also under the runbook's name wal-archive.sh, or after sourcing an env file). */
export function runsWalArchive(command: string): boolean {
  return /(^|[\s/;&|'"])wal-archive(\.sh)?(\s|$)/.test(command);
}

/**
 * One finding per problem, most serious first; a single ok finding that sums the settings up when there is none.
 * Critical: nothing (or nothing usable) reaches the archive. Warning: archiving works, but not through wal-archive.
 */
export function judgeSettings(settings: ArchiveSettings): Finding[] {
  const problems: Finding[] = [];
  const critical = (message: string): void => void problems.push({ check: "settings", status: "critical", message });
  const warning = (message: string): void => void problems.push({ check: "settings", status: "warning", message });
  const { archiveMode, walLevel, archiveCommand, archiveLibrary } = settings;

  if (walLevel === "minimal") {
    critical("wal_level = minimal: this WAL cannot rebuild a cluster from a base backup; set wal_level = replica and restart");
  }
  if (archiveMode === "off") {
    critical("archive_mode = off: PostgreSQL archives nothing; set archive_mode = on and restart");
  } else if (archiveLibrary !== "") {
    warning(`archive_library = '${archiveLibrary}': PostgreSQL hands WAL to that module and never runs archive_command; unset it to archive with wal-archive`);
  } else if (archiveCommand.trim() === "") {
    critical("archive_command is empty: PostgreSQL keeps every WAL file in pg_wal (which grows) and archives nothing; set archive_command = 'wal-archive %p %f'");
  } else if (!runsWalArchive(archiveCommand)) {
    warning(`archive_command = '${archiveCommand}' does not run wal-archive: this check sees the archive, not where that command writes; expected 'wal-archive %p %f'`);
  } else {
    const order = argumentOrder(archiveCommand);
    if (order !== "ok") {
      critical(`archive_command = '${archiveCommand}' ${order}: every call fails; wal-archive takes '%p %f' (path, then file name)`);
    }
  }
  if (problems.length > 0) return problems;
  const timeout = settings.archiveTimeoutSeconds > 0
    ? `archive_timeout = ${settings.archiveTimeoutSeconds} s (a quiet database still archives at least that often)`
    : "archive_timeout = 0 (on a quiet database the newest writes wait in pg_wal until a segment fills; archive_timeout = 60s bounds that)";
  return [{ check: "settings", status: "ok", message: `archive_mode = ${archiveMode}, wal_level = ${walLevel}, archive_command runs wal-archive, ${timeout}` }];
}

function argumentOrder(command: string): "ok" | string {
  const path = command.indexOf("%p");
  const name = command.indexOf("%f");
  if (path < 0 && name < 0) return "passes neither %p nor %f";
  if (path < 0) return "does not pass %p";
  if (name < 0) return "does not pass %f";
  return path < name ? "ok" : "passes %f before %p";
}
