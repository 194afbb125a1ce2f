// What the call meter's lines (lib/call-meter.c) and a scenario's cgroup say about a run: pure, so that
// test/unit/bench-meter-facts.test.ts can check it.

/** Parses a meter file: [{ seconds, kb, userS, sysS }] (the CPU figures absent in a line of an older meter). */
export function readWrapperFile(text) {
  return text.split("\n").map((line) => /^(\d+(?:\.\d+)?) (\d+)(?: (\d+(?:\.\d+)?) (\d+(?:\.\d+)?))?$/.exec(line.trim()))
    .filter(Boolean).map((m) => ({ seconds: Number(m[1]), kb: Number(m[2]), ...(m[3] === undefined ? {} : { userS: Number(m[3]), sysS: Number(m[4]) }) }));
}

/**
 * CPU of a scenario's cgroup: total ms and ms per segment (undefined without cgroups); with the meter's lines of
 * the calls and the group's system time, where it went: callCpuMsPerSegment (the commands PostgreSQL or the bench
 * waited for, and what they waited for; the rest is helpers left running: workers, daemons) and systemShare
 * (the kernel's part of the whole).
 */
export function cpuFacts(cpuNs, segments, { calls = [], systemMs } = {}) {
  if (cpuNs === undefined || Number.isNaN(cpuNs)) return {};
  const per = (ms) => (segments > 0 ? ms / segments : undefined);
  const metered = calls.filter((call) => call.userS !== undefined);
  const callCpuMs = metered.length === calls.length && calls.length > 0 ? metered.reduce((sum, call) => sum + (call.userS + call.sysS) * 1000, 0) : undefined;
  return {
    cpuMs: cpuNs / 1e6, cpuMsPerSegment: per(cpuNs / 1e6),
    ...(callCpuMs === undefined ? {} : { callCpuMsPerSegment: per(callCpuMs) }),
    ...(systemMs === undefined || Number.isNaN(systemMs) || cpuNs <= 0 ? {} : { systemShare: Math.min(1, systemMs / (cpuNs / 1e6)) }),
  };
}
