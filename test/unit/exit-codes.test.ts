// The exit codes of wal-archive and wal-restore are kept once, in src/errors.ts (EXIT_SITUATIONS): their --help
// texts are rendered from it, and the README's "Exit codes" table must say the same, row for row.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EXIT_SITUATIONS, ExitCode, exitCodeLines } from "../../src/errors.js";
import { failureExitCode, failurePolicy } from "../../src/restore/on-error.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The rows of the first Markdown table after the "## Exit codes" heading, cells trimmed, header and rule dropped. */
function readmeExitTable(): string[][] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Exit codes\n"));
  const lines = section.split("\n").slice(2);
  const start = lines.findIndex((line) => line.startsWith("|"));
  const table = lines.slice(start, lines.findIndex((line, at) => at > start && !line.startsWith("|")));
  return table.slice(2).map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
}

/** EXIT_SITUATIONS as the README writes it: "-" where the program never answers so. */
function expectedRows(): string[][] {
  return EXIT_SITUATIONS.map((row) => [row.situation, String(row.archive ?? "-"), String(row.restore ?? "-")]);
}

describe("exit codes", () => {
  it("the README's table says what src/errors.ts says, row for row", () => {
    const rendered = expectedRows().map((cells) => `| ${cells.join(" | ")} |`).join("\n");
    expect(readmeExitTable(), `README.md's Exit codes table should read:\n${rendered}`).toEqual(expectedRows());
  });

  it("wal-archive's rows name every code its typed errors carry, and only those", () => {
    const archive = new Set(EXIT_SITUATIONS.map((row) => row.archive).filter((code) => code !== undefined));
    const { notFound, abortRecovery, ...archiveCodes } = ExitCode;
    expect(archive).toEqual(new Set(Object.values(archiveCodes)));
    expect([notFound, abortRecovery].some((code) => archive.has(code))).toBe(false);
  });

  it("wal-restore's rows are success, confirmed absence and, for a failure, what a recovery outside a standby hears", () => {
    const failure = failureExitCode(failurePolicy("targeted", undefined));
    expect(failureExitCode(failurePolicy("unknown", undefined))).toBe(failure);
    const restore = EXIT_SITUATIONS.filter((row) => row.restore !== undefined);
    expect(restore.map((row) => row.restore)).toEqual([ExitCode.ok, ExitCode.notFound, ...Array(restore.length - 2).fill(failure)]);
    // Every failure of wal-archive is also one of wal-restore, except a missing %p (wal-restore writes %p).
    const restoreFailures = EXIT_SITUATIONS.filter((row) => row.archive !== undefined && row.archive !== ExitCode.ok && row.archive !== ExitCode.noInput);
    expect(restoreFailures.every((row) => row.restore === failure)).toBe(true);
  });

  it("each program's --help lists its own rows, code first, without Markdown", () => {
    const archive = exitCodeLines("archive").trimEnd().split("\n");
    expect(archive).toHaveLength(EXIT_SITUATIONS.filter((row) => row.archive !== undefined).length);
    expect(archive[0]).toBe("  0    archived: storage confirmed the object");
    expect(archive).toContain("  66   %p missing or unreadable");
    const restore = exitCodeLines("restore").trimEnd().split("\n");
    expect(restore.slice(0, 2)).toEqual(["  0    restored: the file is at %p", "  74   file confirmed absent from the archive (same as wal-g)"]);
    expect(restore.filter((line) => line.startsWith("  200  "))).toHaveLength(5);
    expect(exitCodeLines("archive") + exitCodeLines("restore")).not.toContain("`");
  });
});
