// Locating external binaries for tests; a missing tool fails loudly with an install hint, never skips.
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
export const SETUP_HINT = "run: bash scripts/setup-test-tools.sh";

/** Directories searched after PATH: Go-installed tools and the PostgreSQL 15 binaries. */
function extraDirs(): string[] {
  return [join(homedir(), "go", "bin"), PG_BIN];
}

/** Returns the absolute path of an executable, or undefined when it is on neither PATH nor the extra dirs. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter).filter(Boolean), ...extraDirs()];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Returns the tool's absolute path or throws an error that names the tool and how to install it. */
export function requireTool(name: string, hint: string = SETUP_HINT): string {
  const found = findTool(name);
  if (found === undefined) {
    throw new Error(
      `required tool '${name}' not found on PATH or in ${extraDirs().join(", ")}\nhint: ${hint}`,
    );
  }
  return found;
}
