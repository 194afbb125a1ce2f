// wal-native wal-fetch: the same as wal-restore, for people used to wal-g's command names.
import type { ToolCommand } from "../ops/shared/command.js";

export const command: ToolCommand = {
  usage: "usage: wal-native wal-fetch <file name> <destination>\n  the same as: wal-restore <file name> <destination>\n",
  checkArgs: (args) => (args.length === 2 ? undefined : `expected 2 arguments, got ${args.length}`),
  async run(args, { config, log }) {
    const [{ fetchWalFile }, { openStorage }] = await Promise.all([import("../restore/fetch.js"), import("../storage/open.js")]);
    await fetchWalFile(args[0] as string, args[1] as string, { config: config(), log, storage: () => openStorage(config()) });
  },
};
