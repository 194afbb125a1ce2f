// archive_command as PostgreSQL runs it: an uploaded-ahead record short-cut, the push itself, and
// upload-ahead of other ready files while PostgreSQL waits.
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Env } from "../config.js";
import { WAITS } from "../fastpath/protocol.js";
import { claimAgeMs, claimHolderAlive, claimUpload, consumeUploadRecord, releaseClaim, writeUploadRecord } from "./records.js";
import { MIN_SEGMENT_SIZE, parseWalFileName } from "../wal/file-name.js";
import { type PushContext, type PushResult, pushWalFile } from "./push/push.js";
import { uploadAhead } from "./upload-ahead.js";
import { ensureUploader, uploaderAlive, uploaderEnabled } from "./uploader.js";

/** Files one call may upload ahead (wal-g's TOTAL_BG_UPLOADED_LIMIT default). */
const DEFAULT_AHEAD_LIMIT = 32;
/**
 * Each upload in flight holds its whole segment (push.ts packForUpload). Two ahead plus PostgreSQL's own file keep
 * two cores busy; more only add memory.
 */
const MAX_AHEAD_PARALLEL = 2;

/** wal-archive %p %f and wal-native wal-push: the push (or its record), then the local archive kept in bounds. */
export async function runArchive(sourcePath: string, name: string, context: PushContext, env: Env): Promise<void> {
  await archiveWalFile(sourcePath, name, context, env);
  // Within WALNATIVE_LOCAL_ARCHIVE_MAX_MB/_MAX_AGE_HOURS, at most every 5 minutes; never fails the push.
  const localDir = context.config.localArchiveDir;
  if (localDir) await (await import("../local-archive/retention.js")).pruneIfDue(localDir, context.storage, env, context.log);
}

export async function archiveWalFile(sourcePath: string, name: string, context: PushContext, env: Env): Promise<PushResult> {
  // Validated before the name is used in any path (records, claims): '..' or 'a/b' must never reach them.
  parseWalFileName(name, MIN_SEGMENT_SIZE);
  const walDir = dirname(sourcePath);
  const recorded = await consumeUploadRecord(walDir, name, sourcePath, env);
  if (recorded !== undefined) return uploadedAhead(name, recorded, context);
  if (uploaderEnabled(walDir, env, context.config.uploadConcurrency)) {
    await ensureUploader(walDir, env).catch((error: unknown) => context.log.warn(`cannot start the background uploader: ${(error as Error).message}`));
    return pushClaimed(sourcePath, name, walDir, context, env);
  }
  const limit = Number(env.TOTAL_BG_UPLOADED_LIMIT ?? DEFAULT_AHEAD_LIMIT);
  const ahead = uploadAhead(
    { walDir, current: name, env, concurrency: Math.min(context.config.uploadConcurrency - 1, MAX_AHEAD_PARALLEL), limit: Number.isFinite(limit) ? limit : DEFAULT_AHEAD_LIMIT },
    context,
  );
  try {
    return await pushWalFile(sourcePath, name, context);
  } finally {
    // Wait for ahead uploads: exiting would kill them half-way, and their records are the point.
    await ahead;
  }
}

function uploadedAhead(name: string, summary: string, context: PushContext): PushResult {
  context.log.info(`pushed ${name} (uploaded ahead: ${summary})`);
  return { outcome: "pushed", summary };
}

/**
 * Pushes the file unless the background uploader is already at it: then its record is the answer. A claim
 * released without a record means that upload failed, and this call pushes (and reports) itself. A live claim is
 * waited for until it is WAITS.claimMs old, counted from the claim file's mtime: bin/wal-archive has usually spent
 * that budget already, and the two waits never add up. Past it the call pushes anyway (the write is conditional).
 */
async function pushClaimed(sourcePath: string, name: string, walDir: string, context: PushContext, env: Env): Promise<PushResult> {
  for (;;) {
    // A claim that cannot be made (state directory unwritable) fails open: pushing unclaimed is safe.
    if (await claimUpload(walDir, name).catch(() => true)) break;
    const age = await claimAgeMs(walDir, name);
    if (age !== undefined && age >= WAITS.claimMs) {
      context.log.warn(`the upload of ${name} by another process has run for ${Math.round(age / 1000)} s: pushing it here`);
      break;
    }
    if (await claimHolderAlive(walDir, name)) await sleep(WAITS.pollMs);
    const recorded = await consumeUploadRecord(walDir, name, sourcePath, env);
    if (recorded !== undefined) return uploadedAhead(name, recorded, context);
  }
  try {
    const result = await pushWalFile(sourcePath, name, context);
    // The uploader may list this file before PostgreSQL marks it done: a "pushed" record tells it that the file is
    // in storage, or it would read and hash it again only to find it archived. The uploader removes the record once
    // the file is done; none is written when no uploader runs to remove it.
    if (await uploaderAlive(walDir)) await writeUploadRecord(walDir, name, sourcePath, env, result.summary, "pushed").catch(() => undefined);
    return result;
  } finally {
    await releaseClaim(walDir, name);
  }
}
