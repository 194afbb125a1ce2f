// Under a postmaster that is PID 1 of its namespace no helper may outlive its call: it would be adopted by the
// postmaster, and its death by a signal would make PostgreSQL terminate every session.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { helpersMayOutliveCalls, postmasterIsInit } from "../../../src/daemon/adoption.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe("a postmaster that is PID 1", () => {
  it.each([
    ["1\n/var/lib/postgresql/data\n1733350000\n5432\n", true],
    ["1", true],
    [" 1 \n", true],
    ["12345\n/var/lib/postgresql/data\n", false],
    ["11\n", false],
    ["-1\n", false],
    ["", false],
    [undefined, false],
  ])("is told by postmaster.pid %j: %s", (text, init) => {
    expect(postmasterIsInit(text)).toBe(init);
  });

  it("keeps helpers from outliving their calls in its data directory only", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "adoption-"));
    dirs.push(dataDir);
    expect(helpersMayOutliveCalls(dataDir)).toBe(true); // no postmaster.pid: a command run by hand
    await writeFile(join(dataDir, "postmaster.pid"), "4242\n");
    expect(helpersMayOutliveCalls(dataDir)).toBe(true);
    await writeFile(join(dataDir, "postmaster.pid"), `1\n${dataDir}\n`);
    expect(helpersMayOutliveCalls(dataDir)).toBe(false);
  });
});
