// wal-native check's three outputs: text for people, JSON, and the Prometheus textfile-collector format.
import { type CheckReport, LEVEL_VALUE } from "./checks.js";
import type { SegmentObject } from "./usage.js";
import { stringifyJson } from "../shared/json.js";

const HELP: Record<string, string> = {
  storage_up: "1 if the archive storage answered a listing of basebackups_005/.",
  storage_list_seconds: "Time the listing of basebackups_005/ took.",
  backup_count: "Complete backups (stop sentinels) in basebackups_005/.",
  last_backup_age_seconds: "Age of the newest backup, from its sentinel's FinishTime.",
  last_backup_timestamp_seconds: "When the newest backup completed (sentinel FinishTime), Unix time.",
  postgres_up: "1 if wal-native check could query PostgreSQL.",
  archiver_archived_count: "pg_stat_archiver.archived_count.",
  archiver_failed_count: "pg_stat_archiver.failed_count.",
  archiver_failing: "1 if the last archive_command call failed (last_failed_time after last_archived_time).",
  archiver_last_archive_age_seconds: "Time since pg_stat_archiver.last_archived_time.",
  archiver_last_failure_age_seconds: "Time since pg_stat_archiver.last_failed_time.",
  wal_ready_files: "WAL files waiting for archive_command (.ready in pg_wal/archive_status).",
  wal_oldest_ready_age_seconds: "How long the oldest .ready file has been waiting.",
  local_archive_bytes: "Bytes of WAL in the local fast-recovery archive.",
  local_archive_files: "WAL files in the local fast-recovery archive.",
  archive_timeout_seconds: "PostgreSQL's archive_timeout (0: off).",
  storage_backup_objects: "Objects under basebackups_005/.",
  storage_backup_bytes: "Bytes under basebackups_005/.",
  storage_wal_objects: "Objects under wal_005/.",
  storage_wal_bytes: "Bytes under wal_005/.",
  storage_wal_oldest_timestamp_seconds: "When the oldest WAL segment in wal_005/ was stored (LastModified), Unix time.",
  storage_wal_newest_timestamp_seconds: "When the newest WAL segment in wal_005/ was stored (LastModified), Unix time.",
  switch_ok: "1 if the segment of a forced WAL switch (check --switch) was archived and read back intact.",
  switch_archive_seconds: "From pg_switch_wal() until its segment was in storage (check --switch).",
  switch_verify_seconds: "Reading that segment back and verifying it (check --switch).",
  check_timestamp_seconds: "When this check ran, Unix time.",
};

export function renderText(report: CheckReport): string {
  const counts = (["critical", "warning"] as const)
    .map((level) => [level, report.findings.filter((f) => f.status === level).length] as const)
    .filter(([, n]) => n > 0)
    .map(([level, n]) => `${n} ${level}`);
  const head = `wal-native check: ${report.status.toUpperCase()}${counts.length ? ` (${counts.join(", ")})` : ""}\n`;
  return head + report.findings.map((f) => `  ${f.status.padEnd(9)} ${f.check.padEnd(14)} ${f.message}\n`).join("");
}

export function renderJson(report: CheckReport): string {
  const { settings, usage } = report.details;
  const segment = (s: SegmentObject | undefined) => s && { name: s.name, stored_at: s.lastModified?.toISOString() ?? null };
  return `${stringifyJson({
    status: report.status,
    checked_at: report.checkedAt.toISOString(),
    checks: report.findings.map((f) => ({ check: f.check, status: f.status, message: f.message })),
    metrics: report.metrics,
    ...(settings && {
      settings: {
        archive_mode: settings.archiveMode, wal_level: settings.walLevel, archive_command: settings.archiveCommand,
        archive_library: settings.archiveLibrary, archive_timeout_seconds: settings.archiveTimeoutSeconds,
      },
    }),
    ...(usage && {
      usage: {
        basebackups_005: { objects: usage.backups.objects, bytes: usage.backups.bytes },
        ...(usage.wal && {
          wal_005: { objects: usage.wal.objects, bytes: usage.wal.bytes, oldest: segment(usage.wal.oldest) ?? null, newest: segment(usage.wal.newest) ?? null },
        }),
      },
    }),
    ...(report.details.switch && { switch: { segment: report.details.switch.segment ?? null, ok: report.details.switch.ok } }),
  }, "  ")}\n`;
}

/** https://prometheus.io/docs/instrumenting/exposition_formats/ (text format 0.0.4). */
export function renderPrometheus(report: CheckReport): string {
  const lines = [
    "# HELP walnative_check_status Result of wal-native check: 0 ok, 1 warning, 2 critical.",
    "# TYPE walnative_check_status gauge",
    `walnative_check_status ${LEVEL_VALUE[report.status]}`,
    "# HELP walnative_check_result Result of each part of wal-native check: 0 ok, 1 warning, 2 critical.",
    "# TYPE walnative_check_result gauge",
    ...worstPerCheck(report).map(([check, value]) => `walnative_check_result{check="${check}"} ${value}`),
  ];
  for (const [name, value] of Object.entries(report.metrics)) {
    lines.push(`# HELP walnative_${name} ${HELP[name] ?? name}`, `# TYPE walnative_${name} gauge`, `walnative_${name} ${format(value)}`);
  }
  const wal = report.details.usage?.wal;
  if (wal?.oldest && wal.newest) {
    lines.push(
      "# HELP walnative_storage_wal_range_info The oldest and newest WAL segment in wal_005/, as labels.",
      "# TYPE walnative_storage_wal_range_info gauge",
      `walnative_storage_wal_range_info{oldest="${wal.oldest.name}",newest="${wal.newest.name}"} 1`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function worstPerCheck(report: CheckReport): [string, number][] {
  const worst = new Map<string, number>();
  for (const f of report.findings) worst.set(f.check.replace(" ", "_"), Math.max(worst.get(f.check.replace(" ", "_")) ?? 0, LEVEL_VALUE[f.status]));
  return [...worst.entries()];
}

function format(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}
