// What runs from node_modules and what is compiled into dist/: one list (scripts/externals.json) for the build, the
// install and package.json's dependencies, and every package src/ imports is one or the other.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const externals = JSON.parse(readFileSync(join(repo, "scripts", "externals.json"), "utf8")) as { external: string[]; optional: string[] };

/** Package names src/ imports (static or lazy), without node: built-ins and relative paths. */
function importedPackages(): Set<string> {
  const names = new Set<string>();
  const files = (readdirSync(join(repo, "src"), { recursive: true }) as string[]).filter((file) => file.endsWith(".ts"));
  for (const file of files) {
    const text = readFileSync(join(repo, "src", file), "utf8");
    for (const [, spec] of text.matchAll(/(?:from |import\()"([^".][^"]*)"/g)) {
      if (spec!.startsWith("node:")) continue;
      const parts = spec!.split("/");
      names.add(spec!.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
    }
  }
  return names;
}

describe("runtime and bundled packages", () => {
  it("dependencies are exactly the modules the bundles leave external (what scripts/install.sh copies)", () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...externals.external].sort());
    expect(readFileSync(join(repo, "scripts", "build.mjs"), "utf8")).toMatch(/external: \[\.\.\.externals\.external, \.\.\.externals\.optional\]/);
    expect(readFileSync(join(repo, "scripts", "install.sh"), "utf8")).toMatch(/scripts", "externals\.json"/);
  });

  it("every package src/ imports is either external (a dependency) or bundled (a devDependency)", () => {
    const imported = importedPackages();
    expect(imported.size).toBeGreaterThan(5);
    for (const name of imported) {
      const external = externals.external.includes(name) || externals.optional.includes(name);
      if (external) expect(pkg.dependencies, name).toHaveProperty([name]);
      else expect(pkg.devDependencies, `${name} is bundled into dist/, so a devDependency`).toHaveProperty([name]);
    }
  });
});
