// The commands under test: our bin/ launchers, wal-g, and walg-daemon-client (our own C client for wal-g's
// daemon socket, lib/walg-daemon-client.c, compiled once with cc; wal-g's release build does not ship one).
// Binaries are copied into a postgres-readable tools dir because $HOME/go/bin sits under /root (mode 0700).
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, chmodSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_BIN, run } from "./proc.mjs";

const CLIENT_SOURCE = join(dirname(fileURLToPath(import.meta.url)), "walg-daemon-client.c");

export function findWalg() {
  for (const candidate of [process.env.WALG_BIN, process.env.WALG_BINARY, join(homedir(), "go", "bin", "wal-g"), "/usr/local/bin/wal-g"]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  throw new Error("wal-g not found: install wal-g v3.0.9 (built with brotli and libsodium) and set WALG_BIN=/path/to/wal-g");
}

/**
 * Copies wal-g (and the daemon client when it can be had) into toolsDir. Returns the paths, the wal-g
 * version line, and why daemon mode is unavailable when it is.
 */
export async function prepareTools(toolsDir, cacheDir) {
  mkdirSync(toolsDir, { recursive: true });
  chmodSync(toolsDir, 0o755);
  const walg = join(toolsDir, "wal-g");
  copyFileSync(findWalg(), walg);
  chmodSync(walg, 0o755);
  const version = (await run(walg, ["--version"])).stdout.trim().split("\n")[0] ?? "unknown";
  const tools = {
    walg, walgVersion: version,
    walArchive: join(REPO_BIN, "wal-archive"), walRestore: join(REPO_BIN, "wal-restore"),
    daemonClient: undefined, daemonNote: undefined,
  };
  const hasDaemon = (await run(walg, ["daemon", "--help"])).code === 0;
  if (!hasDaemon) {
    tools.daemonNote = "this wal-g build has no daemon command";
    return tools;
  }
  try {
    const built = await compileDaemonClient(cacheDir);
    tools.daemonClient = join(toolsDir, "walg-daemon-client");
    copyFileSync(built, tools.daemonClient);
    chmodSync(tools.daemonClient, 0o755);
  } catch (error) {
    tools.daemonNote = `walg-daemon-client unavailable: ${error.message.split("\n")[0]}`;
  }
  return tools;
}

/** cc -O2 of lib/walg-daemon-client.c into the cache, keyed by the source's hash so edits rebuild it. */
async function compileDaemonClient(cacheDir) {
  const source = readFileSync(CLIENT_SOURCE);
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 12);
  const out = join(cacheDir, `walg-daemon-client-c-${hash}`);
  if (existsSync(out)) return out;
  const cc = [process.env.CC, "/usr/bin/cc", "/usr/bin/gcc"].find((p) => p && existsSync(p));
  if (!cc) throw new Error("no C compiler (cc) found");
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const result = await run(cc, ["-O2", "-Wall", "-o", tmp, CLIENT_SOURCE]);
  if (result.code !== 0) throw new Error(`cc failed: ${result.stderr.trim()}`);
  renameSync(tmp, out);
  return out;
}
