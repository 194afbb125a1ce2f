// The commands under test and the bench's own small binaries: our bin/ launchers; wal-g (WALG_BIN, optional:
// its rows are skipped with the reason when it is absent); walg-daemon-client (our own C client for wal-g's
// daemon socket, lib/walg-daemon-client.c); pgBackRest (Debian's package, installed when missing, optional
// too); and call-meter (lib/call-meter.c), the wrapper that times each command, takes its peak RSS and puts it
// in the scenario's cgroup. The C sources are compiled once with cc -O2 into the bench cache, keyed by their
// hash. Binaries are copied into a postgres-readable tools dir because /root is mode 0700.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, chmodSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePgbackrest } from "./pgbackrest.mjs";
import { REPO_BIN, run } from "./proc.mjs";

const LIB = dirname(fileURLToPath(import.meta.url));

/** wal-g's path, or undefined: WALG_BIN, else wal-g on PATH, else in $HOME/go/bin (the test suite's order). */
export function findWalg() {
  if (process.env.WALG_BIN) {
    if (!existsSync(process.env.WALG_BIN)) throw new Error(`WALG_BIN=${process.env.WALG_BIN} does not exist`);
    return process.env.WALG_BIN;
  }
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), join(homedir(), "go", "bin")];
  return dirs.map((dir) => join(dir, "wal-g")).find((path) => existsSync(path));
}

/**
 * Prepares every tool in toolsDir. Returns { walArchive, walRestore, meter, walg?, walgVersion?, walgNote?,
 * daemonClient?, daemonNote?, pgbackrest?, pgbackrestVersion?, pgbackrestNote? }: a peer that cannot be had
 * comes with the reason instead of its path.
 */
export async function prepareTools(toolsDir, cacheDir, say) {
  mkdirSync(toolsDir, { recursive: true });
  chmodSync(toolsDir, 0o755);
  const tools = {
    walArchive: join(REPO_BIN, "wal-archive"), walRestore: join(REPO_BIN, "wal-restore"),
    meter: install(await compile(cacheDir, "call-meter"), join(toolsDir, "call-meter")),
  };
  const found = findWalg();
  if (!found) {
    tools.walgNote = "wal-g not found (set WALG_BIN to a wal-g v3.0.9 built with brotli)";
    tools.daemonNote = tools.walgNote;
  } else {
    tools.walg = install(found, join(toolsDir, "wal-g"));
    tools.walgVersion = (await run(tools.walg, ["--version"])).stdout.trim().split("\n")[0] ?? "unknown";
    if ((await run(tools.walg, ["daemon", "--help"])).code !== 0) tools.daemonNote = "this wal-g build has no daemon command";
    else {
      try {
        tools.daemonClient = install(await compile(cacheDir, "walg-daemon-client"), join(toolsDir, "walg-daemon-client"));
      } catch (error) {
        tools.daemonNote = `walg-daemon-client unavailable: ${error.message.split("\n")[0]}`;
      }
    }
  }
  const pgbackrest = ensurePgbackrest(say);
  if (pgbackrest.bin) Object.assign(tools, { pgbackrest: pgbackrest.bin, pgbackrestVersion: pgbackrest.version });
  else tools.pgbackrestNote = pgbackrest.reason;
  return tools;
}

function install(from, to) {
  copyFileSync(from, to);
  chmodSync(to, 0o755);
  return to;
}

/** cc -O2 of lib/<name>.c into the cache, keyed by the source's hash so edits rebuild it. */
async function compile(cacheDir, name) {
  const source = join(LIB, `${name}.c`);
  const hash = createHash("sha256").update(readFileSync(source)).digest("hex").slice(0, 12);
  const out = join(cacheDir, `${name}-c-${hash}`);
  if (existsSync(out)) return out;
  const cc = [process.env.CC, "/usr/bin/cc", "/usr/bin/gcc"].find((p) => p && existsSync(p));
  if (!cc) throw new Error(`no C compiler (cc) found to build ${name}`);
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const result = await run(cc, ["-O2", "-Wall", "-o", tmp, source]);
  if (result.code !== 0) throw new Error(`cc ${name}.c failed: ${result.stderr.trim()}`);
  renameSync(tmp, out);
  return out;
}
