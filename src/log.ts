// Small stderr logger: levels, one line per event, optional copy to a log file. Stdout stays empty.
import { appendFileSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** What to do about the previous error, on its own "hint:" line. */
  hint(message: string): void;
}

export interface LoggerOptions {
  readonly prefix: string;
  readonly level?: LogLevel;
  /** Also append every line here (the runbook's /var/log/postgresql/wal-*.log); failures are ignored. */
  readonly file?: string;
  readonly stderr?: boolean;
  /** Start each stderr line with its time (the helpers' stderr is their own log file, which has no other clock). */
  readonly timestamps?: boolean;
}

const secrets: string[] = [];

/** Values that must never reach a log line or an error message (secret keys, session tokens). */
export function registerSecrets(values: readonly (string | undefined)[]): void {
  for (const value of values) if (value && value.length >= 4 && !secrets.includes(value)) secrets.push(value);
}

/** Removes registered secrets and the signing parts of presigned URLs. */
export function redact(text: string): string {
  let clean = text.replace(/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"']+/gi, "$1[redacted]");
  for (const secret of secrets) clean = clean.split(secret).join("[redacted]");
  return clean;
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold = RANK[options.level ?? "info"];
  let fileBroken = false;
  const emit = (level: LogLevel, message: string, tag: string = level === "info" ? "" : `${level}: `): void => {
    if (RANK[level] < threshold) return;
    const line = redact(`${options.prefix}: ${tag}${message}`) + "\n";
    if (options.stderr !== false) process.stderr.write(options.timestamps ? `${new Date().toISOString()} ${line}` : line);
    if (options.file && !fileBroken) {
      try {
        appendFileSync(options.file, `${new Date().toISOString()} [${process.pid}] ${line}`, { mode: 0o600 });
      } catch {
        // A missing log directory must never fail archiving; stderr still reaches PostgreSQL's log.
        fileBroken = true;
      }
    }
  };
  return {
    debug: (m) => emit("debug", m),
    info: (m) => emit("info", m),
    warn: (m) => emit("warn", m),
    error: (m) => emit("error", m),
    hint: (m) => emit("error", m, "hint: "),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, hint() {} };
