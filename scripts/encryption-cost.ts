// What encryption costs per 16 MiB WAL segment, side by side with the same work unencrypted, on real segments
// (the benchmark's pgbench data: npm run bench makes it once). npm run bench:encryption [-- --segments N --runs K]
// Every figure is CPU time (process.cpuUsage in process, perf stat's task-clock for processes), which a machine
// busy with other jobs inflates far less than wall time.
//  1. In one process, per segment: compress, encrypt the compressed object, decrypt it, decode it; libsodium
//     (sodium-native) and OpenPGP (openpgp), for lz4, brotli and none. Medians over segments and runs.
//  2. The commands as PostgreSQL runs them, interleaved: wal-archive of each segment to a FILE store and
//     wal-restore of it back, without a key, with a libsodium key and with an OpenPGP key (no upload-ahead, no
//     uploader, no prefetch, no local archive: each call does exactly one segment's work, start-up included).
//  3. Start-up: node -e 0 against loading sodium-native and openpgp.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import * as openpgp from "openpgp";
import { type CodecName, loadCodec } from "../src/compress/codec.js";
import { Output, decodeWhole } from "../src/compress/whole-decode.js";
import { loadCrypter } from "../src/crypto/crypter.js";
import { encryptionFrom } from "../src/crypto/keys.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => Number(args[args.indexOf(`--${name}`) + 1] ?? fallback) || fallback;
const SEGMENTS = option("segments", 16);
const RUNS = option("runs", 3);
const REPO = new URL("..", import.meta.url).pathname;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const ms = (value: number) => value.toFixed(1);
const signed = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(1)}`;

function segmentFiles(): string[] {
  const cache = process.env.WALNATIVE_BENCH_CACHE ?? join(homedir(), ".cache", "wal-native-bench");
  for (const set of ["segments-64", "segments-256", "segments-8"]) {
    const dir = join(cache, set, "segments");
    if (existsSync(dir)) return readdirSync(dir).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort().slice(0, SEGMENTS).map((name) => join(dir, name));
  }
  throw new Error(`no benchmark segments under ${cache}: run npm run bench -- --quick once to make them`);
}

/**
 * CPU time (user + system, every thread of this process) the work took: on a machine shared with other jobs,
 * the wall time mostly measures the wait for a core.
 */
async function time<T>(work: () => Promise<T> | T): Promise<[number, T]> {
  const started = process.cpuUsage();
  const result = await work();
  const used = process.cpuUsage(started);
  return [(used.user + used.system) / 1000, result];
}

async function inProcess(files: string[], pgpKeys: { secret: string; passphrase: string }): Promise<void> {
  const sodium = await loadCrypter(encryptionFrom({ WALG_LIBSODIUM_KEY: randomBytes(32).toString("hex"), WALG_LIBSODIUM_KEY_TRANSFORM: "hex" })!);
  const pgp = await loadCrypter(encryptionFrom({ WALG_PGP_KEY: pgpKeys.secret, WALG_PGP_KEY_PASSPHRASE: pgpKeys.passphrase })!);
  console.log(`\n1. In one process, ms of CPU per 16 MiB segment (median of ${files.length} segments x ${RUNS} runs)\n`);
  console.log("| codec | object MiB | compress | decode | libsodium encrypt | libsodium decrypt | OpenPGP encrypt | OpenPGP decrypt |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const name of ["lz4", "brotli", "none"] as CodecName[]) {
    const codec = await loadCodec(name);
    const t: Record<string, number[]> = { compress: [], decode: [], se: [], sd: [], pe: [], pd: [], size: [] };
    const output = new Output(Buffer.allocUnsafe(16 * 1024 * 1024), 16 * 1024 * 1024);
    for (let run = 0; run < RUNS; run++) {
      for (const file of files) {
        const raw = readFileSync(file);
        const [compress, packed] = await time(() => (codec.compressWhole ? codec.compressWhole(raw) : raw));
        output.length = 0;
        const [decode] = await time(() => decodeWhole(codec, packed, output));
        const [se, sealed] = await time(() => sodium.encrypt(packed));
        const [sd, opened] = await time(() => sodium.decrypt(sealed, "x"));
        const [pe, message] = await time(() => pgp.encrypt(packed));
        const [pd, read] = await time(() => pgp.decrypt(message, "x"));
        if (!opened.equals(packed) || !read.equals(packed)) throw new Error("round trip failed");
        Object.entries({ compress, decode, se, sd, pe, pd, size: packed.length / 1048576 }).forEach(([key, value]) => t[key]!.push(value));
      }
    }
    console.log(`| ${name} | ${median(t.size!).toFixed(2)} | ${ms(median(t.compress!))} | ${ms(median(t.decode!))} | ${ms(median(t.se!))} | ${ms(median(t.sd!))} | ${ms(median(t.pe!))} | ${ms(median(t.pd!))} |`);
  }
}

function commands(cached: string[], pgpKeys: { secret: string; passphrase: string }): void {
  const work = mkdtempSync(join(tmpdir(), "wal-native-encryption-cost-"));
  try {
    // Archived from a pg_wal of its own: a push keeps state beside the file (.wal-native), never in the cache.
    const walDir = join(work, "pg_wal");
    mkdirSync(walDir);
    const files = cached.map((file) => {
      const copy = join(walDir, file.slice(file.lastIndexOf("/") + 1));
      copyFileSync(file, copy);
      return copy;
    });
    const keyFile = join(work, "pgp.asc");
    writeFileSync(keyFile, pgpKeys.secret);
    const variants: Record<string, Record<string, string>> = {
      "no key": {},
      libsodium: { WALG_LIBSODIUM_KEY: randomBytes(32).toString("hex"), WALG_LIBSODIUM_KEY_TRANSFORM: "hex" },
      OpenPGP: { WALG_PGP_KEY_PATH: keyFile, WALG_PGP_KEY_PASSPHRASE: pgpKeys.passphrase },
    };
    const common = {
      PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work, WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "",
      WALNATIVE_UPLOADER: "off", WALG_UPLOAD_CONCURRENCY: "1", WALG_DOWNLOAD_CONCURRENCY: "1", WALG_COMPRESSION_METHOD: "lz4",
    };
    const calls: Record<string, { archive: number[]; restore: number[] }> = {};
    for (const variant of Object.keys(variants)) calls[variant] = { archive: [], restore: [] };
    for (let run = 0; run < RUNS; run++) {
      const stores = Object.fromEntries(Object.keys(variants).map((variant) => [variant, mkdirSync(join(work, `store-${run}-${variant.replace(" ", "-")}`), { recursive: true })!]));
      for (const file of files) {
        const name = file.slice(file.lastIndexOf("/") + 1);
        // Interleaved: load from other processes on the machine hits every variant alike.
        for (const [variant, settings] of Object.entries(variants)) {
          const env = { ...common, ...settings, WALG_FILE_PREFIX: stores[variant]! };
          const archived = spawnTimed(join(REPO, "bin", "wal-archive"), [file, name], env);
          const restored = spawnTimed(join(REPO, "bin", "wal-restore"), [name, join(work, "RESTORED")], env);
          calls[variant]!.archive.push(archived);
          calls[variant]!.restore.push(restored);
          if (!readFileSync(join(work, "RESTORED")).equals(readFileSync(file))) throw new Error(`${variant}: ${name} restored differently`);
          rmSync(join(work, "RESTORED"));
        }
      }
    }
    console.log(`\n2. The commands, ms of CPU per call, start to exit (median of ${files.length} segments x ${RUNS} runs, lz4, FILE store)\n`);
    console.log("| key | wal-archive | wal-restore | archive vs no key | restore vs no key |");
    console.log("|---|---:|---:|---:|---:|");
    const base = calls["no key"]!;
    for (const [variant, { archive, restore }] of Object.entries(calls)) {
      console.log(`| ${variant} | ${ms(median(archive))} | ${ms(median(restore))} | ${variant === "no key" ? "" : signed(median(archive) - median(base.archive))} | ${variant === "no key" ? "" : signed(median(restore) - median(base.restore))} |`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The child's CPU time (task-clock: all its threads and children) from perf stat. */
function spawnTimed(command: string, argv: string[], env: Record<string, string> = {}, cwd?: string): number {
  const result = spawnSync("perf", ["stat", "-x,", "-e", "task-clock", command, ...argv], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, cwd });
  if (result.status !== 0) throw new Error(`${command} ${argv.join(" ")} exited ${result.status}: ${result.stderr.toString()}`);
  const clock = /^([\d.]+),msec,task-clock/m.exec(result.stderr.toString())?.[1];
  if (clock === undefined) throw new Error(`perf stat gave no task-clock: ${result.stderr.toString()}`);
  return Number(clock);
}

function startUp(): void {
  const cases: Record<string, string> = {
    "node -e 0": "0",
    "require('sodium-native')": "require('sodium-native')",
    "require('openpgp')": "require('openpgp')",
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((label) => [label, []]));
  for (let i = 0; i < 20 * RUNS; i++) {
    for (const [label, code] of Object.entries(cases)) {
      times[label]!.push(spawnTimed(process.execPath, ["-e", code], {}, REPO));
    }
  }
  console.log(`\n3. Start-up, ms of CPU from spawn to exit (median of ${20 * RUNS}, interleaved)\n`);
  console.log("| process | ms | more than node -e 0 |");
  console.log("|---|---:|---:|");
  const bare = median(times["node -e 0"]!);
  for (const [label, values] of Object.entries(times)) console.log(`| ${label} | ${ms(median(values))} | ${label === "node -e 0" ? "" : signed(median(values) - bare)} |`);
}

const files = segmentFiles();
const passphrase = "encryption-cost";
const { privateKey } = await openpgp.generateKey({ type: "curve25519", userIDs: [{ name: "encryption cost" }], passphrase, format: "armored" });
const pgpKeys = { secret: privateKey, passphrase };
console.log(`encryption cost on ${files.length} real 16 MiB segments (${files[0]} ...), ${RUNS} runs; load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
await inProcess(files, pgpKeys);
commands(files, pgpKeys);
startUp();
