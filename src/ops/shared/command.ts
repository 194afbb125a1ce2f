// The shape of a wal-native sub-command.
import type { RunContext } from "../run.js";

export interface ToolCommand {
  readonly usage: string;
  /** Returns a problem description when the arguments are wrong (exit 64 with usage). */
  checkArgs?(args: readonly string[]): string | undefined;
  /** false: start without loading the configuration (context.config() still loads it on demand). */
  readonly needsConfig?: boolean;
  /** Returns the exit code (0 when undefined). Throws typed errors for failures. */
  run(args: readonly string[], context: RunContext): Promise<number | void>;
}
