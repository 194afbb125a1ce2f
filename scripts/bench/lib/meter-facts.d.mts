// Types of meter-facts.mjs, for the unit test.
export interface MeteredCall {
  seconds: number;
  kb: number;
  userS?: number;
  sysS?: number;
}
export declare function readWrapperFile(text: string): MeteredCall[];
export declare function cpuFacts(
  cpuNs: number | undefined,
  segments: number,
  split?: { calls?: MeteredCall[]; systemMs?: number },
): { cpuMs?: number; cpuMsPerSegment?: number; callCpuMsPerSegment?: number; systemShare?: number };
