// The shape of a wal-native sub-command, and what the entry point hands it.
import type { Config } from "../../config.js";
import type { Logger } from "../../log.js";

export interface RunContext {
  readonly log: Logger;
  /** Loads and validates the configuration on first use (ConfigError, exit 78, when it is wrong). */
  config(): Config;
}

export interface ToolCommand {
  readonly usage: string;
  /** Returns a problem description when the arguments are wrong (exit 64 with usage). */
  checkArgs?(args: readonly string[]): string | undefined;
  /** false: start without loading the configuration (context.config() still loads it on demand). */
  readonly needsConfig?: boolean;
  /** Returns the exit code (0 when undefined). Throws typed errors for failures. */
  run(args: readonly string[], context: RunContext): Promise<number | void>;
}
