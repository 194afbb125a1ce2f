// The README is the users' page: no development history in it (commit hashes, run timestamps, issue numbers),
// and the test command it names is the one CI runs.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

/** The before-stop checklist's rule: 7 to 12 lower-case hex digits with at least one letter and one digit. */
export function commitHashes(text: string): string[] {
  return [...text.matchAll(/\b[0-9a-f]{7,12}\b/g)].map((match) => match[0]).filter((word) => /[a-f]/.test(word) && /\d/.test(word));
}

/** A time of day: "12:45 UTC", "2026-11-26 12:45", "2026-11-26T12:45:00Z". A date alone is fine. */
export function runTimestamps(text: string): string[] {
  return [...text.matchAll(/\b\d{1,2}:\d{2}(?::\d{2})?\s*(?:UTC|GMT|Z)\b|\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/g)].map((match) => match[0]);
}

/** "issue 4", "issues 17 and 19", "#23". */
export function issueNumbers(text: string): string[] {
  return [...text.matchAll(/\bissues?\s+#?\d+|(?<![\w&])#\d+\b/gi)].map((match) => match[0]);
}

describe("README.md", () => {
  it("carries no commit hash, run timestamp or issue number", () => {
    expect(commitHashes(readme)).toEqual([]);
    expect(runTimestamps(readme)).toEqual([]);
    expect(issueNumbers(readme)).toEqual([]);
  });

  it("names npm test as the test command", () => {
    expect(readme).toMatch(/`npm test`/);
  });

  it("the rules catch what they are for", () => {
    expect(commitHashes("Until 13a5c21 the bench counted; base_000000010000000000000002; sha256 of e2e")).toEqual(["13a5c21"]);
    expect(runTimestamps("Run of 2026-11-26 12:45 UTC; the 12:51 UTC run; measured 2026-12-05")).toEqual(["2026-11-26 12:45", "12:51 UTC"]);
    expect(issueNumbers("Targets (issue 4); see #23; C# code; a `&#124;`")).toEqual(["issue 4", "#23"]);
  });
});
