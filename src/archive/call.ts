// archive_command as PostgreSQL runs it: an uploaded-ahead record short-cut, the push itself, and
// upload-ahead of other ready files while PostgreSQL waits.
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Env } from "../config.js";
import { claimHolderAlive, claimUpload, consumeUploadRecord, releaseClaim, writeUploadRecord } from "./records.js";
import { parseWalFileName } from "../wal/file-name.js";
import { MIN_SEGMENT_SIZE, type PushContext, type PushResult, pushWalFile } from "./push/push.js";
import { uploadAhead } from "./upload-ahead.js";
import { ensureUploader, uploaderAlive, uploaderEnabled } from "./uploader.js";

/** Files one call may upload ahead (wal-g's TOTAL_BG_UPLOADED_LIMIT default). */
const DEFAULT_AHEAD_LIMIT = 32;
/**
 * Each upload in flight holds its whole segment (push.ts packForUpload). Two ahead plus PostgreSQL's own file
 * kept both cores busy; a fourth upload added memory (~20 MB) but no speed (33 segments, MinIO, loopback).
 */
const MAX_AHEAD_PARALLEL = 2;

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

/** Longer than one upload's retries take; after it the call pushes itself (the write is conditional anyway). */
const CLAIM_WAIT_MS = 180_000;

/**
 * Pushes the file unless the background uploader is already at it: then its record is the answer. A claim
 * released without a record means that upload failed, and this call pushes (and reports) itself.
 */
async function pushClaimed(sourcePath: string, name: string, walDir: string, context: PushContext, env: Env): Promise<PushResult> {
  const deadline = Date.now() + CLAIM_WAIT_MS;
  while (Date.now() < deadline) {
    if (await claimUpload(walDir, name).catch(() => true)) break;
    while (Date.now() < deadline && (await claimHolderAlive(walDir, name))) await sleep(5);
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
