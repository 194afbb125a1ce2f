// A name already archived: is the object there the same WAL as the file PostgreSQL asks to archive? Equal content
// (our checksum metadata, or the bytes) is; so is a segment that differs only after the end of its valid WAL (the
// same segment from a primary and a promoted standby: src/wal/valid-end.ts). Anything else is a conflict.
import { readFile } from "node:fs/promises";
import { PassThrough, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Config } from "../../config.js";
import { ConflictError } from "../../errors.js";
import type { Logger } from "../../log.js";
import type { CodecName } from "../../compress/codec.js";
import { decodingStages } from "../../crypto/crypter.js";
import type { Encryption } from "../../crypto/keys.js";
import { candidateKeys, codecOfKey } from "../../wal/archive-keys.js";
import { sameValidWal } from "../../wal/valid-end.js";
import type { ObjectInfo, Storage } from "../../storage/storage.js";
import { HashingTap } from "../../io/streams.js";
import { RECORDED_ALGORITHM, recordedDigest } from "../../io/content-digest.js";
import type { SourceFacts } from "./source.js";

/** The archived object of this name under any extension wal-g reads, unless a listing already found none. */
export async function findArchived(
  storage: Storage, name: string, knownAbsent: ((name: string) => Promise<boolean>) | undefined,
): Promise<ObjectInfo | undefined> {
  if (await knownAbsent?.(name)) return undefined;
  const [existing] = await storage.statAll(candidateKeys(name).map((candidate) => candidate.key));
  return existing;
}

/**
 * Equal content: our checksum metadata when present, else a byte comparison (wal-g sets no metadata). A segment
 * that differs only after the end of its valid WAL is "same-wal"; any difference inside the valid WAL stays a
 * conflict.
 */
export async function sameContent(
  storage: Storage, name: string, found: ObjectInfo, source: SourceFacts, config: Config,
): Promise<boolean | "same-wal"> {
  const info = found.metadata ? found : ((await storage.stat(found.key)) ?? found);
  const recorded = recordedDigest(info.metadata);
  if (recorded && recorded.hex === (await source.digest(recorded.algorithm))) return true;
  const codec = codecOfKey(name, found.key);
  if (!recorded) {
    // Decrypted with the configured key: an object it cannot decrypt fails here, saying why (exit 65).
    const archived = new HashingTap(0, RECORDED_ALGORITHM);
    await pipeline([await storage.read(found.key), ...(await decodingStages(codec, config.encryption, found.key)), archived, new PassThrough().resume()]);
    if (archived.bytes === source.size && archived.digest() === (await source.digest(RECORDED_ALGORITHM))) return true;
  }
  if (source.startLsn === undefined) return false;
  const local = { path: source.path, size: source.size, startLsn: source.startLsn };
  return (await sameWalAsArchived(storage, found.key, codec, local, config.encryption)) && "same-wal";
}

/** The push's answer for a name already archived: nothing to do when it is the same WAL, else a conflict (65). */
export function reportDuplicate(
  equal: boolean | "same-wal", name: string, storage: Storage, log: Logger,
): { readonly outcome: "already-archived"; readonly summary: string } {
  if (!equal) {
    throw new ConflictError(
      `${name} is already archived in ${storage.label} with different content; not overwriting`,
      "PostgreSQL keeps the file and retries; check whether another cluster archives to this prefix",
    );
  }
  if (equal === "same-wal") {
    log.warn(`${name} is already archived in ${storage.label} with the same WAL (the copies differ only after its end, as after a failover); nothing to do`);
    return { outcome: "already-archived", summary: "already archived with the same WAL" };
  }
  log.warn(`${name} is already archived in ${storage.label} with equal content; nothing to do`);
  return { outcome: "already-archived", summary: "already archived with equal content" };
}

/** Both copies are held in memory for the comparison; larger segments keep the plain byte rule. */
const SAME_WAL_LIMIT = 64 * 1024 * 1024;

/**
 * Downloads the archived copy and compares it with the local file by valid WAL. False (a conflict) when
 * either is larger than the limit, the sizes differ, or the archived copy cannot be decoded.
 */
async function sameWalAsArchived(
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
