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
});
