// The benchmark's account of the archiver's queue (scripts/bench/lib/ready-queue.mjs): the archiver-lag target is
// judged on the most .ready files at once, which it computes from inotify times rather than 100 ms samples.
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { type QueueTimes, queueFacts, watchQueue } from "../../scripts/bench/lib/ready-queue.mjs";

const seg = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, "0")}`;

describe("bench: archiver queue facts", () => {
  it("counts the most segments between .ready and .done at any instant, and the longest wait", () => {
    const times = new Map<string, QueueTimes>([
      [seg(1), { ready: 0, done: 100 }],
      [seg(2), { ready: 50, done: 120 }],
      [seg(3), { ready: 60, done: 300 }], // three waiting from 60 to 100 ms
      [seg(4), { ready: 100, done: 310 }], // seg(1) done at the same instant: still three, not four
      [seg(5), { ready: 400 }], // never done: no wait to report, not counted as waiting forever
    ]);
    expect(queueFacts(times)).toMatchObject({ maxReadyExact: 3, longestWaitMs: 240 });
  });

  it("reports PostgreSQL's fastest pace over 8 segments in a row", () => {
    const times = new Map<string, QueueTimes>();
    // 10 ms apart for the first 9 arrivals, then 100 ms apart.
    for (let i = 0; i < 20; i++) times.set(seg(i), { ready: i <= 8 ? i * 10 : 80 + (i - 8) * 100, done: 1e6 });
    expect(queueFacts(times).segmentEveryMs).toBe(10);
    times.delete(seg(0));
    expect(queueFacts(times).segmentEveryMs).toBeCloseTo((180 - 10) / 8);
  });

  it("times .ready files and their rename to .done in a real directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bench-queue-"));
    try {
      const queue = watchQueue(dir, performance.now());
      await writeFile(join(dir, `${seg(1)}.ready`), "");
      await writeFile(join(dir, `${seg(2)}.ready`), "");
      await writeFile(join(dir, "unrelated.tmp"), "");
      await sleep(60);
      await rename(join(dir, `${seg(1)}.ready`), join(dir, `${seg(1)}.done`));
      await sleep(60);
      await rename(join(dir, `${seg(2)}.ready`), join(dir, `${seg(2)}.done`));
      await sleep(60);
      queue.close();
      expect([...queue.times.keys()].sort()).toEqual([seg(1), seg(2)]);
      const facts = queueFacts(queue.times);
      expect(facts.maxReadyExact).toBe(2);
      expect(facts.longestWaitMs).toBeGreaterThanOrEqual(100);
      expect(facts.longestWaitMs).toBeLessThan(1000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
