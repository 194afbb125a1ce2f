// The built bundles start through loaders that hand V8 a code cache per flag set (scripts/build.mjs). A cache
// V8 refuses costs nothing but the saving, so nothing else would notice: this checks that every cache is
// accepted under its flags, and that the flags the commands really start Node with each have one.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FLAG_SETS, cacheKey } from "../../scripts/code-cache.mjs";
import { REPO_ROOT } from "../support/paths.js";

const DIST = join(REPO_ROOT, "dist");
const BUNDLES = ["wal-archive", "wal-restore", "wal-native", "s3"];

/** Compiles each bundle in a Node started with `flags`, with the cache the loader would pick (or `key`'s), as the loader does. */
function rejectedUnder(flags: readonly string[], key = cacheKey(flags)): Record<string, boolean> {
  const probe = `
    const { readFileSync } = require("node:fs");
    const { Script } = require("node:vm");
    const { wrap } = require("node:module");
    const [dist, key, ...bundles] = process.argv.slice(1);
    const result = {};
    for (const name of bundles) {
      const file = dist + "/" + name + ".main.cjs";
      const cachedData = readFileSync(file + "." + key + ".v8cache");
      result[name] = new Script(wrap(readFileSync(file, "utf8")), { filename: file, cachedData }).cachedDataRejected;
    }
    process.stdout.write(JSON.stringify(result));`;
  return JSON.parse(execFileSync(process.execPath, [...flags, "-e", probe, DIST, key, ...BUNDLES], { encoding: "utf8" }));
}

describe("V8 code caches of the bundles", () => {
  it.each(FLAG_SETS.map((flags) => [flags.join(" ") || "(no flags)", flags] as const))("are accepted under %s", (_label, flags) => {
    expect(rejectedUnder(flags)).toEqual(Object.fromEntries(BUNDLES.map((name) => [name, false])));
  });

  it("are refused under other flags, which is why there is one per flag set", () => {
    expect(rejectedUnder(["--max-semi-space-size=2"], cacheKey([]))).toEqual(Object.fromEntries(BUNDLES.map((name) => [name, true])));
  });

  it("exist for the flags bin/wal-archive, the uploader and the prefetch worker start Node with", () => {
    const used = [
      ...[...readFileSync(join(REPO_ROOT, "bin", "wal-archive"), "utf8").matchAll(/exec "\$node"((?: --[\w=-]+)*) "/g)].map((m) => m[1]!.trim()),
      ...[join("archive", "uploader.ts"), join("restore", "prefetch", "worker.ts")].flatMap((file) =>
        [...readFileSync(join(REPO_ROOT, "src", file), "utf8").matchAll(/execArgv: \[((?:"--[\w=-]+"(?:, )?)*)\]/g)].map((m) =>
          m[1]!.replaceAll('"', "").split(", ").filter(Boolean).join(" "),
        ),
      ),
    ];
    expect(used).toHaveLength(4); // two launches in bin/wal-archive, one spawn (daemon/daemon.ts) in each module
    expect(new Set(used)).toEqual(new Set(["--expose-gc", "", "--expose-gc --max-semi-space-size=1"]));
    for (const flags of used) expect(FLAG_SETS.map((set) => set.join(" "))).toContain(flags);
  });

  it("run the bundle behind the loader: exit codes and output pass through", () => {
    expect(execFileSync(join(REPO_ROOT, "bin", "wal-archive"), ["--help"], { encoding: "utf8" })).toMatch(/^usage: wal-archive <path> <file name>/);
    let status: number | undefined;
    try {
      execFileSync(join(REPO_ROOT, "bin", "wal-archive"), ["only-one-argument"], { stdio: "pipe" });
    } catch (error) {
      status = (error as { status: number }).status;
    }
    expect(status).toBe(64);
  });
});
