// wal-native check's renderers: the worst result wins, Prometheus lines are well formed.
import { describe, expect, it } from "vitest";
import type { CheckReport } from "../../../src/ops/check/checks.js";
import { renderJson, renderPrometheus, renderText } from "../../../src/ops/check/output.js";

const report: CheckReport = {
  status: "critical",
  checkedAt: new Date("2026-01-02T03:04:05Z"),
  findings: [
    { check: "storage", status: "ok", message: "s3://b/p/ reachable" },
    { check: "archiver", status: "warning", message: "archive_command is failing" },
    { check: "backlog", status: "critical", message: "archiving stalled" },
    { check: "local archive", status: "ok", message: "2 files" },
  ],
  metrics: { storage_up: 1, wal_ready_files: 3, storage_list_seconds: 0.0234 },
  details: {},
};

const withDetails: CheckReport = {
  ...report,
  status: "ok",
  findings: [{ check: "switch", status: "ok", message: "000000010000000000000003 archived 120 ms after pg_switch_wal()" }],
  metrics: { switch_ok: 1, storage_wal_objects: 3, storage_wal_bytes: 4096 },
  details: {
    settings: { archiveMode: "on", walLevel: "replica", archiveCommand: "wal-archive %p %f", archiveLibrary: "", archiveTimeoutSeconds: 60 },
    usage: {
      backups: { objects: 4, bytes: 1000 },
      wal: {
        objects: 3, bytes: 4096,
        oldest: { name: "000000010000000000000001", lastModified: new Date("2026-01-02T03:00:00Z") },
        newest: { name: "000000010000000000000003" },
      },
    },
    switch: { segment: "000000010000000000000003", ok: true },
  },
};

describe("check output", () => {
  it("summarises for people", () => {
    expect(renderText(report)).toBe(
      "wal-native check: CRITICAL (1 critical, 1 warning)\n" +
        "  ok        storage        s3://b/p/ reachable\n" +
        "  warning   archiver       archive_command is failing\n" +
        "  critical  backlog        archiving stalled\n" +
        "  ok        local archive  2 files\n",
    );
  });

  it("writes Prometheus text format with HELP and TYPE for every metric", () => {
    const text = renderPrometheus(report);
    expect(text).toContain("walnative_check_status 2\n");
    expect(text).toContain('walnative_check_result{check="backlog"} 2\n');
    expect(text).toContain('walnative_check_result{check="local_archive"} 0\n');
    expect(text).toContain("# HELP walnative_wal_ready_files WAL files waiting for archive_command (.ready in pg_wal/archive_status).\n# TYPE walnative_wal_ready_files gauge\nwalnative_wal_ready_files 3\n");
    expect(text).toContain("walnative_storage_list_seconds 0.023\n");
    for (const line of text.trimEnd().split("\n")) expect(line).toMatch(/^(# (HELP|TYPE) walnative_\w+ .+|walnative_\w+(\{check="\w+"\})? -?\d+(\.\d+)?)$/);
  });

  it("writes JSON with the status, every check and the metrics", () => {
    expect(JSON.parse(renderJson(report))).toEqual({
      status: "critical",
      checked_at: "2026-01-02T03:04:05.000Z",
      checks: report.findings.map((f) => ({ ...f })),
      metrics: report.metrics,
    });
  });

  it("adds the settings, the storage usage and the switch to JSON when check found them", () => {
    const json = JSON.parse(renderJson(withDetails));
    expect(json.settings).toEqual({ archive_mode: "on", wal_level: "replica", archive_command: "wal-archive %p %f", archive_library: "", archive_timeout_seconds: 60 });
    expect(json.usage).toEqual({
      basebackups_005: { objects: 4, bytes: 1000 },
      wal_005: {
        objects: 3, bytes: 4096,
        oldest: { name: "000000010000000000000001", stored_at: "2026-01-02T03:00:00.000Z" },
        newest: { name: "000000010000000000000003", stored_at: null },
      },
    });
    expect(json.switch).toEqual({ segment: "000000010000000000000003", ok: true });
  });

  it("describes the new metrics and gives the WAL range as labels of an info metric", () => {
    const text = renderPrometheus(withDetails);
    expect(text).toContain('walnative_check_result{check="switch"} 0\n');
    expect(text).toContain("# HELP walnative_switch_ok 1 if the segment of a forced WAL switch (check --switch) was archived and read back intact.\n# TYPE walnative_switch_ok gauge\nwalnative_switch_ok 1\n");
    expect(text).toContain("# HELP walnative_storage_wal_bytes Bytes under wal_005/.\n");
    expect(text).toContain('walnative_storage_wal_range_info{oldest="000000010000000000000001",newest="000000010000000000000003"} 1\n');
    for (const line of text.trimEnd().split("\n")) expect(line).toMatch(/^(# (HELP|TYPE) walnative_\w+ .+|walnative_\w+(\{(\w+="[^"]*",?)+\})? -?\d+(\.\d+)?)$/);
  });
});
