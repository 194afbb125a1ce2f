// A Docker engine of the tests' own: Debian's dockerd with its own data root, exec root, socket and
// config, host network only (no bridge, no iptables, no IP forwarding), so that nothing of any other
// daemon on the machine is touched and no container ever gets a private-range address. stop() (also
// run by a watchdog when the test process dies) removes every container, stops the daemon, unmounts
// what is mounted below its directory and deletes it.
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { inject } from "vitest";

const run = promisify(execFile);
export const DOCKERD = "/usr/sbin/dockerd";
export const ENGINE_DIR_PREFIX = "/tmp/wal-native-docker-";
export const DOCKER_HINT = "apt-get install docker.io docker-compose debootstrap (bash scripts/setup-test-tools.sh does it)";

export interface Engine {
  readonly dir: string;
  /** unix:///…/docker.sock, for DOCKER_HOST */
  readonly host: string;
  /** The environment for docker, docker-compose and testcontainers: this engine, the classic builder, no reaper. */
  readonly env: NodeJS.ProcessEnv;
  docker(args: readonly string[], opts?: { cwd?: string; timeoutMs?: number; input?: string }): Promise<string>;
  stop(): Promise<void>;
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
async function mountsBelow(dir: string): Promise<string[]> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  const points = info.split("\n").map((line) => line.split(" ")[4] ?? "")
    .map((p) => p.replace(/\\040/g, " "))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountBelow(dir: string): Promise<void> {
  for (let round = 0; round < 5; round += 1) {
    const points = await mountsBelow(dir);
    if (points.length === 0) return;
    for (const point of points) await run("umount", ["-l", point]).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readPid(file: string): Promise<number | undefined> {
  const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The daemon of `dir` is this pid only while its command line names `dir` (a reused pid is left alone). */
async function ownDaemon(dir: string): Promise<number | undefined> {
  const pid = await readPid(join(dir, "dockerd.pid"));
  if (pid === undefined || !alive(pid)) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.includes(join(dir, "root")) ? pid : undefined;
}

/** Removes every container, stops the daemon (its containerd with it), unmounts and deletes `dir`. */
export async function teardownEngine(dir: string, docker?: (args: string[]) => Promise<string>): Promise<void> {
  const daemon = await ownDaemon(dir);
  if (daemon !== undefined && docker) {
    const ids = (await docker(["ps", "-aq"]).catch(() => "")).split("\n").filter(Boolean);
    if (ids.length > 0) await docker(["rm", "-f", "-v", ...ids]).catch(() => undefined);
  }
  if (daemon !== undefined) {
    process.kill(daemon, "SIGTERM");
    for (let i = 0; i < 300 && alive(daemon); i += 1) await new Promise((r) => setTimeout(r, 100));
    if (alive(daemon)) process.kill(daemon, "SIGKILL");
  }
  // The daemon's containerd and shims, should any outlive it: only those whose command line names `dir`.
  for (const entry of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(dir) && /containerd/.test(cmdline)) {
      try {
        process.kill(Number(entry), "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
  await unmountBelow(dir);
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

/** Engines of earlier runs whose test process died before their watchdog could clean up. */
async function sweepStaleEngines(): Promise<void> {
  for (const name of await readdir("/tmp").catch(() => [])) {
    const dir = join("/tmp", name);
    if (!dir.startsWith(ENGINE_DIR_PREFIX)) continue;
    const owner = await readPid(join(dir, "owner.pid"));
    if (owner !== undefined && alive(owner)) continue;
    await teardownEngine(dir, (args) => dockerAt(`unix://${join(dir, "docker.sock")}`, args));
  }
}

function engineEnv(host: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DOCKER_HOST: host,
    // The classic builder: it needs no buildx plugin, and BuildKit's own container would be pulled.
    DOCKER_BUILDKIT: "0",
    COMPOSE_DOCKER_CLI_BUILD: "0",
    // testcontainers' reaper (Ryuk) is an image from a registry; stop() removes every container instead.
    TESTCONTAINERS_RYUK_DISABLED: "true",
    // testcontainers looks for the host's address on the bridge network, which this engine has not.
    TESTCONTAINERS_HOST_OVERRIDE: "127.0.0.1",
    DOCKER_CONFIG: "/nonexistent-wal-native-docker-config",
  };
}

async function dockerAt(host: string, args: readonly string[], opts: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<string> {
  const child = run("docker", [...args], {
    env: engineEnv(host), cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 * 1024 * 1024,
  });
  if (opts.input !== undefined) child.child.stdin?.end(opts.input);
  return (await child).stdout;
}

export async function startEngine(): Promise<Engine> {
  if (!existsSync(DOCKERD)) throw new Error(`${DOCKERD} not found: ${DOCKER_HINT}`);
  await sweepStaleEngines();
  const runId = inject("runId") ?? "norun";
  const dir = await mkdtemp(`${ENGINE_DIR_PREFIX}${runId}-`);
  const host = `unix://${join(dir, "docker.sock")}`;
  await writeFile(join(dir, "owner.pid"), `${process.pid}\n`);
  await writeFile(join(dir, "daemon.json"), "{}\n");
  // dockerd 20.10 also writes these two outside its roots: removed at the end when this run made them.
  const hadTrustKey = existsSync("/etc/docker/key.json");
  const hadRunDocker = existsSync("/run/docker");
  const daemon = spawn(DOCKERD, [
    "--config-file", join(dir, "daemon.json"),
    "--data-root", join(dir, "root"),
    "--exec-root", join(dir, "exec"),
    "--pidfile", join(dir, "dockerd.pid"),
    "--host", host,
    "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
    "--log-level=warn",
  ], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  daemon.unref();
  // The watchdog: when this test process dies without stop(), it tears the engine down all the same.
  const watchdog = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null && [ -d '${dir}' ]; do sleep 2; done
    [ -d '${dir}' ] || exit 0
    DOCKER_HOST='${host}' docker ps -aq | xargs -r env DOCKER_HOST='${host}' docker rm -f -v >/dev/null 2>&1
    pid=$(cat '${dir}/dockerd.pid' 2>/dev/null) && kill "$pid" 2>/dev/null
    i=0; while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
    grep -o " ${dir}[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf '${dir}'
    ${hadTrustKey ? ":" : "rm -f /etc/docker/key.json"}
    ${hadRunDocker ? ":" : "rmdir /run/docker/plugins /run/docker 2>/dev/null"}`], { detached: true, stdio: "ignore" });
  watchdog.unref();

  const docker = (args: readonly string[], opts: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<string> =>
    dockerAt(host, args, opts);
  const started = Date.now();
  for (;;) {
    if (await docker(["info", "--format", "{{.ServerVersion}}"], { timeoutMs: 10_000 }).then(() => true, () => false)) break;
    if (Date.now() - started > 60_000 || daemon.exitCode !== null) {
      await teardownEngine(dir);
      throw new Error(`dockerd did not come up within 60 s (exit ${daemon.exitCode}); ${DOCKER_HINT}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`[docker-engine] dockerd ${host} ready in ${Date.now() - started} ms`);
  return {
    dir,
    host,
    env: engineEnv(host),
    docker,
    async stop() {
      await teardownEngine(dir, (args) => docker(args));
      if (!hadTrustKey) await rm("/etc/docker/key.json", { force: true });
      // rmdir only: empty directories (the plugins directory dockerd makes), never anything in use.
      if (!hadRunDocker) for (const d of ["/run/docker/plugins", "/run/docker"]) await rmdir(d).catch(() => undefined);
      watchdog.kill();
    },
  };
}
