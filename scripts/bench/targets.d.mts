// Types of targets.mjs, for the unit test. Rows are results.json's, loosely typed.
export interface Target {
  measure: string;
  target: string;
  measured: string;
  /** "yes", "no (<what missed, by how much>)" or "n/a". */
  met: string;
}
export declare function targets(results: Record<string, unknown>): Target[];
export declare function largestOurs(results: Record<string, unknown>): { kb: number; where: string } | undefined;
