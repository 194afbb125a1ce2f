// Types of compare.mjs, for the unit test. Runs are results.json's, loosely typed.
import type { Target } from "./targets.mjs";
export interface ComparedTarget {
  measure: string;
  target: string;
  /** One per run, in the order given; undefined where that run did not judge the target. */
  perRun: (Target | undefined)[];
  metIn: number;
  /** Runs whose verdict was "yes" or "no" (not n/a, not absent). */
  judgedIn: number;
}
export declare function compareTargets(runs: Record<string, unknown>[]): ComparedTarget[];
export declare function compareMarkdown(runs: Record<string, unknown>[], names: string[]): string;
export declare function writeComparison(files: string[], outDir: string): string;
