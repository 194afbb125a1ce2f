// Where a WAL file lives in the archive: wal_005/<name><.ext>, and the keys wal-g would try (walg-compat.md 1.3, 2.7).
import { type CodecName, FETCH_ORDER, extensionOf, keySuffix } from "../compress/codec.js";
import { WAL_FOLDER } from "../storage/storage.js";

export interface CandidateKey {
  readonly key: string;
  readonly codec: CodecName;
}

export function walKey(name: string, codec: CodecName): string {
  return `${WAL_FOLDER}${name}${keySuffix(codec)}`;
}

/**
 * In wal-g's fetch order: name.lz4, name.lzma, name.gz, "name." (none as v3.0.8 wrote it), name.br,
 * name.zst, then the bare name as uncompressed.
 */
export function candidateKeys(name: string): CandidateKey[] {
  const keys = FETCH_ORDER.map((codec) => ({ key: `${WAL_FOLDER}${name}.${extensionOf(codec)}`, codec }));
  return [...keys, { key: `${WAL_FOLDER}${name}`, codec: "none" }];
}

export function codecOfKey(name: string, key: string): CodecName {
  return candidateKeys(name).find((candidate) => candidate.key === key)?.codec ?? "none";
}
