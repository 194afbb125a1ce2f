// Entry point of wal-native: everything that is not the per-segment archive/restore path.
import { type Invocation, handleInfoFlags, runCommand, usageFailure } from "./run.js";

const invocation: Invocation = {
  program: "wal-native",
  role: "tool",
  argv: process.argv.slice(2),
  usage: `usage: wal-native <command> [arguments]
commands:
  wal-push <path> <file name>         the same as wal-archive
  wal-fetch <file name> <destination> the same as wal-restore
  help | --help                        this text
  --version                            print the version
`,
};

if (!handleInfoFlags(invocation)) {
  const [command, ...rest] = invocation.argv;
  if (command === "wal-push" && rest.length === 2) {
    const [path, name] = rest as [string, string];
    void runCommand({ ...invocation, role: "archive" }, async (config, log) => {
      const [{ pushWalFile }, { openStorage }] = await Promise.all([import("../command/push.js"), import("../storage/open.js")]);
      await pushWalFile(path, name, { config, log, storage: () => openStorage(config) });
    });
  } else if (command === "wal-fetch" && rest.length === 2) {
    const [name, destination] = rest as [string, string];
    void runCommand({ ...invocation, role: "restore" }, async (config, log) => {
      const [{ fetchWalFile }, { openStorage }] = await Promise.all([import("../command/fetch.js"), import("../storage/open.js")]);
      await fetchWalFile(name, destination, { config, log, storage: () => openStorage(config) });
    });
  } else {
    usageFailure(invocation, command ? `unknown command or wrong arguments: ${command}` : "no command given");
  }
}
