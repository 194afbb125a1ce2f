// Which cluster an archive belongs to: the first push claims it with the segment's system identifier, and a
// segment of another system is refused, so that two clusters never mix their WAL under one prefix.
import { mkdir, readFile, writeFile, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { ConflictError, NotFoundError } from "../errors.js";
import { ObjectExistsError, type Storage } from "../storage/storage.js";

/** Object at the storage root that records the cluster an archive belongs to; wal-g ignores it. */
export const IDENTITY_KEY = "wal_native_identity.json";

/**
 * Refuses a segment whose system identifier differs from the archive's. The first push claims the
 * archive with a conditional write; the answer is remembered in the local archive directory so the
 * check costs no round trip afterwards. Within one process the check runs once: the background
 * uploader starts several pushes at once, before any of them has written the cache.
 */
export function checkArchiveIdentity(storage: Storage, systemId: bigint, cacheDir: string | undefined): Promise<void> {
  const key = `${storage.label}\n${systemId}\n${cacheDir ?? ""}`;
  let check = checksInThisProcess.get(key);
  if (!check) {
    check = checkOnce(storage, systemId, cacheDir);
    checksInThisProcess.set(key, check);
    // A failure (storage down) is asked again by the next push, not remembered.
    check.catch(() => checksInThisProcess.delete(key));
  }
  return check;
}
const checksInThisProcess = new Map<string, Promise<void>>();

async function checkOnce(storage: Storage, systemId: bigint, cacheDir: string | undefined): Promise<void> {
  const cacheFile = cacheDir ? join(cacheDir, ".archive-identity") : undefined;
  const cached = cacheFile ? await readCached(cacheFile, storage.label) : undefined;
  if (cached === systemId) return;
  let archived = await readArchiveIdentity(storage);
  if (archived === undefined) {
    const body = `${JSON.stringify({ system_identifier: systemId.toString(), created: new Date().toISOString() })}\n`;
    try {
      await storage.write(IDENTITY_KEY, Readable.from([Buffer.from(body)]), { ifAbsent: true });
      archived = systemId;
    } catch (error) {
      if (!(error instanceof ObjectExistsError)) throw error;
      archived = await readArchiveIdentity(storage);
    }
  }
  if (archived !== systemId) {
    throw new ConflictError(
      `segment belongs to database system ${systemId} but ${storage.label} holds the archive of system ${archived}`,
      "each cluster needs its own WALG_S3_PREFIX / WALG_FILE_PREFIX (after initdb or pg_upgrade, start a new prefix)",
    );
  }
  if (cacheFile) await writeCached(cacheFile, storage.label, systemId);
}

/** One GET: absent is NotFound (a HEAD first would cost a second round trip, ~20 ms from a far store). */
export async function readArchiveIdentity(storage: Storage): Promise<bigint | undefined> {
  let body: AsyncIterable<unknown>;
  try {
    body = (await storage.open(IDENTITY_KEY)).body;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  const match = /"system_identifier"\s*:\s*"?(\d+)"?/.exec(text);
  return match?.[1] ? BigInt(match[1]) : undefined;
}

async function readCached(file: string, label: string): Promise<bigint | undefined> {
  try {
    for (const line of (await readFile(file, "utf8")).split("\n")) {
      const [id, ...rest] = line.split(" ");
      if (rest.join(" ") === label && id && /^\d+$/.test(id)) return BigInt(id);
    }
  } catch {
    // No cache yet: ask the archive.
  }
  return undefined;
}

async function writeCached(file: string, label: string, systemId: bigint): Promise<void> {
  try {
    let lines: string[] = [];
    try {
      lines = (await readFile(file, "utf8")).split("\n").filter((line) => line && !line.endsWith(` ${label}`));
    } catch {
      // first entry
    }
    const temp = `${file}.${process.pid}.tmp`;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(temp, [...lines, `${systemId} ${label}`].join("\n") + "\n", { mode: 0o600 });
    await rename(temp, file);
  } catch {
    // The cache only saves a round trip; the next push asks the archive again.
  }
}
