// The commands under test: our bin/ launchers, wal-g, and walg-daemon-client (built once from the local
// wal-g mirror when Go is present; wal-g's release build does not include it). Binaries are copied into a
// postgres-readable tools dir because $HOME/go/bin sits under /root (mode 0700).
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_BIN, run } from "./proc.mjs";

const WALG_TAG = "v3.0.9";
const MIRROR = "/work/.mirror/wal-g+wal-g/repo";
const CLIENT_SOURCES = ["cmd/daemonclient/main.go", "internal/daemon/client.go", "internal/daemon/common.go",
  "internal/databases/postgres/constants/constants.go"];

export function findWalg() {
  for (const candidate of [process.env.WALG_BINARY, join(homedir(), "go", "bin", "wal-g"), "/usr/local/bin/wal-g"]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  throw new Error("wal-g not found: run bash scripts/setup-test-tools.sh (builds wal-g v3.0.9 into $HOME/go/bin)");
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
    const built = await buildDaemonClient(cacheDir);
    tools.daemonClient = join(toolsDir, "walg-daemon-client");
    copyFileSync(built, tools.daemonClient);
    chmodSync(tools.daemonClient, 0o755);
  } catch (error) {
    tools.daemonNote = `walg-daemon-client unavailable: ${error.message.split("\n")[0]}`;
  }
  return tools;
}

/** go build of wal-g's cmd/daemonclient (stdlib only) from the mirror's v3.0.9 tree; cached. */
async function buildDaemonClient(cacheDir) {
  const out = join(cacheDir, `walg-daemon-client-${WALG_TAG}`);
  if (existsSync(out)) return out;
  const go = [process.env.GO_BINARY, "/usr/local/go/bin/go", "/usr/bin/go"].find((p) => p && existsSync(p));
  if (!go) throw new Error("go not found");
  if (!existsSync(MIRROR)) throw new Error(`wal-g source mirror ${MIRROR} not found`);
  const src = join(tmpdir(), `walg-daemon-client-src-${process.pid}`);
  try {
    for (const file of CLIENT_SOURCES) {
      mkdirSync(join(src, file, ".."), { recursive: true });
      writeFileSync(join(src, file), execFileSync("git", ["-C", MIRROR, "show", `${WALG_TAG}:${file}`]));
    }
    writeFileSync(join(src, "go.mod"), "module github.com/wal-g/wal-g\n\ngo 1.21\n");
    mkdirSync(cacheDir, { recursive: true });
    const result = await run(go, ["build", "-o", out, "./cmd/daemonclient"], {
      cwd: src, env: { ...process.env, GOPROXY: "off", GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
    });
    if (result.code !== 0) throw new Error(`go build failed: ${result.stderr.trim()}`);
    return out;
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}
