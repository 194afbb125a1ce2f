// wal-native check --switch: when the forced segment counts as archived, and the cause it names when it is not.
import { describe, expect, it } from "vitest";
import { type ArchiverState, archivedByPostgres, timeoutReason, waitVerdict } from "../../../src/ops/check/switch.js";

const SEGMENT = "000000010000000000000007";
const LABEL = "s3://wal-archive/pg-primary/";
const state = (change: Partial<ArchiverState> = {}): ArchiverState => ({ lastArchivedWal: "000000010000000000000006", lastFailedWal: null, failedCount: 2, ...change });

describe("check --switch: waiting for the segment", () => {
  it("counts PostgreSQL's confirmation of this or a later segment of the same timeline only", () => {
    expect(archivedByPostgres(SEGMENT, state({ lastArchivedWal: SEGMENT }))).toBe(true);
    expect(archivedByPostgres(SEGMENT, state({ lastArchivedWal: "000000010000000000000008" }))).toBe(true);
    expect(archivedByPostgres(SEGMENT, state())).toBe(false);
    expect(archivedByPostgres(SEGMENT, state({ lastArchivedWal: null }))).toBe(false);
    expect(archivedByPostgres(SEGMENT, state({ lastArchivedWal: "00000002.history" }))).toBe(false);
    expect(archivedByPostgres(SEGMENT, state({ lastArchivedWal: "000000020000000000000001" }))).toBe(false);
    expect(archivedByPostgres(SEGMENT, state({ lastArchivedWal: "000000010000000000000007.partial" }))).toBe(true);
  });

  it("is archived only when storage holds it and PostgreSQL has confirmed it", () => {
    expect(waitVerdict(SEGMENT, state({ lastArchivedWal: SEGMENT }), true, 2, LABEL)).toEqual({ verdict: "archived" });
    // Uploaded ahead by the background uploader, PostgreSQL's own call still running: wait.
    expect(waitVerdict(SEGMENT, state(), true, 2, LABEL)).toEqual({ verdict: "wait" });
    expect(waitVerdict(SEGMENT, state(), false, 2, LABEL)).toEqual({ verdict: "wait" });
  });

  it("names a command that reports success without storing here", () => {
    expect(waitVerdict(SEGMENT, state({ lastArchivedWal: SEGMENT }), false, 2, LABEL)).toEqual({
      verdict: "failed",
      reason: `PostgreSQL reports ${SEGMENT} archived, but ${LABEL} does not hold it: archive_command writes somewhere else ` +
        "(compare WALG_S3_PREFIX / WALG_FILE_PREFIX in the server's environment with this one)",
    });
  });

  it("gives up after PostgreSQL's three tries in a row, naming the file that failed", () => {
    expect(waitVerdict(SEGMENT, state({ lastFailedWal: SEGMENT, failedCount: 4 }), false, 2, LABEL)).toEqual({ verdict: "wait" });
    expect(waitVerdict(SEGMENT, state({ lastFailedWal: SEGMENT, failedCount: 5 }), false, 2, LABEL)).toEqual({
      verdict: "failed",
      reason: `archive_command failed 3 times since the switch, for ${SEGMENT}; the reason is in the server log and in wal-archive's log (WALNATIVE_ARCHIVE_LOG)`,
    });
    const earlier = waitVerdict(SEGMENT, state({ lastFailedWal: "000000010000000000000005", failedCount: 5 }), true, 2, LABEL);
    expect(earlier).toEqual({
      verdict: "failed",
      reason: "archive_command failed 3 times since the switch, for 000000010000000000000005, which PostgreSQL must archive before " +
        `${SEGMENT} (${SEGMENT} itself reached ${LABEL}, uploaded ahead by the background uploader); the reason is in the server log and in wal-archive's log (WALNATIVE_ARCHIVE_LOG)`,
    });
  });

  it("says at the timeout what was last seen", () => {
    expect(timeoutReason(SEGMENT, state(), false, 2, 60, LABEL)).toBe(
      `${SEGMENT} was not archived within 60 s of pg_switch_wal(): archive_command has neither succeeded nor failed for it yet (slow, hanging, or a backlog ahead of it: see the backlog line)`,
    );
    expect(timeoutReason(SEGMENT, state(), true, 2, 60, LABEL)).toBe(
      `${SEGMENT} was not archived within 60 s of pg_switch_wal(): it is in ${LABEL}, but PostgreSQL's archive_command has not returned for it (hanging?)`,
    );
    expect(timeoutReason(SEGMENT, state({ lastFailedWal: SEGMENT, failedCount: 3 }), false, 2, 60, LABEL)).toBe(
      `${SEGMENT} was not archived within 60 s of pg_switch_wal(): archive_command failed 1 time(s) since, last for ${SEGMENT}; see the server log and wal-archive's log`,
    );
  });
});
