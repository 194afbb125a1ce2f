// Appends one JSON line per fault scenario to test/faults/.results.jsonl; scripts/reliability-report.mjs renders it.
import { appendFileSync } from "node:fs";
import { join, relative } from "node:path";
import { expect } from "vitest";
import { REPO_ROOT } from "../support/paths.js";

export const RESULTS_FILE = process.env["WALNATIVE_FAULT_RESULTS"] ?? join(REPO_ROOT, "test", "faults", ".results.jsonl");

export type Figure = number | string | boolean;

export interface ScenarioResult {
  /** Issue item number and short title, e.g. "5 corruption"; the report groups by it. */
  readonly scenario: string;
  /** The test's behaviour in a few words; with scenario, the key the report deduplicates on (latest wins). */
  readonly check: string;
  /** What happened, in one sentence. */
  readonly outcome: string;
  readonly figures?: Readonly<Record<string, Figure>>;
}

/** Records a scenario's outcome; called after the assertions pass, so the report only shows proven results. */
export function record(result: ScenarioResult): void {
  const state = expect.getState();
  const file = state.testPath ? relative(REPO_ROOT, state.testPath) : undefined;
  const line = { ...result, file, test: state.currentTestName, at: new Date().toISOString() };
  appendFileSync(RESULTS_FILE, `${JSON.stringify(line)}\n`);
}
