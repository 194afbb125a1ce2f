// archive_command as PostgreSQL runs it: an uploaded-ahead record short-cut, the push itself, and
// upload-ahead of other ready files while PostgreSQL waits.
import { dirname } from "node:path";
import type { Env } from "../config.js";
import { consumeUploadRecord } from "../cache/upload-records.js";
import { type PushContext, type PushResult, pushWalFile } from "./push.js";
import { uploadAhead } from "./upload-ahead.js";

/** Files one call may upload ahead (wal-g's TOTAL_BG_UPLOADED_LIMIT default). */
const DEFAULT_AHEAD_LIMIT = 32;
/** Each upload in flight holds a few MiB of blocks and buffers: this keeps a call under ~150 MB RSS. */
const MAX_AHEAD_PARALLEL = 3;

export async function archiveWalFile(sourcePath: string, name: string, context: PushContext, env: Env): Promise<PushResult> {
  const walDir = dirname(sourcePath);
  const recorded = await consumeUploadRecord(walDir, name, sourcePath, env);
  if (recorded !== undefined) {
    context.log.info(`pushed ${name} (uploaded ahead: ${recorded})`);
    return { outcome: "pushed", summary: recorded };
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
