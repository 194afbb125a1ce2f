// The prefetch worker's decisions (src/restore/prefetch/schedule.ts): what to fetch next, when to widen the window,
// what replay has left behind, and which segment is the archive's last.
import { describe, expect, it } from "vitest";
import { type Cursor, MAX_PARALLEL, type ScheduleState, leftBehind, plan, widenedWindow, withoutMark } from "../../../src/restore/prefetch/schedule.js";
import { WalSegment } from "../../../src/wal/file-name.js";

const SIZE = 16 * 1024 * 1024;
const cursorAt = (name: string, segmentSize = SIZE): Cursor => ({ name, segment: WalSegment.parse(name, segmentSize), segmentSize });
const state = (overrides: Partial<ScheduleState> = {}): ScheduleState => ({
  window: 4, inFlight: new Set(), published: new Set(), retryAfter: new Map(), missing: new Set(), ...overrides,
});
const never = () => false;

describe("plan", () => {
  it("fetches the next segments, across a log boundary, up to the parallel limit", () => {
    const { fetch, keep } = plan(cursorAt("0000000100000000000000FE"), state({ window: 8 }), 0, never);
    expect(fetch).toEqual(["0000000100000000000000FF", "000000010000000100000000", "000000010000000100000001", "000000010000000100000002"]);
    expect(fetch).toHaveLength(MAX_PARALLEL);
    expect(keep).toBeUndefined();
  });

  it("counts downloads in flight against the limit and skips what is running or published", () => {
    const { fetch } = plan(
      cursorAt("000000010000000000000010"),
      state({ window: 4, inFlight: new Set(["000000010000000000000011"]), published: new Set(["000000010000000000000012"]) }),
      0,
      never,
    );
    expect(fetch).toEqual(["000000010000000000000013", "000000010000000000000014", "00000002.history"]);
  });

  it("starts no second download while memory is short, but always one", () => {
    expect(plan(cursorAt("000000010000000000000010"), state(), 0, () => true).fetch).toEqual(["000000010000000000000011"]);
    const busy = state({ inFlight: new Set(["000000010000000000000011"]) });
    expect(plan(cursorAt("000000010000000000000010"), busy, 0, () => true).fetch).toEqual([]);
  });

  it("stops at a missing segment, keeps the one before it, and looks at the history files PostgreSQL will probe", () => {
    const missing = "000000010000000000000013";
    const { fetch, keep } = plan(
      cursorAt("000000010000000000000010"),
      state({ window: 8, retryAfter: new Map([[missing, 5_000]]), missing: new Set([missing]), published: new Set(["000000010000000000000011"]) }),
      1_000,
      never,
    );
    expect(keep).toBe("000000010000000000000012");
    expect(fetch).toEqual(["000000010000000000000012", "00000002.history", "00000001.history"]);
  });

  it("fetches the cursor's own segment again when it is the archive's last (PostgreSQL re-reads it)", () => {
    const next = "000000010000000000000011";
    const { fetch, keep } = plan(cursorAt("000000010000000000000010"), state({ retryAfter: new Map([[next, 5_000]]), missing: new Set([next]) }), 0, never);
    expect(keep).toBe("000000010000000000000010");
    expect(fetch).toEqual(["000000010000000000000010", "00000002.history", "00000001.history"]);
  });

  it("asks again about a failure once its rest is over", () => {
    const failed = "000000010000000000000011";
    const resting = state({ retryAfter: new Map([[failed, 3_000]]) });
    expect(plan(cursorAt("000000010000000000000010"), resting, 2_999, never).fetch).not.toContain(failed);
    expect(plan(cursorAt("000000010000000000000010"), resting, 3_000, never).fetch[0]).toBe(failed);
  });

  it("follows the served files' segment size (64 MiB)", () => {
    const size = 64 * 1024 * 1024;
    expect(plan(cursorAt("00000001000000000000003F", size), state({ window: 1 }), 0, never).fetch[0]).toBe("000000010000000100000000");
  });
});

describe("widenedWindow", () => {
  it("doubles when replay asked for a segment not published yet, up to four times the concurrency or 32", () => {
    expect(widenedWindow(4, 4, false)).toBe(8);
    expect(widenedWindow(8, 4, false)).toBe(16);
    expect(widenedWindow(16, 4, false)).toBeUndefined();
    expect(widenedWindow(16, 10, false)).toBe(32);
    expect(widenedWindow(32, 10, false)).toBeUndefined();
    expect(widenedWindow(4, 4, true)).toBeUndefined();
  });
});

describe("leftBehind", () => {
  it("names segments behind replay or of another timeline, with their marks, and nothing else", () => {
    const cursor = cursorAt("000000020000000000000010");
    expect(leftBehind("00000002000000000000000F", cursor)).toBe(true);
    expect(leftBehind("00000002000000000000000F.keep", cursor)).toBe(true);
    expect(leftBehind("000000010000000000000011.missing", cursor)).toBe(true);
    expect(leftBehind("000000020000000000000010", cursor)).toBe(false);
    expect(leftBehind("000000020000000000000011", cursor)).toBe(false);
    for (const other of ["00000002.history", "cursor", "worker.pid", ".000000020000000000000011.fetching"]) expect(leftBehind(other, cursor), other).toBe(false);
    expect(withoutMark("00000002.history.missing")).toBe("00000002.history");
  });
});
