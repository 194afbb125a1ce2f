// Entry point of wal-native: everything that is not the per-segment archive/restore path.
// Each command lives in src/ops/<name>/command.ts (wal-push and wal-fetch beside this file) and is loaded only when called.
import { ConfigError } from "../errors.js";
import { type Invocation, type Role, handleInfoFlags, runCommand, usageFailure } from "./run.js";
import type { ToolCommand } from "../ops/shared/command.js";

interface Entry {
  readonly summary: string;
  readonly role?: Role;
  /** Commands that work without a storage configuration (e.g. restore-prepare for a local cluster). */
  readonly load: () => Promise<{ command: ToolCommand }>;
}

const COMMANDS: Record<string, Entry> = {
  init: { summary: "prepare the bucket or directory (versioning, lifecycle) and prove access", load: () => import("../ops/init/command.js") },
  check: { summary: "[--json|--prometheus]: archiver, .ready backlog, backup age, storage; exit 0/1/2", load: () => import("../ops/check/command.js") },
  cache: { summary: "prune [--max-mb N] [--max-age 72h] [--all]: shrink the local archive safely", load: () => import("../ops/cache/command.js") },
  drill: { summary: "restore|pitr|dr: restore into a temporary cluster, check it, time it, remove it", load: () => import("../ops/drill/command.js") },
  "wal-push": { summary: "<path> <file name>: the same as wal-archive", role: "archive", load: () => import("./wal-push.js") },
  "wal-fetch": { summary: "<file name> <destination>: the same as wal-restore", role: "restore", load: () => import("./wal-fetch.js") },
  "backup-list": { summary: "[--detail] [--json]: list backups like wal-g backup-list", load: () => import("../ops/backup-list/command.js") },
  "wal-verify": { summary: "[integrity] [timeline] [--json]: find gaps in the WAL archive like wal-g wal-verify", load: () => import("../ops/wal-verify/command.js") },
  "restore-prepare": { summary: "[<data dir>] [--target-...]: set up PostgreSQL 12+ recovery from the archive", load: () => import("../ops/restore-prepare/command.js") },
};

const invocation: Invocation = {
  program: "wal-native",
  role: "tool",
  argv: process.argv.slice(2),
  usage: `usage: wal-native <command> [arguments]    (wal-native <command> --help for details)
commands:
${Object.entries(COMMANDS)
  .map(([name, entry]) => `  ${name.padEnd(16)} ${entry.summary}`)
  .join("\n")}
  --version          print the version
`,
};

if (!handleInfoFlags(invocation)) {
  const [name, ...args] = invocation.argv;
  const entry = name === undefined ? undefined : COMMANDS[name];
  if (!entry || name === undefined) usageFailure(invocation, name ? `unknown command '${name}'` : "no command given");
  void entry.load().then(
    ({ command }) => {
      const sub: Invocation = { program: `wal-native ${name}`, role: entry.role ?? "tool", argv: args, usage: command.usage };
      if (handleInfoFlags(sub)) return;
      const problem = command.checkArgs?.(args);
      if (problem) usageFailure(sub, problem);
      void runCommand(sub, (context) => command.run(args, context), command.needsConfig ?? true);
    },
    // A command that cannot be loaded is a broken install (a module missing from dist/ or node_modules).
    (error: unknown) =>
      runCommand({ ...invocation, program: `wal-native ${name}` }, () => {
        throw new ConfigError("installation", `cannot load the ${name} command: ${(error as Error).message}`, "reinstall wal-native (npm ci && npm run build, or scripts/install.sh)");
      }, false),
  );
}
