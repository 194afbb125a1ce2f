// Records of files uploaded ahead of PostgreSQL's call: written only after storage confirmed the
// object, trusted only while the local file is unchanged (size, mtime, inode) and the storage
// settings are the same. bin/wal-archive checks the same line in sh before Node starts; the line's
// format is fastpath/protocol.ts's.
import { mkdir, open, readFile, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Env } from "../config.js";
import { NAMES, STATE_DIR, fileIdentity as identityOf, recordLine } from "../fastpath/protocol.js";
import { describeProcess, isAlive } from "../daemon/identity.js";

/**
 * "uploaded": a file uploaded ahead, for PostgreSQL's later call (bin/wal-archive serves it). "pushed": a file a call
 * pushed itself while the uploader runs, only so that the uploader does not take it up again; no call is served
 * from it, so a repeated call still compares with storage as any re-push does.
 */
export type RecordKind = "uploaded" | "pushed";

function recordDir(walDir: string, kind: RecordKind = "uploaded"): string {
  return join(walDir, STATE_DIR, kind === "uploaded" ? NAMES.uploaded : NAMES.pushed);
}

/** What the launcher's `stat` prints for the file (protocol.ts fileIdentity). */
async function fileIdentity(path: string): Promise<string | undefined> {
  try {
    return identityOf(await stat(path, { bigint: true }));
  } catch {
    return undefined;
  }
}

export async function writeUploadRecord(
  walDir: string, name: string, sourcePath: string, env: Env, summary: string, kind: RecordKind = "uploaded",
): Promise<void> {
  const identity = await fileIdentity(sourcePath);
  if (!identity) return;
  const dir = recordDir(walDir, kind);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${name}.${process.pid}.tmp`);
  const handle = await open(temp, "w", 0o600);
  try {
    await handle.writeFile(`${recordLine(identity, env)}\n${summary}\n`);
  } finally {
    await handle.close();
  }
  await rename(temp, join(dir, name));
}

/** The record's summary when a valid record says this exact file is already in storage. */
export async function readUploadRecord(
  walDir: string, name: string, sourcePath: string, env: Env, kind: RecordKind = "uploaded",
): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(recordDir(walDir, kind), name), "utf8");
  } catch {
    return undefined;
  }
  const [line, summary] = text.split("\n");
  const identity = await fileIdentity(sourcePath);
  return identity && line === recordLine(identity, env) ? (summary ?? "") : undefined;
}

/**
 * Like readUploadRecord, and removes the record either way: a valid one is used up, and a stale
 * one (file or settings changed) must not be trusted later.
 */
export async function consumeUploadRecord(walDir: string, name: string, sourcePath: string, env: Env): Promise<string | undefined> {
  const summary = await readUploadRecord(walDir, name, sourcePath, env);
  await unlink(join(recordDir(walDir), name)).catch(() => undefined);
  return summary;
}

/** Names with a record of this kind (maybe stale): one listing instead of a failed open per ready file. */
export async function recordedNames(walDir: string, kind: RecordKind): Promise<Set<string>> {
  return new Set((await readdir(recordDir(walDir, kind)).catch(() => [] as string[])).filter((name) => !name.startsWith(".")));
}

/**
 * Removes the records of files PostgreSQL no longer lists as ready: it has archived them, so no call and no
 * upload will ask for them (the "pushed" ones, and "uploaded" ones that outlived their call). Records are listed
 * before archive_status, so a record written in between is kept.
 */
export async function pruneRecords(walDir: string): Promise<number> {
  const kinds: RecordKind[] = ["uploaded", "pushed"];
  const listed = await Promise.all(kinds.map(async (kind) => ({ kind, names: [...(await recordedNames(walDir, kind))] })));
  if (listed.every(({ names }) => names.length === 0)) return 0;
  let status: Set<string>;
  try {
    status = new Set(await readdir(join(walDir, "archive_status")));
  } catch {
    return 0;
  }
  const stale = listed.flatMap(({ kind, names }) => names.filter((name) => !status.has(`${name}.ready`)).map((name) => join(recordDir(walDir, kind), name)));
  await Promise.all(stale.map((path) => unlink(path).catch(() => undefined)));
  return stale.length;
}

/**
 * A claim says which process is uploading a file right now (`.wal-native/uploading/<name>`, holding its
 * process line), so that PostgreSQL's call for it waits for that upload's record (bin/wal-archive does so
 * in sh) instead of uploading the same file a second time. A claim whose process is gone counts for nothing.
 */
function claimPath(walDir: string, name: string): string {
  return join(walDir, STATE_DIR, NAMES.claims, name);
}

export async function claimUpload(walDir: string, name: string): Promise<boolean> {
  const path = claimPath(walDir, name);
  await mkdir(join(walDir, STATE_DIR, NAMES.claims), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(path, "wx", 0o600);
      try {
        await handle.writeFile(`${describeProcess()}\n`);
      } finally {
        await handle.close();
      }
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (await claimHolderAlive(walDir, name)) return false;
      await unlink(path).catch(() => undefined);
    }
  }
  return false;
}

export async function releaseClaim(walDir: string, name: string): Promise<void> {
  const path = claimPath(walDir, name);
  const holder = await readFile(path, "utf8").catch(() => "");
  if (holder.trim() === describeProcess()) await unlink(path).catch(() => undefined);
}

/** How long ago the claim was made (its mtime), or undefined when there is none: a claim's wait budget runs from it. */
export async function claimAgeMs(walDir: string, name: string, now = Date.now()): Promise<number | undefined> {
  const info = await stat(claimPath(walDir, name)).catch(() => undefined);
  return info === undefined ? undefined : Math.max(0, now - info.mtimeMs);
}

/** True while another live process holds the claim (an empty file is one being written: alive). */
export async function claimHolderAlive(walDir: string, name: string): Promise<boolean> {
  let holder: string;
  try {
    holder = (await readFile(claimPath(walDir, name), "utf8")).trim();
  } catch {
    return false;
  }
  if (holder === "") return true;
  if (holder === describeProcess()) return false;
  return isAlive(holder);
}
