// Shared entry-point plumbing: load config, build the logger, run, map errors to exit codes.
// This is the only place that exits the process.
import { ExitCode, NotFoundError, WalNativeError, printable } from "../errors.js";
import { type Logger, createLogger, registerSecrets } from "../log.js";
import type { Config } from "../config.js";
import type { RunContext } from "../ops/shared/command.js";
import { failureExitCode, failureNote, failurePolicy, recoveryKindAt } from "../restore/on-error.js";

declare const __WAL_NATIVE_VERSION__: string | undefined;
export const VERSION = typeof __WAL_NATIVE_VERSION__ === "string" ? __WAL_NATIVE_VERSION__ : "dev";

/** "worker": a detached helper (uploader, prefetch worker), which always exits 0 (daemon/lifetime.ts says why). */
export type Role = "archive" | "restore" | "tool" | "worker";

export interface Invocation {
  readonly program: string;
  readonly role: Role;
  readonly usage: string;
  readonly argv: readonly string[];
}

/** Prints help or version and exits; returns false when the arguments ask for neither. */
export function handleInfoFlags(invocation: Invocation): boolean {
  const first = invocation.argv[0];
  if (first === "--help" || first === "-h" || first === "help") {
    process.stdout.write(invocation.usage);
    return true;
  }
  if (first === "--version" || first === "-V") {
    process.stdout.write(`${invocation.program} ${VERSION}\n`);
    return true;
  }
  return false;
}

export async function runCommand(
  invocation: Invocation,
  body: (context: RunContext) => Promise<number | void>,
  needsConfig = true,
): Promise<never> {
  const env = process.env;
  // The SDK warns about Node 20 on every start; PostgreSQL's log would get one line per WAL file.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const sseCustomerKeys = [env.WALG_S3_SSE_C, env.S3_SSE_C, env.WALE_S3_SSE_C];
  registerSecrets([
    env.AWS_SECRET_ACCESS_KEY, env.AWS_SECRET_KEY, env.AWS_SESSION_TOKEN,
    // The SSE-C key also travels in base64 in a request header.
    ...sseCustomerKeys, ...sseCustomerKeys.map((key) => (key ? Buffer.from(key).toString("base64") : undefined)),
    env.WALG_LIBSODIUM_KEY, env.WALG_PGP_KEY, env.WALG_PGP_KEY_PASSPHRASE,
  ]);
  let log = createLogger({ prefix: invocation.program, level: "info", timestamps: invocation.role === "worker" });
  let code: number;
  let loaded: Config | undefined;
  try {
    const { loadConfig } = await import("../config.js");
    const config = (): Config => (loaded ??= loadConfig(env));
    // A wal-g setting we do not support stops every command, also those that need no storage (loadConfig checks too).
    if (!needsConfig) (await import("../walg-settings.js")).refuseUnsupportedSettings(env);
    if (needsConfig) {
      const { archiveLogFile, restoreLogFile, logLevel } = config();
      const file = invocation.role === "archive" ? archiveLogFile : invocation.role === "restore" ? restoreLogFile : undefined;
      log = createLogger({ prefix: invocation.program, level: logLevel, file, timestamps: invocation.role === "worker" });
    }
    code = (await body({ log, config })) ?? ExitCode.ok;
  } catch (error) {
    code = reportFailure(error, invocation, log, loaded);
  }
  if (invocation.role === "worker") code = ExitCode.ok;
  await new Promise<void>((resolve) => process.stderr.write("", () => resolve()));
  process.exit(code);
}

function reportFailure(error: unknown, invocation: Invocation, log: Logger, config: Config | undefined): number {
  if (error instanceof NotFoundError && invocation.role === "restore") {
    // PostgreSQL asks for files that do not exist all the time (history probes, end of archive).
    log.info(`${error.message}`);
    return ExitCode.notFound;
  }
  // restore_command: abort a targeted recovery, "not found" for a standby, unless WALNATIVE_RESTORE_ON_ERROR says
  // otherwise (restore/on-error.ts); PostgreSQL runs restore_command in the data directory.
  const policy = invocation.role === "restore" ? failurePolicy(recoveryKindAt("."), config) : undefined;
  const message = error instanceof WalNativeError ? printable(error.message) : `unexpected failure: ${(error as Error)?.message ?? String(error)}`;
  // One line says what is wrong and, for restore, what PostgreSQL does next and why; the hint (if any) closes it.
  log.error(policy ? `${message} (${failureNote(policy)})` : message);
  if (error instanceof WalNativeError) {
    if (error.hint) log.hint(error.hint);
    if (error.cause instanceof Error) log.debug(`cause: ${error.cause.stack ?? error.cause.message}`);
  } else log.debug((error as Error)?.stack ?? "");
  if (policy) return failureExitCode(policy);
  return error instanceof WalNativeError ? error.exitCode : ExitCode.internal;
}

export function usageFailure(invocation: Invocation, message: string): never {
  // archive_command/restore_command output lands in PostgreSQL's log: one error line and a hint, not the whole usage.
  const usageLine = invocation.usage.split("\n")[0] ?? "";
  const help = invocation.role === "tool" ? invocation.usage : `${invocation.program}: hint: ${usageLine} (see --help)\n`;
  process.stderr.write(`${invocation.program}: error: ${printable(message)}\n${help}`);
  process.exit(invocation.role === "restore" ? ExitCode.abortRecovery : ExitCode.usage);
}
