// npm run demo, as a new user runs it: archive, mistake, recovery to a restore point, check, clean-up.
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/paths.js";

async function demoDirs(): Promise<string[]> {
  return (await readdir("/tmp")).filter((name) => name.startsWith("wal-native-demo-"));
}

describe("npm run demo", () => {
  it("recovers the dropped table to the restore point, prints the check and cleans up", async () => {
    const before = await demoDirs();
    const child = spawn("bash", ["scripts/demo.sh"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    // PostgreSQL 16 from the npm package, a base backup without pg_basebackup: no system PostgreSQL needed.
    expect(stdout).toMatch(/^wal-native demo: PostgreSQL 16\.\d+ in /m);
    expect(stdout).toMatch(/base backup in .* \(pg_backup_start, copy, pg_backup_stop: ends at LSN [0-9A-F]+\/[0-9A-F]+\)/);
    const state = /accounts: (\d+ rows, balance \d+)/.exec(stdout)?.[1];
    expect(state).toBe("1005 rows, balance 5005005");
    expect(stdout).toContain(`  before the mistake: ${state}\n  recovered:          ${state}\n`);
    expect(stdout).toContain("row written after the restore point present: no");
    expect(stdout).toMatch(/wal-restore restored [1-9]\d* WAL files from the store/);
    expect(stdout).toContain("set recovery_target_name = 'before_mistake'");
    expect(stdout.trimEnd().split("\n").at(-1)).toBe("CHECK PASSED: the dropped table is back with exactly the rows of the restore point");
    expect((await demoDirs()).filter((dir) => !before.includes(dir))).toEqual([]);
  });
});
