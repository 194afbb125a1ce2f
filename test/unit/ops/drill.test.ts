// Argument rules of the operations commands and the drill's small helpers.
import { describe, expect, it } from "vitest";
import { parsePgTimestamp } from "../../../src/ops/drill/backup.js";
import { describeTarget, stoppedTheServer } from "../../../src/ops/drill/drill.js";
import { command as drill } from "../../../src/ops/drill/command.js";
import { command as check } from "../../../src/ops/check/command.js";
import { command as walVerify } from "../../../src/ops/wal-verify/command.js";
import { command as backupList } from "../../../src/ops/backup-list/command.js";
import { command as cache } from "../../../src/ops/cache/command.js";

describe("drill helpers", () => {
  it("tells a server that stopped from one that turns connections away while it recovers (hot_standby off)", () => {
    const refused = "2026-12-04 22:58:40.066 GMT [3150] FATAL:  the database system is not accepting connections\n" +
      "2026-12-04 22:58:40.066 GMT [3150] DETAIL:  Hot standby mode is disabled.\n" +
      "2026-12-04 22:58:40.070 GMT [3151] FATAL:  the database system is starting up\n";
    expect(stoppedTheServer(refused)).toBe(false);
    expect(stoppedTheServer(`${refused}2026-12-04 22:56:53.060 GMT [22895] FATAL:  recovery aborted because of insufficient parameter settings\n`)).toBe(true);
    expect(stoppedTheServer("2026-12-04 22:56:53.060 GMT [1] PANIC:  could not locate a valid checkpoint record\n")).toBe(true);
    expect(stoppedTheServer("LOG:  redo done at 0/2000100\n")).toBe(false);
  });

  it("reads PostgreSQL-style and ISO timestamps", () => {
    expect(parsePgTimestamp("2024-01-08 14:30:00+00")).toBe(Date.parse("2024-01-08T14:30:00Z"));
    expect(parsePgTimestamp("2024-01-08 14:30:00.25+0200")).toBe(Date.parse("2024-01-08T12:30:00.250Z"));
    expect(parsePgTimestamp("2024-01-08T14:30:00Z")).toBe(Date.parse("2024-01-08T14:30:00Z"));
    expect(parsePgTimestamp("yesterday")).toBeUndefined();
  });

  it("describes the target for the report", () => {
    expect(describeTarget([])).toBe("latest");
    expect(describeTarget(["--target-time", "2024-01-08 14:30:00+00"])).toBe("time 2024-01-08 14:30:00+00");
  });
});

describe("argument checks", () => {
  it("drill: a kind, and a target only (and exactly one) for pitr", () => {
    expect(drill.checkArgs?.(["restore"])).toBeUndefined();
    expect(drill.checkArgs?.(["pitr", "--target-name", "before"])).toBeUndefined();
    expect(drill.checkArgs?.([])).toBe("expected 1 argument, got 0");
    expect(drill.checkArgs?.(["rehearse"])).toBe("unknown drill 'rehearse' (restore, pitr or dr)");
    expect(drill.checkArgs?.(["pitr"])).toMatch(/^a pitr drill needs exactly one of/);
    expect(drill.checkArgs?.(["pitr", "--target-name", "a", "--target-xid", "5"])).toMatch(/^a pitr drill needs exactly one of/);
    expect(drill.checkArgs?.(["dr", "--target-time", "x"])).toBe("a dr drill restores to the end of the archive; use 'drill pitr' for a target");
    expect(drill.checkArgs?.(["dr", "--backup-dir", "/srv/base"])).toBeUndefined();
    for (const other of [["--backup", "LATEST"], ["--walg", "/usr/bin/wal-g"]]) {
      expect(drill.checkArgs?.(["restore", "--backup-dir", "/srv/base", ...other])).toBe("--backup-dir restores that directory; it takes no --backup or --walg");
    }
  });

  it("check, wal-verify, backup-list, cache", () => {
    expect(check.checkArgs?.(["--json", "--max-backup-age", "2d"])).toBeUndefined();
    expect(check.checkArgs?.(["--json", "--prometheus"])).toBe("--json and --prometheus exclude each other");
    expect(check.checkArgs?.(["extra"])).toBe("expected 0 arguments, got 1");
    expect(walVerify.checkArgs?.(["integrity", "--json"])).toBeUndefined();
    expect(walVerify.checkArgs?.(["everything"])).toBe("unknown check 'everything' (integrity or timeline)");
    expect(walVerify.checkArgs?.(["--lsn", "0/1"])).toBe("--timeline and --lsn go together");
    expect(backupList.checkArgs?.(["--pretty"])).toBe("--pretty needs --json");
    expect(cache.checkArgs?.(["prune", "--all"])).toBeUndefined();
    expect(cache.checkArgs?.(["purge"])).toBe("unknown cache command 'purge' (prune)");
  });
});
