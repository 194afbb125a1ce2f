// wal-native wal-push: the same as wal-archive, for people used to wal-g's command names.
import type { ToolCommand } from "../ops/shared/command.js";

export const command: ToolCommand = {
  usage: "usage: wal-native wal-push <path> <file name>\n  the same as: wal-archive <path> <file name>\n",
  checkArgs: (args) => (args.length === 2 ? undefined : `expected 2 arguments, got ${args.length}`),
  async run(args, { config, log }) {
    const [{ runArchive }, { openStorage }] = await Promise.all([import("../archive/call.js"), import("../storage/open.js")]);
    let storage: Promise<import("../storage/storage.js").Storage> | undefined;
    await runArchive(args[0] as string, args[1] as string, { config: config(), log, storage: () => (storage ??= openStorage(config())) }, process.env);
  },
};
