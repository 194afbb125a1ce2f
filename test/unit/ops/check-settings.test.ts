// wal-native check's judgement of PostgreSQL's archiving settings: what is wrong, how serious, and what to do.
import { describe, expect, it } from "vitest";
import { type ArchiveSettings, judgeSettings, runsWalArchive } from "../../../src/ops/check/settings.js";

const good: ArchiveSettings = {
  archiveMode: "on", walLevel: "replica", archiveCommand: "wal-archive %p %f", archiveLibrary: "", archiveTimeoutSeconds: 60,
};

function judged(change: Partial<ArchiveSettings>): { status: string; message: string }[] {
  return judgeSettings({ ...good, ...change }).map(({ status, message }) => ({ status, message }));
}

describe("check: archiving settings", () => {
  it("sums up good settings in one ok line, with what archive_timeout means", () => {
    expect(judged({})).toEqual([{
      status: "ok",
      message: "archive_mode = on, wal_level = replica, archive_command runs wal-archive, archive_timeout = 60 s (a quiet database still archives at least that often)",
    }]);
    expect(judged({ archiveTimeoutSeconds: 0 })[0]?.message).toContain("archive_timeout = 0 (on a quiet database the newest writes wait in pg_wal until a segment fills; archive_timeout = 60s bounds that)");
  });

  it("is critical when nothing can be archived: archive_mode off, wal_level minimal, an empty archive_command", () => {
    expect(judged({ archiveMode: "off" })).toEqual([
      { status: "critical", message: "archive_mode = off: PostgreSQL archives nothing; set archive_mode = on and restart" },
    ]);
    expect(judged({ archiveMode: "off", walLevel: "minimal" }).map((f) => f.message)).toEqual([
      "wal_level = minimal: this WAL cannot rebuild a cluster from a base backup; set wal_level = replica and restart",
      "archive_mode = off: PostgreSQL archives nothing; set archive_mode = on and restart",
    ]);
    expect(judged({ archiveCommand: "" })).toEqual([{
      status: "critical",
      message: "archive_command is empty: PostgreSQL keeps every WAL file in pg_wal (which grows) and archives nothing; set archive_command = 'wal-archive %p %f'",
    }]);
  });

  it("is critical when wal-archive gets its arguments wrong", () => {
    expect(judged({ archiveCommand: "wal-archive %f %p" })[0]).toEqual({
      status: "critical",
      message: "archive_command = 'wal-archive %f %p' passes %f before %p: every call fails; wal-archive takes '%p %f' (path, then file name)",
    });
    expect(judged({ archiveCommand: "wal-archive %p" })[0]?.message).toContain("does not pass %f");
    expect(judged({ archiveCommand: "/usr/local/bin/wal-archive" })[0]?.message).toContain("passes neither %p nor %f");
  });

  it("warns when archiving does not go through wal-archive", () => {
    expect(judged({ archiveCommand: "/bin/true" })).toEqual([{
      status: "warning",
      message: "archive_command = '/bin/true' does not run wal-archive: this check sees the archive, not where that command writes; expected 'wal-archive %p %f'",
    }]);
    expect(judged({ archiveCommand: "wal-g wal-push %p" })[0]?.status).toBe("warning");
    expect(judged({ archiveLibrary: "basic_archive" })).toEqual([{
      status: "warning",
      message: "archive_library = 'basic_archive': PostgreSQL hands WAL to that module and never runs archive_command; unset it to archive with wal-archive",
    }]);
  });

  it("recognises wal-archive by path, under the runbook's name, and after an environment file is sourced", () => {
    for (const command of [
      "wal-archive %p %f",
      "/opt/wal-native/bin/wal-archive %p %f",
      "/usr/local/bin/wal-archive.sh %p %f",
      ". /etc/wal-native/env && exec wal-archive %p %f",
      "set -a; . /etc/wal-native/env; exec /usr/local/bin/wal-archive '%p' '%f'",
    ]) expect(runsWalArchive(command), command).toBe(true);
    for (const command of ["wal-archiver %p %f", "cp %p /mnt/wal-archive/%f", "wal-g wal-push %p", "/bin/true"]) {
      expect(runsWalArchive(command), command).toBe(false);
    }
  });
});
