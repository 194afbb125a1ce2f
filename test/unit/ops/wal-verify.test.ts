// wal-verify's scan on a memory storage: gaps, the uploading window, timeline switches, backup choice.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../support/memory-storage.js";
import { walVerify, walVerifyText } from "../../../src/ops/wal-verify/wal-verify.js";
import { parseHistory, trimOneExtension } from "../../../src/ops/wal-verify/wal-inventory.js";

const MiB16 = 16 * 1024 * 1024;

function seg(timeline: number, segNo: number): string {
  const hex = (v: number): string => v.toString(16).toUpperCase().padStart(8, "0");
  return hex(timeline) + hex(Math.floor(segNo / 256)) + hex(segNo % 256);
}

async function put(storage: MemoryStorage, key: string, body = "x"): Promise<void> {
  await storage.write(key, Readable.from([Buffer.from(body)]));
}

async function archive(storage: MemoryStorage, timeline: number, from: number, to: number, skip: number[] = []): Promise<void> {
  for (let n = from; n <= to; n += 1) if (!skip.includes(n)) await put(storage, `wal_005/${seg(timeline, n)}.lz4`);
}

async function backup(storage: MemoryStorage, timeline: number, segNo: number, permanent = false): Promise<void> {
  const name = `base_${seg(timeline, segNo)}`;
  await put(storage, `basebackups_005/${name}/metadata.json`, JSON.stringify({ is_permanent: permanent, start_time: "2026-01-01T00:00:00Z" }));
  await put(storage, `basebackups_005/${name}_backup_stop_sentinel.json`, "{}");
}

const options = (timeline: number, segNo: number) => ({
  timeline, lsn: BigInt(segNo) * BigInt(MiB16) + 100n, segmentSize: MiB16, uploadingWindow: 2, delayedWindow: 0,
});

describe("walVerify", () => {
  it("reports OK from the current segment back to the earliest backup", async () => {
    const storage = new MemoryStorage();
    await archive(storage, 1, 1, 20);
    await backup(storage, 1, 5);
    await backup(storage, 1, 10);
    const result = await walVerify(storage, options(1, 21));
    expect(result.earliestBackup).toBe(`base_${seg(1, 5)}`);
    expect(result.integrity).toEqual({
      status: "OK",
      details: [{ timeline_id: 1, start_segment: seg(1, 5), end_segment: seg(1, 20), segments_count: 16, status: "FOUND" }],
    });
    expect(result.timeline.status).toBe("OK");
  });

  it("calls a gap near the newest end uploading (warning) and an older one lost (failure)", async () => {
    const storage = new MemoryStorage();
    await archive(storage, 1, 1, 20, [8, 19, 20]);
    await backup(storage, 1, 2);
    const result = await walVerify(storage, options(1, 21));
    expect(result.integrity.status).toBe("FAILURE");
    expect(result.integrity.details?.map((row) => [row.start_segment, row.segments_count, row.status])).toEqual([
      [seg(1, 2), 6, "FOUND"],
      [seg(1, 8), 1, "MISSING_LOST"],
      [seg(1, 9), 10, "FOUND"],
      [seg(1, 19), 2, "MISSING_UPLOADING"],
    ]);
    expect(walVerifyText(result)).toContain(`|   1 | ${seg(1, 8)} | ${seg(1, 8)} |              1 |      MISSING_LOST |`);
  });

  it("follows a timeline switch from the .history file and ignores a permanent backup", async () => {
    const storage = new MemoryStorage();
    await archive(storage, 1, 1, 10);
    await archive(storage, 2, 10, 15);
    await put(storage, "wal_005/00000002.history", `1\t0/${(10 * MiB16 + 0x80).toString(16).toUpperCase()}\tno recovery target specified\n`);
    await backup(storage, 1, 1, true);
    await backup(storage, 1, 3);
    const result = await walVerify(storage, options(2, 16));
    expect(result.earliestBackup).toBe(`base_${seg(1, 3)}`);
    expect(result.integrity.details?.map((row) => [row.timeline_id, row.start_segment, row.end_segment])).toEqual([
      [1, seg(1, 3), seg(1, 9)],
      [2, seg(2, 10), seg(2, 15)],
    ]);
    expect(result.integrity.status).toBe("OK");
  });

  it("counts odd names as wal-g does: a lowercase segment name fills its place, a lowercase history name raises the timeline", async () => {
    const storage = new MemoryStorage();
    await archive(storage, 1, 1, 20, [12]);
    await put(storage, `wal_005/${seg(1, 12).toLowerCase()}.lz4`);
    await backup(storage, 1, 5);
    const result = await walVerify(storage, options(1, 21));
    expect(result.integrity.status).toBe("OK");
    await put(storage, "wal_005/0000000a.history.lz4");
    expect((await walVerify(storage, options(1, 21))).timeline).toEqual({ status: "FAILURE", details: { current_timeline_id: 1, highest_storage_timeline_id: 10 } });
  });

  it("only warns about leading gaps when there is no backup, and flags a timeline mismatch", async () => {
    const storage = new MemoryStorage();
    await archive(storage, 1, 4, 6);
    const result = await walVerify(storage, options(2, 7));
    expect(result.earliestBackup).toBeUndefined();
    expect(result.integrity.status).toBe("WARNING");
    expect(result.timeline).toEqual({ status: "FAILURE", details: { current_timeline_id: 2, highest_storage_timeline_id: 1 } });
    expect((await walVerify(new MemoryStorage(), options(1, 3))).timeline.status).toBe("WARNING");
  });
});

describe("names", () => {
  it("strips one extension like Go's path.Ext and parses history lines", () => {
    expect(trimOneExtension("000000010000000000000001.lz4")).toBe("000000010000000000000001");
    expect(trimOneExtension("000000010000000000000001.")).toBe("000000010000000000000001");
    expect(trimOneExtension("000000010000000000000001")).toBe("000000010000000000000001");
    expect(parseHistory("# comment\n1\t0/3000000\treason\n\n2\t1/A0\tx\n")).toEqual([
      { timeline: 1, lsn: 0x3000000n },
      { timeline: 2, lsn: 0x1_0000_00a0n },
    ]);
  });
});
