// The import rules of src/ (.dependency-cruiser.cjs, run by `npm run boundaries` in npm test): the real tree
// passes, and a copy of it with one planted import per rule fails with exactly those rules.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..", "..");
const depcruise = join(repo, "node_modules", ".bin", "depcruise");

interface Violation {
  readonly rule: { readonly name: string };
  readonly from: string;
  readonly to: string;
}

/** The exit status of the command npm test runs (`npm run boundaries`), and the violations as JSON. */
function cruise(root: string): { status: number | null; violations: Violation[] } {
  const run = (...extra: string[]) =>
    spawnSync(depcruise, ["src", "--config", ".dependency-cruiser.cjs", ...extra], { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const { status } = run();
  const json = run("--output-type", "json");
  if (!json.stdout) throw new Error(`depcruise printed nothing: ${json.stderr}`);
  return { status, violations: (JSON.parse(json.stdout) as { summary: { violations: Violation[] } }).summary.violations };
}

/** A file planted into a copy of src/, and the one rule it must break (a cycle is reported once, from its first file). */
const PLANTED: ReadonlyArray<{ file: string; text: string; rule?: string }> = [
  { file: "src/wal/planted.ts", text: `export { archiveWalFile } from "../archive/call.js";\n`, rule: "foundation-stays-below" },
  { file: "src/archive/planted.ts", text: `export { fetchWalFile } from "../restore/fetch.js";\n`, rule: "archive-wing-alone" },
  { file: "src/restore/planted.ts", text: `export { pushWalFile } from "../archive/push/push.js";\n`, rule: "restore-wing-alone" },
  { file: "src/local-archive/planted-wing.ts", text: `export { fetchWalFile } from "../restore/fetch.js";\n`, rule: "shared-layers-below-wings" },
  { file: "src/local-archive/planted.ts", text: `export { STATE_DIR } from "../fastpath/protocol.js";\n`, rule: "local-archive-apart" },
  { file: "src/fastpath/planted.ts", text: `export { LocalArchive } from "../local-archive/store.js";\n`, rule: "fastpath-is-a-definition" },
  { file: "src/ops/cache/planted.ts", text: `export { renderText } from "../check/output.js";\n`, rule: "ops-commands-apart" },
  { file: "src/ops/drill/planted.ts", text: `export { runPrefetchWorker } from "../../restore/prefetch/worker.js";\n`, rule: "ops-enter-wings-by-index" },
  { file: "src/io/planted.ts", text: `export { VERSION } from "../main/run.js";\n`, rule: "nothing-imports-main" },
  { file: "src/io/cycle-a.ts", text: `import { b } from "./cycle-b.js";\nexport const a = (): number => b() + 1;\n`, rule: "no-cycles" },
  { file: "src/io/cycle-b.ts", text: `import { a } from "./cycle-a.js";\nexport const b = (): number => a() - 1;\n` },
];

const scratch = mkdtempSync(join(tmpdir(), "wal-native-boundaries-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("import boundaries of src/", () => {
  it("the source tree as it is breaks no rule", () => {
    const { status, violations } = cruise(repo);
    expect(violations).toEqual([]);
    expect(status).toBe(0);
  }, 120_000);

  it("fails on a planted import for each rule, naming the rule and the file", () => {
    for (const name of ["src", "tsconfig.json", ".dependency-cruiser.cjs", "package.json"]) {
      cpSync(join(repo, name), join(scratch, name), { recursive: true });
    }
    for (const { file, text } of PLANTED) writeFileSync(join(scratch, file), text);
    const { status, violations } = cruise(scratch);
    expect(status).not.toBe(0);
    const found = new Set(violations.map((violation) => `${violation.rule.name} ${violation.from}`));
    for (const { file, rule } of PLANTED) if (rule) expect(found, `${rule} for ${file}`).toContain(`${rule} ${file}`);
    // Nothing but the plants: every violation starts in a planted file.
    expect(violations.filter((violation) => !PLANTED.some(({ file }) => file === violation.from))).toEqual([]);
  }, 120_000);
});
