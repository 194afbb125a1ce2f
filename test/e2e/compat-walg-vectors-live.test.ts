// The committed vectors cannot rot: wherever a wal-g binary is found, scripts/vectors-walg.mjs records them
// again into a temporary directory and this suite compares. Deterministic output (inputs, every unencrypted
// object, the 16 MiB ones included, whose regenerated input must have the same SHA-256) must be byte-equal; for randomised output (encryption nonces and session keys, backup times and
// LSNs) what is stable must agree: keys, commands and settings, decrypted content, JSON field names and types.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/paths.js";
import { tempDir } from "../support/temp-dir.js";
import { type Manifest, VECTORS_DIR, fixture, inputOf, loadManifest, readSettings, walName } from "../support/walg-vectors.js";
import { liveName, runWalg, walgBinary } from "../support/walg.js";

const committed = loadManifest();

/** Field names and value types, keeping the values that do not depend on when or where wal-g ran. */
const STABLE_FIELDS = new Set(["status", "is_permanent", "timeline_id", "segments_count", "current_timeline_id",
  "highest_storage_timeline_id", "id", "parent_id", "storage_name", "date_fmt", "user_data", "segment_range_size", "switch_point_lsn"]);
function shape(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.map((item) => shape(item));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v, k)]));
  }
  return STABLE_FIELDS.has(key) ? value : value === null ? "null" : typeof value;
}
/** Text output with what changes from run to run masked: segment names, times, LSNs, the work directory. */
const masked = (text: string): string => text
  .replace(/[0-9A-F]{24}/g, "<segment>")
  .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
  .replace(/\b[0-9A-F]{1,8}\/[0-9A-F]{1,8}\b/g, "<lsn>")
  .replace(/\/tmp\/wal-native-vectors-[^/\s]+/g, "<work>");
const sections = (text: string): string[] => text.split(/(?=\[wal-verify\] \w+ check status)/).filter(Boolean).sort();

describe.skipIf(!walgBinary)(liveName("wal-g v3.0.9 writes the committed vectors again"), () => {
  let fresh: Manifest;
  let freshDir: string;
  let scratch: string;

  beforeAll(async () => {
    scratch = await tempDir("vectors-live");
    freshDir = join(scratch, "fresh");
    const result = await new Promise<{ code: number; output: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "vectors-walg.mjs"), "--out", freshDir, "--keys", join(VECTORS_DIR, "keys")], {
        env: { ...process.env, WALG_BIN: walgBinary }, stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (d: Buffer) => (output += d.toString()));
      child.stderr.on("data", (d: Buffer) => (output += d.toString()));
      child.once("error", reject);
      child.once("close", (code) => resolve({ code: code ?? 128, output }));
    });
    expect(result.code, result.output).toBe(0);
    fresh = loadManifest(freshDir);
  }, 300_000);

  it("is the wal-g version and build the vectors came from", () => {
    expect(fresh.walg).toEqual(committed.walg);
  });

  it("has the same vectors: ids, keys, object paths, commands and settings, also of the 16 MiB ones", () => {
    const strip = (vectors: Manifest["wal"]) => vectors.map(({ id, kind, method, encryption, input, key, object, deterministic, command, env }) =>
      ({ id, kind, method, encryption, input, key, object, deterministic, command, env }));
    expect(strip(fresh.wal)).toEqual(strip(committed.wal));
    expect(strip(fresh.defaultSize.vectors)).toEqual(strip(committed.defaultSize.vectors));
    // The recipe still gives wal-g the input the committed 16 MiB vectors came from.
    expect(fresh.defaultSize.input).toEqual(committed.defaultSize.input);
    expect({ ...fresh.defaultSize, vectors: [] }).toEqual({ ...committed.defaultSize, vectors: [] });
  });

  it("puts every kind of file at the same key for each prefix setting, with the same requests and PUT headers", () => {
    expect(fresh.layout).toEqual(committed.layout);
  });

  it("writes every input and every unencrypted object byte for byte as committed, the 16 MiB ones too", () => {
    const vectors = [...committed.wal, ...committed.defaultSize.vectors].filter((v) => v.deterministic);
    // A regenerated input is no file: its SHA-256 is compared with the vectors above.
    const deterministic = new Set(vectors.flatMap((v) => [v.input, v.object]).filter((p) => !p.startsWith("<generated>/")));
    for (const path of deterministic) {
      expect(fresh.files[path], path).toMatch(/^[0-9a-f]{64}$/);
      expect(fresh.files[path], path).toBe(committed.files[path]);
    }
    expect(deterministic.size).toBeGreaterThan(20);
    expect(committed.defaultSize.vectors.filter((v) => v.deterministic && deterministic.has(v.object))).toHaveLength(4);
  });

  it("has the same files, the bucket's and wal-g's outputs by pattern", () => {
    const names = (m: Manifest) => Object.keys(m.files).map((p) => p.replace(/[0-9A-F]{24}/g, "<segment>")).sort();
    expect(names(fresh)).toEqual(names(committed));
    expect(fixture("README.md", freshDir).toString().replace(/PostgreSQL [^(]+\([^)]*\)/, "PostgreSQL"))
      .toBe(fixture("README.md").toString().replace(/PostgreSQL [^(]+\([^)]*\)/, "PostgreSQL"));
  });

  it("still decrypts every committed encrypted object to its input (wal-g wal-fetch with the test keys), the 16 MiB one too", async () => {
    const segmentSize = { WALG_PG_WAL_SIZE: String(committed.walSegmentSizeMb) };
    const encrypted = [
      ...committed.wal.filter((v) => v.encryption !== undefined).map((v) => [v, segmentSize] as const),
      // wal-g's default 16 MiB segments: WALG_PG_WAL_SIZE unset, as they were pushed.
      ...committed.defaultSize.vectors.filter((v) => v.encryption !== undefined).map((v) => [v, {}] as const),
    ];
    expect(encrypted.length).toBeGreaterThanOrEqual(21);
    for (const [vector, size] of encrypted) {
      const store = await mkdtemp(join(scratch, "store-"));
      await mkdir(join(store, "wal_005"));
      await writeFile(join(store, vector.key), fixture(vector.object));
      const out = join(store, "out");
      const fetched = await runWalg(["wal-fetch", walName(vector), out], { WALG_FILE_PREFIX: store, ...size, ...readSettings(vector) });
      expect(fetched.code, `${vector.id}: ${fetched.stderr}`).toBe(0);
      expect((await readFile(out)).equals(inputOf(vector)), vector.id).toBe(true);
    }
  });

  it("records a bucket with the same backups: sentinel and metadata fields, wal-g's JSON by field names and types", () => {
    expect(fresh.bucket.backups).toEqual(committed.bucket.backups);
    const pattern = (key: string) => key.replace(/[0-9A-F]{24}/g, "<segment>");
    const outputs = (m: Manifest) => m.bucket.outputs.map((o) => ({ ...o, without: o.without && pattern(o.without) }));
    expect(outputs(fresh)).toEqual(outputs(committed));
    // Objects paired by their key's pattern and order: the full and the permanent backup share a pattern.
    const json = (m: Manifest) => m.bucket.objects.map((o) => o.key).filter((k) => k.endsWith(".json")).sort();
    expect(json(fresh).map(pattern)).toEqual(json(committed).map(pattern));
    for (const [index, key] of json(committed).entries()) {
      if (key.endsWith("files_metadata.json")) continue; // lists the data directory's files: PostgreSQL's, not wal-g's
      const parse = (dir: string, path: string) => JSON.parse(fixture(`bucket/${path}`, dir).toString()) as unknown;
      expect(shape(parse(freshDir, json(fresh)[index] ?? "")), key).toEqual(shape(parse(VECTORS_DIR, key)));
    }
    for (const { file } of committed.bucket.outputs) {
      const [ours, theirs] = [fixture(file, freshDir).toString(), fixture(file).toString()];
      if (file.endsWith(".json")) expect(shape(JSON.parse(ours)), file).toEqual(shape(JSON.parse(theirs)));
      else if (file.includes("wal-verify")) expect(sections(masked(ours)), file).toEqual(sections(masked(theirs)));
      else expect(masked(ours), file).toBe(masked(theirs));
    }
  });
});
