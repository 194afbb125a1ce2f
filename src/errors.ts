// Typed errors that carry the exit code and a message a DBA understands.
// The only place that turns them into a process exit is main/run.ts.

/** Exit codes from sysexits.h, as wal-g and PostgreSQL tooling use them. */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 64, // EX_USAGE
  dataError: 65, // EX_DATAERR: conflict, corruption, another cluster's segment
  noInput: 66, // EX_NOINPUT: %p missing or unreadable
  notFound: 74, // EX_IOERR: what wal-g returns for "not in the archive"
  tempFailure: 75, // EX_TEMPFAIL
  config: 78, // EX_CONFIG
  /** restore_command: any status above 125 makes PostgreSQL abort recovery instead of promoting. */
  abortRecovery: 200,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface ExitSituation {
  /** Said to the DBA, as in the README (Markdown: `code` spans). */
  readonly situation: string;
  /** undefined: the program never answers this way. */
  readonly archive?: ExitCodeValue;
  /** What wal-restore answers by default: abort (200) for any failure; on a standby restore/on-error.ts decides. */
  readonly restore?: ExitCodeValue;
  /** The line in one program's --help, where the situation says more than that program needs. */
  readonly says?: { readonly archive?: string; readonly restore?: string };
}

/**
 * What wal-archive and wal-restore exit with, situation by situation: the one table their --help texts are rendered
 * from (exitCodeLines) and the README's "Exit codes" table must agree with (test/unit/exit-codes.test.ts).
 */
export const EXIT_SITUATIONS: readonly ExitSituation[] = [
  {
    situation: "success (archive: storage confirmed the object; restore: file at `%p`)",
    archive: ExitCode.ok,
    restore: ExitCode.ok,
    says: { archive: "archived: storage confirmed the object", restore: "restored: the file is at %p" },
  },
  { situation: "file confirmed absent from the archive (same as wal-g)", restore: ExitCode.notFound },
  { situation: "bad arguments, a `%f` that is not a WAL file name", archive: ExitCode.usage, restore: ExitCode.abortRecovery },
  { situation: "`%p` missing or unreadable", archive: ExitCode.noInput },
  {
    situation: "empty file, header that disagrees with the name, different content already archived, segment of another cluster",
    archive: ExitCode.dataError,
    restore: ExitCode.abortRecovery,
  },
  {
    situation: "storage unreachable, throttled, 5xx, wrong credentials, missing bucket (after retries)",
    archive: ExitCode.tempFailure,
    restore: ExitCode.abortRecovery,
  },
  { situation: "configuration error, a refused wal-g setting", archive: ExitCode.config, restore: ExitCode.abortRecovery },
  { situation: "unexpected internal error", archive: ExitCode.internal, restore: ExitCode.abortRecovery },
];

/** The program's rows of EXIT_SITUATIONS for its --help: "  64   bad arguments, ...", plain text. */
export function exitCodeLines(program: "archive" | "restore"): string {
  return EXIT_SITUATIONS.filter((row) => row[program] !== undefined)
    .map((row) => `  ${String(row[program]).padEnd(4)} ${row.says?.[program] ?? row.situation.replaceAll("`", "")}\n`)
    .join("");
}

export class WalNativeError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(message: string, exitCode: number, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = options?.hint;
  }
}

export class UsageError extends WalNativeError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, { hint });
  }
}

export class ConfigError extends WalNativeError {
  readonly setting: string;
  constructor(setting: string, message: string, hint?: string) {
    super(`${setting}: ${message}`, ExitCode.config, { hint });
    this.setting = setting;
  }
}

export class InvalidWalNameError extends WalNativeError {
  constructor(name: string, reason: string) {
    super(`'${printable(name)}' is not a WAL file name: ${reason}`, ExitCode.usage, {
      hint: "expected a segment (24 hex digits), NNNNNNNN.history, <segment>.partial or <segment>.XXXXXXXX.backup",
    });
  }
}

/** The bytes are not what the name or the archive says they are. */
export class CorruptDataError extends WalNativeError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, ExitCode.dataError, options);
  }
}

/** Different content already archived, or a segment of another cluster. */
export class ConflictError extends WalNativeError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.dataError, { hint });
  }
}

/** The archive confirmed the object is absent under every candidate key. */
export class NotFoundError extends WalNativeError {
  readonly key: string;
  constructor(key: string, where: string) {
    super(`'${key}' not found in ${where}`, ExitCode.notFound);
    this.key = key;
  }
}

/** Network, throttling, 5xx, timeouts: worth retrying. */
export class TransientStorageError extends WalNativeError {
  constructor(message: string, cause?: unknown) {
    super(message, ExitCode.tempFailure, { cause });
  }
}

/** Storage answered, but with a refusal that retrying will not fix (403, missing bucket). */
export class StorageAccessError extends WalNativeError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, ExitCode.tempFailure, options);
  }
}

/** A local file problem: %p missing, unreadable, disk full. */
export class LocalFileError extends WalNativeError {
  constructor(message: string, cause?: unknown, exitCode: number = ExitCode.tempFailure) {
    super(message, exitCode, { cause });
  }
}

export function isTransient(error: unknown): boolean {
  return error instanceof TransientStorageError;
}

/** Keep control characters out of log lines built from user input. */
export function printable(text: string): string {
  const clipped = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  return clipped.replace(/[\u0000-\u001f\u007f]/g, "?");
}
