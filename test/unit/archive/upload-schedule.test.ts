// The background uploader's decisions (src/archive/upload-schedule.ts): how many at once, which files, how long a
// failed file rests.
import { describe, expect, it } from "vitest";
import { BACKLOG, Failures, HighWater, PARALLEL, PARALLEL_BACKLOG, pace, takeUp } from "../../../src/archive/upload-schedule.js";
import { retryDelay } from "../../../src/daemon/backoff.js";

describe("pace", () => {
  it("runs three at once for a steady stream and six for a backlog of more than eight", () => {
    expect(pace(1, false, 16)).toEqual({ parallel: PARALLEL, clearingBacklog: false });
    expect(pace(BACKLOG, false, 16)).toEqual({ parallel: PARALLEL, clearingBacklog: false });
    expect(pace(BACKLOG + 1, false, 16)).toEqual({ parallel: PARALLEL_BACKLOG, clearingBacklog: true });
  });

  it("keeps clearing a backlog until no more than three files are left", () => {
    expect(pace(PARALLEL + 1, true, 16)).toEqual({ parallel: PARALLEL_BACKLOG, clearingBacklog: true });
    expect(pace(PARALLEL, true, 16)).toEqual({ parallel: PARALLEL, clearingBacklog: false });
  });

  it("is capped by WALG_UPLOAD_CONCURRENCY - 1, as wal-g's background uploader", () => {
    expect(pace(20, false, 2).parallel).toBe(1);
    expect(pace(20, false, 4).parallel).toBe(3);
    expect(pace(2, false, 3).parallel).toBe(2);
    expect(pace(20, false, 1).parallel).toBe(1); // never below one (the uploader does not run at 1 anyway)
  });
});

describe("takeUp", () => {
  it("keeps PostgreSQL's order and leaves out running, uploaded and resting files", () => {
    const failures = new Failures({ firstMs: 1000, maxMs: 8000 });
    failures.failed("C", 0);
    expect(takeUp(["A", "B", "C", "D", "E"], new Set(["B"]), new Set(["D"]), failures, 500)).toEqual(["A", "E"]);
    expect(takeUp(["A", "C"], new Set(), new Set(), failures, 1000)).toEqual(["A", "C"]); // rested enough
  });
});

describe("Failures", () => {
  it("doubles a failing file's rest up to the ceiling; a success anywhere ends every rest and count", () => {
    const failures = new Failures({ firstMs: 2000, maxMs: 60_000 });
    expect([1, 2, 3, 4, 5, 6, 7].map(() => failures.failed("A", 0))).toEqual([2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    expect(failures.resting("A", 59_999)).toBe(true);
    failures.succeeded();
    expect(failures.resting("A", 0)).toBe(false);
    expect(failures.failed("A", 0)).toBe(2000);
  });

  it("lets a file another process is pushing rest once, without counting a failure", () => {
    const failures = new Failures({ firstMs: 2000, maxMs: 60_000 });
    failures.busy("A", 100);
    expect(failures.resting("A", 2099)).toBe(true);
    expect(failures.resting("A", 2100)).toBe(false);
    expect(failures.failed("A", 0)).toBe(2000);
  });

  it("no 495 attempts in 20 minutes: an unreachable store costs a few dozen", () => {
    const failures = new Failures();
    let attempts = 0;
    for (let now = 0; now < 20 * 60_000; attempts += 1) now += failures.failed("A", now);
    expect(attempts).toBeLessThan(30);
    expect(retryDelay(0, { firstMs: 1, maxMs: 2 })).toBe(0);
  });
});

describe("HighWater", () => {
  it("counts the most uploads in flight at once", () => {
    const mark = new HighWater();
    mark.started();
    mark.started();
    mark.ended();
    mark.started();
    mark.started();
    mark.ended();
    mark.ended();
    expect(mark.most).toBe(3);
  });
});
