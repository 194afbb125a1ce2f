// Every relative link in the README and in docs/ leads to a file of the repository.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Relative links of a markdown file, without their #anchors. */
function relativeLinks(text: string): string[] {
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => (match[1] as string).split("#")[0] as string)
    .filter((target) => target !== "" && !/^[a-z]+:/.test(target));
}

describe("links in README.md and docs/", () => {
  const files = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];
  for (const file of files) {
    it(`every relative link in ${file} leads to a file`, () => {
      const text = readFileSync(join(ROOT, file), "utf8");
      const broken = relativeLinks(text).filter((target) => !existsSync(resolve(ROOT, dirname(file), target)));
      expect(broken).toEqual([]);
    });
  }
});
