// The bench's reading of the call meter's lines and of a scenario's cgroup (scripts/bench/lib/meter-facts.mjs):
// where a tool's CPU went, the calls PostgreSQL waited for against the helpers they left running, and the kernel's share.
import { describe, expect, it } from "vitest";
import { cpuFacts, readWrapperFile } from "../../scripts/bench/lib/meter-facts.mjs";

describe("the call meter's lines", () => {
  it("reads elapsed seconds, peak RSS and the call's user and system CPU; a line of the older two-field meter too", () => {
    expect(readWrapperFile("0.021 5120 0.0040 0.0060\n0.5 2048\n\ngarbage 1\n")).toEqual([
      { seconds: 0.021, kb: 5120, userS: 0.004, sysS: 0.006 },
      { seconds: 0.5, kb: 2048 },
    ]);
  });
});

describe("cpuFacts", () => {
  const calls = readWrapperFile("0.02 100 0.010 0.010\n0.03 100 0.005 0.015\n");

  it("splits the group's CPU into the calls' part and the kernel's share", () => {
    // 2 segments, 200 ms in all, of which the calls 40 ms and the kernel 150 ms.
    expect(cpuFacts(200e6, 2, { calls, systemMs: 150 })).toEqual({ cpuMs: 200, cpuMsPerSegment: 100, callCpuMsPerSegment: 20, systemShare: 0.75 });
  });

  it("leaves out what it cannot know: calls without CPU figures, no system time, no cgroup", () => {
    expect(cpuFacts(200e6, 2, { calls: [...calls, { seconds: 1, kb: 1 }] })).toEqual({ cpuMs: 200, cpuMsPerSegment: 100 });
    expect(cpuFacts(undefined, 2, { calls, systemMs: 10 })).toEqual({});
  });
});
