// The fast-path protocol that the sh launchers share with the TypeScript, defined once: every name under
// pg_wal/.wal-native/, the record line, the "pid boot start" line of pid files and claims, the wait budgets
// and the log defaults. scripts/build.mjs renders bin/wal-archive and bin/wal-restore from the templates
// beside this file with shConstants(); nothing here does I/O.

/** PostgreSQL's pg_wal holds our state in this directory (pg_basebackup and wal-g skip dot directories in pg_wal). */
export const STATE_DIR = ".wal-native";

/** Names inside STATE_DIR. */
export const NAMES = {
  /** Records of files uploaded ahead, served by bin/wal-archive: uploaded/<name>. */
  uploaded: "uploaded",
  /** Records of files a call pushed itself while the uploader ran (never served): pushed/<name>. */
  pushed: "pushed",
  /** Claims of uploads in progress, each holding its process line: uploading/<name>. */
  claims: "uploading",
  uploaderPid: "uploader.pid",
  uploaderLog: "uploader.log",
  /** The prefetch worker's directory, with its published files, marks and the replay cursor. */
  prefetch: "prefetch",
  workerPid: "worker.pid",
  /** The worker has marked what it fetches first: from then on an unmarked segment is not coming. */
  workerReady: "worker.ready",
  workerLog: "worker.log",
  cursor: "cursor",
} as const;

/** Marks beside a published NAME in the prefetch directory. */
export const MARKS = {
  /** NAME.missing holds the epoch second at which storage said it has no NAME. */
  missing: ".missing",
  /** NAME.keep: the archive's last segment, served by copy because PostgreSQL reads it again. */
  keep: ".keep",
} as const;

const FETCHING_SUFFIX = ".fetching";
/** .NAME.fetching: the worker has NAME in hand (downloading, or waiting to decode it). */
export function fetchingMark(name: string): string {
  return `.${name}${FETCHING_SUFFIX}`;
}

/** The first word of a record line; a record of another version is never trusted (Node pushes, finds it equal). */
export const RECORD_VERSION = "v2";

/** One part of a record setting: the first non-empty of these variables, or a word when a secret is set. */
type SettingPart = { readonly first: readonly string[] } | { readonly ifSet: string; readonly word: string };

/**
 * The settings a record was made under, one field each, joined by "|". A record made under other values is void:
 * - the store: each variable group read as the first non-empty, in the order config.ts reads them (WALG_ before
 *   WALE_, AWS_ENDPOINT before WALG_AWS_ENDPOINT);
 * - the compression method and the encryption, which decide the object's key and bytes: archive_command may change
 *   them with a reload while an uploader started under the old ones still runs. Keys appear only as whether they
 *   are set (records are plain files in pg_wal), so a new inline key of the same method is not noticed: files
 *   uploaded ahead until the uploader's next restart keep the old key.
 */
export const RECORD_SETTINGS: readonly (readonly SettingPart[])[] = [
  [{ first: ["WALG_S3_PREFIX", "WALE_S3_PREFIX"] }],
  [{ first: ["WALG_FILE_PREFIX", "WALE_FILE_PREFIX"] }],
  [{ first: ["WALG_STORAGE_PREFIX"] }],
  [{ first: ["AWS_ENDPOINT", "WALG_AWS_ENDPOINT", "WALE_AWS_ENDPOINT"] }],
  [{ first: ["AWS_REGION", "WALG_AWS_REGION", "WALE_AWS_REGION"] }],
  [{ first: ["WALG_COMPRESSION_METHOD"] }],
  [{ ifSet: "WALG_PGP_KEY", word: "pgp" }, { first: ["WALG_PGP_KEY_PATH"] }],
  [{ ifSet: "WALG_LIBSODIUM_KEY", word: "libsodium" }, { first: ["WALG_LIBSODIUM_KEY_PATH"] }],
  [{ first: ["WALG_LIBSODIUM_KEY_TRANSFORM"] }],
  [{ ifSet: "WALG_S3_SSE_C", word: "sse-c" }, { ifSet: "S3_SSE_C", word: "sse-c" }, { ifSet: "WALE_S3_SSE_C", word: "sse-c" }],
];

/** Every variable a record setting reads. */
export const RECORD_VARIABLES: readonly string[] = RECORD_SETTINGS.flat().flatMap((part) => ("first" in part ? part.first : [part.ifSet]));

export function settingsFingerprint(env: Readonly<Record<string, string | undefined>>): string {
  const value = (part: SettingPart): string =>
    "first" in part ? (part.first.map((name) => env[name]).find((text) => text) ?? "") : env[part.ifSet] ? part.word : "";
  return RECORD_SETTINGS.map((field) => field.map(value).join("")).join("|");
}

/** The same in sh: ${A:-${B:-}} and ${K:+word} (each expansion a builtin). */
function shSettingsFingerprint(): string {
  const first = (names: readonly string[]): string =>
    names.reduceRight((inner, name) => (inner === "" ? `\${${name}}` : `\${${name}:-${inner}}`), "");
  const part = (p: SettingPart): string => ("first" in p ? first(p.first) : `\${${p.ifSet}:+${p.word}}`);
  return RECORD_SETTINGS.map((field) => field.map(part).join("")).join("|");
}

/**
 * What a record says about the local file: size, inode and mtime to the nanosecond, exactly as
 * `TZ=UTC0 stat -c '%s %i %y'` prints them (GNU coreutils and busybox print %y alike; %.9Y is GNU only).
 */
export function fileIdentity(info: { size: bigint; ino: bigint; mtimeNs: bigint }): string {
  const seconds = info.mtimeNs / 1_000_000_000n;
  const nanos = (info.mtimeNs % 1_000_000_000n).toString().padStart(9, "0");
  const stamp = new Date(Number(seconds) * 1000).toISOString().slice(0, 19).replace("T", " ");
  return `${info.size} ${info.ino} ${stamp}.${nanos} +0000`;
}

export const STAT_IDENTITY_COMMAND = "TZ=UTC0 stat -c '%s %i %y'";

/** The record's first line; its second is the upload's summary for the log line. */
export function recordLine(identity: string, env: Readonly<Record<string, string | undefined>>): string {
  return `${RECORD_VERSION} ${identity} ${settingsFingerprint(env)}`;
}

/**
 * Pid files and claims hold "<pid> <boot id> <start time>": a process counts as alive only while /proc/<pid>/stat
 * shows that start time (field 22, clock ticks since boot) in the boot named, so a reused pid (after a reboot, or
 * on a volume shared across PID namespaces) never passes for ours.
 */
export function processLine(pid: number, bootId: string, startTime: string): string {
  return `${pid} ${bootId} ${startTime}`;
}

export interface ProcessLine {
  readonly pid: number;
  readonly bootId: string;
  readonly startTime: string;
}

/** undefined for anything but three words with a pid above 1 and a numeric start time. */
export function parseProcessLine(text: string): ProcessLine | undefined {
  const [pid, bootId, startTime, ...rest] = text.trim().split(/\s+/);
  if (rest.length > 0 || !pid || !bootId || !startTime || !/^\d+$/.test(pid) || !/^\d+$/.test(startTime)) return undefined;
  const number = Number(pid);
  return number > 1 && Number.isSafeInteger(number) ? { pid: number, bootId, startTime } : undefined;
}

/**
 * Wait budgets, each spent once: the launcher waits in sh, and Node does not wait again for the same thing (the
 * hand-over is a single attempt in Node; a claim's budget runs from the claim file's mtime, whoever waits).
 */
export const WAITS = {
  /** One poll of the launchers' wait loops (a fractional sleep; without one, the launcher hands over to Node). */
  pollMs: 5,
  /** A live uploader holding a claim on the file is waited for this long, from the claim's mtime. */
  claimMs: 180_000,
  /** An uploader gets this long to claim a file that has just become ready. */
  newReadyMs: 100,
  /** A prefetch worker without worker.ready is still starting: waited for this long. */
  bootMs: 500,
  /** A segment marked .NAME.fetching: waited for this long. */
  inHandMs: 1_000,
  /** A download whose temporary file has not grown for this long has stalled: not waited for. */
  inFlightStallMs: 200,
  /** A growing download is waited for at most this long. */
  inFlightMaxMs: 5_000,
  /** The poll of the growing-download loop. */
  inFlightPollMs: 10,
  /** A NAME.missing answer is trusted for this many seconds (the worker asks storage again every second). */
  missingFreshSeconds: 3,
} as const;

/** Default log files (the runbook's); WALNATIVE_ARCHIVE_LOG / WALNATIVE_RESTORE_LOG override them, "" or "off" switch them off. */
export const DEFAULT_LOGS = {
  archive: "/var/log/postgresql/wal-archive.log",
  restore: "/var/log/postgresql/wal-restore.log",
} as const;

/** The placeholders of src/fastpath/*.sh, filled by scripts/build.mjs (node: the absolute path of the node binary). */
export function shConstants(node: string): Record<string, string> {
  const rounds = (ms: number, pollMs: number = WAITS.pollMs): string => String(Math.ceil(ms / pollMs));
  return {
    NODE: shQuote(node),
    STATE_DIR,
    UPLOADED: NAMES.uploaded,
    CLAIMS: NAMES.claims,
    UPLOADER_PID: NAMES.uploaderPid,
    PREFETCH: NAMES.prefetch,
    WORKER_PID: NAMES.workerPid,
    WORKER_READY: NAMES.workerReady,
    CURSOR: NAMES.cursor,
    MISSING: MARKS.missing,
    KEEP: MARKS.keep,
    FETCHING_SUFFIX,
    RECORD_VERSION,
    STAT_IDENTITY: STAT_IDENTITY_COMMAND,
    FINGERPRINT: shSettingsFingerprint(),
    POLL_SECONDS: (WAITS.pollMs / 1000).toString(),
    IN_FLIGHT_POLL_SECONDS: (WAITS.inFlightPollMs / 1000).toString(),
    CLAIM_ROUNDS: rounds(WAITS.claimMs),
    NEW_READY_ROUNDS: rounds(WAITS.newReadyMs),
    BOOT_ROUNDS: rounds(WAITS.bootMs),
    IN_HAND_ROUNDS: rounds(WAITS.inHandMs),
    STALL_ROUNDS: rounds(WAITS.inFlightStallMs, WAITS.inFlightPollMs),
    IN_FLIGHT_ROUNDS: rounds(WAITS.inFlightMaxMs, WAITS.inFlightPollMs),
    MISSING_FRESH_SECONDS: String(WAITS.missingFreshSeconds),
    ARCHIVE_LOG: shQuote(DEFAULT_LOGS.archive),
    RESTORE_LOG: shQuote(DEFAULT_LOGS.restore),
  };
}

function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
