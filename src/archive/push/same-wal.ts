// The failover-duplicate rule for wal-archive: a segment already archived with other bytes still counts as
// the same when both copies hold identical valid WAL and differ only after its end (src/wal/valid-end.ts).
import { readFile } from "node:fs/promises";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { CodecName } from "../../compress/codec.js";
import { decodingStages } from "../../crypto/crypter.js";
import type { Encryption } from "../../crypto/keys.js";
import type { Storage } from "../../storage/storage.js";
import { sameValidWal } from "../../wal/valid-end.js";

/** Both copies are held in memory for the comparison; larger segments keep the plain byte rule. */
export const SAME_WAL_LIMIT = 64 * 1024 * 1024;

/**
 * Downloads the archived copy and compares it with the local file by valid WAL. False (a conflict) when
 * either is larger than the limit, the sizes differ, or the archived copy cannot be decoded.
 */
export async function sameWalAsArchived(
  storage: Storage,
  key: string,
  codec: CodecName,
  local: { path: string; size: number; startLsn: bigint },
  encryption?: Encryption,
): Promise<boolean> {
  if (local.size > SAME_WAL_LIMIT) return false;
  const chunks: Buffer[] = [];
  let bytes = 0;
  const collect = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > local.size) return done(new Error("archived copy is larger than the local file"));
      chunks.push(chunk);
      done();
    },
  });
  try {
    await pipeline([await storage.read(key), ...(await decodingStages(codec, encryption, key)), collect]);
  } catch {
    return false;
  }
  return bytes === local.size && sameValidWal(await readFile(local.path), Buffer.concat(chunks, bytes), local.startLsn);
}
