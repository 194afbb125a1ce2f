#!/usr/bin/env node
// Records golden vectors from a real wal-g into test/fixtures/walg-v3.0.9/ (or --out DIR): what wal-g stores
// for every compression method and kind of WAL file, encrypted variants (libsodium, OpenPGP), and a bucket of
// base backups taken from a real PostgreSQL 15 with wal-g's own listings of it. Offline tests read these, so
// wal-g compatibility is proven on machines where wal-g cannot be installed; the live suite runs this script
// again into a temporary directory and compares, so the fixtures cannot rot.
//
//   WALG_BIN=/path/to/wal-g npm run vectors:walg [-- --out DIR] [--keys DIR]
//
// It runs a wal-g it is given (WALG_BIN, else PATH, else $HOME/go/bin); it never builds one. Run as root:
// PostgreSQL runs as the postgres user. gpg is needed only when no test key pair exists yet (--keys, or
// keys/ in the output directory or in the committed fixtures).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants } from "node:fs";
import {
  chmod, chown, copyFile, cp, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, utimes, writeFile,
} from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DEFAULT_OUT = join(REPO_ROOT, "test", "fixtures", "walg-v3.0.9");
const PG_BIN = "/usr/lib/postgresql/15/bin";
const BUILD_TAGS = ["brotli", "libsodium"];
const METHODS = [
  { method: "lz4", extension: "lz4" },
  { method: "brotli", extension: "br" },
  { method: "zstd", extension: "zst" },
  { method: "lzma", extension: "lzma" },
  { method: "none", extension: "" },
];
/** 1 MiB segments keep the inputs small; wal-g is told so, as PostgreSQL users with such segments do. */
const WAL_SEG_MB = 1;
const MiB = 1024 * 1024;

// Test keys: made for these vectors and published with them. They protect nothing.
const LIBSODIUM = {
  none: "wal-native-test-key-not-secret!!", // exactly 32 bytes: used as is
  noneShort: "wal-native-test-key-short", // 25 bytes, the minimum: zero-padded to 32
  noneLong: "wal-native-test-key-longer-than-32-bytes-is-cut", // truncated to its first 32 bytes
  hex: "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210",
  base64: Buffer.from("wal-native base64 test key 32 b!").toString("base64"),
};
const PGP_PASSPHRASE = "wal-native test passphrase (not a secret)";
const KEY_FILES = {
  pgpSecret: "keys/pgp-test-secret.asc",
  pgpPublic: "keys/pgp-test-public.asc",
  pgpProtectedSecret: "keys/pgp-test-protected-secret.asc",
  pgpProtectedPublic: "keys/pgp-test-protected-public.asc",
  libsodium: "keys/libsodium-test.key",
};

// --- deterministic inputs -------------------------------------------------------------------------------

/** xorshift32, so that every run writes the same inputs. */
function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

/**
 * A 1 MiB segment whose long page header agrees with its name (PostgreSQL 15 magic), then 8 KiB pages of
 * record-like text with changing numbers, then zeros, as a partly used segment looks.
 */
function segment(name, usedPages) {
  const timeline = Number.parseInt(name.slice(0, 8), 16);
  const segno = BigInt(Number.parseInt(name.slice(8, 16), 16)) * 4096n + BigInt(Number.parseInt(name.slice(16, 24), 16));
  const bytes = Buffer.alloc(WAL_SEG_MB * MiB);
  bytes.writeUInt16LE(0xd110, 0); // XLOG_PAGE_MAGIC of PostgreSQL 15
  bytes.writeUInt16LE(0x0002, 2); // XLP_LONG_HEADER
  bytes.writeUInt32LE(timeline, 4);
  bytes.writeBigUInt64LE(segno * BigInt(WAL_SEG_MB * MiB), 8);
  bytes.writeBigUInt64LE(7_400_000_000_000_000_001n, 24); // system identifier
  bytes.writeUInt32LE(WAL_SEG_MB * MiB, 32);
  bytes.writeUInt32LE(8192, 36);
  const next = random(Number(segno) + 17);
  let offset = 40;
  for (let page = 0; page < usedPages; page++) {
    const end = (page + 1) * 8192;
    if (page > 0) {
      bytes.writeUInt16LE(0xd110, page * 8192);
      bytes.writeUInt32LE(timeline, page * 8192 + 4);
      bytes.writeBigUInt64LE(segno * BigInt(WAL_SEG_MB * MiB) + BigInt(page * 8192), page * 8192 + 8);
      offset = page * 8192 + 24;
    }
    while (offset < end - 80) {
      const line = `insert into t values (${next() % 100000}, 'row ${next().toString(16)}', ${next() % 997});`;
      offset += bytes.write(line.padEnd(64 + (next() % 16), " "), offset);
    }
  }
  return bytes;
}

function inputs() {
  return [
    { kind: "segment", name: "000000010000000000000003", bytes: segment("000000010000000000000003", 16) },
    { kind: "history", name: "00000002.history", bytes: Buffer.from("1\t0/4000000\tno recovery target specified\n") },
    { kind: "partial", name: "000000010000000000000004.partial", bytes: segment("000000010000000000000004", 6) },
    {
      kind: "backup", name: "000000010000000000000002.00000028.backup",
      bytes: Buffer.from([
        "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)",
        "STOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)",
        "CHECKPOINT LOCATION: 0/2000060",
        "BACKUP METHOD: streamed",
        "BACKUP FROM: primary",
        "START TIME: 2026-01-01 00:00:00 UTC",
        "LABEL: wal-native vectors",
        "START TIMELINE: 1",
        "STOP TIME: 2026-01-01 00:00:01 UTC",
        "STOP TIMELINE: 1",
        "",
      ].join("\n")),
    },
  ];
}

// --- processes -------------------------------------------------------------------------------------------

function run(cmd, args, { env, cwd, input, asPostgres = false } = {}) {
  const full = asPostgres
    ? ["runuser", ["-u", "postgres", "--", "env", "-i", ...Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`), cmd, ...args]]
    : [cmd, args];
  return new Promise((resolveRun, reject) => {
    const child = spawn(full[0], full[1], {
      cwd, env: asPostgres ? { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } : env, stdio: ["pipe", "pipe", "pipe"],
    });
    const out = [];
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
    child.once("error", reject);
    child.once("close", (code) => resolveRun({ code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

async function check(what, promise) {
  const result = await promise;
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}\n${result.stderr}${result.stdout}`);
  return result;
}

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `name` in PATH's directories, then in `extraDirs`, that can be run. */
function findOnPath(name, extraDirs = []) {
  return [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...extraDirs].map((dir) => join(dir, name)).find(executable);
}

/** WALG_BIN, else wal-g on PATH, else in $HOME/go/bin (as test/support/walg.ts looks for it). */
export function findWalg(env = process.env) {
  if (env.WALG_BIN) {
    if (!executable(env.WALG_BIN)) throw new Error(`WALG_BIN=${env.WALG_BIN} is not an executable file`);
    return env.WALG_BIN;
  }
  return findOnPath("wal-g", [join(homedir(), "go", "bin")]);
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

// --- recording -------------------------------------------------------------------------------------------

class Recorder {
  constructor(walg, out, work, keysDir) {
    this.walg = walg; // a copy inside work/, reachable by the postgres user
    this.out = out;
    this.work = work;
    this.keysDir = keysDir;
    this.home = join(work, "home");
    this.vectors = [];
    this.stores = 0;
  }

  /** wal-g with exactly these settings (plus PATH, HOME, TZ and no prefetch or upload-ahead children). */
  walgEnv(env) {
    return { PATH: "/usr/bin:/bin", HOME: this.home, TZ: "UTC", WALG_DOWNLOAD_CONCURRENCY: "1", WALG_UPLOAD_CONCURRENCY: "1", ...env };
  }

  async newStore() {
    const dir = join(this.work, `store-${++this.stores}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Pushes each input with wal-g, copies what it stored into objects/<variant>/, and checks wal-fetch gives it back. */
  async pushVariant(variant, files, env, encryption) {
    const store = await this.newStore();
    const source = join(this.work, "inputs");
    for (const file of files) {
      const settings = { WALG_FILE_PREFIX: store, WALG_PG_WAL_SIZE: String(WAL_SEG_MB), ...env };
      await check(`wal-g wal-push ${file.name} (${variant})`, run(this.walg, ["wal-push", file.name], { env: this.walgEnv(settings), cwd: source }));
      const stored = (await readdir(join(store, "wal_005"))).filter((name) => name === file.name || name.startsWith(`${file.name}.`));
      if (stored.length !== 1) throw new Error(`${variant}: expected one object for ${file.name}, found ${stored.join(", ")}`);
      const key = `wal_005/${stored[0]}`;
      const bytes = await readFile(join(store, key));
      // An object equal to its input (method none, no encryption) is not stored twice.
      const object = bytes.equals(file.bytes) ? `inputs/${file.name}` : `objects/${variant}/${key}`;
      if (object !== `inputs/${file.name}`) await writeOut(this.out, object, bytes);
      const fetched = join(this.work, "fetched");
      await check(`wal-g wal-fetch ${file.name} (${variant})`, run(this.walg, ["wal-fetch", file.name, fetched], { env: this.walgEnv(settings) }));
      if (!(await readFile(fetched)).equals(file.bytes)) throw new Error(`${variant}: wal-g wal-fetch ${file.name} did not give the input back`);
      await rm(fetched);
      this.vectors.push({
        id: `${variant}/${file.kind}`,
        kind: file.kind,
        method: env.WALG_COMPRESSION_METHOD,
        encryption,
        input: `inputs/${file.name}`,
        key,
        object,
        deterministic: encryption === undefined,
        command: ["wal-g", "wal-push", file.name],
        env: redact({ ...settings, WALG_FILE_PREFIX: "<store>" }, this.keysDir),
      });
    }
  }
}

/** Key material in env is written as a reference to the committed test key file, never inline. */
function redact(env, keysDir) {
  const out = { ...env };
  if (out.WALG_PGP_KEY !== undefined) out.WALG_PGP_KEY = `<contents of ${out.WALG_PGP_KEY_SOURCE}>`;
  delete out.WALG_PGP_KEY_SOURCE;
  for (const name of ["WALG_PGP_KEY_PATH", "WALG_LIBSODIUM_KEY_PATH"]) {
    if (out[name] !== undefined) out[name] = `<fixtures>/${relative(dirname(keysDir), out[name])}`;
  }
  return out;
}

async function writeOut(out, path, bytes) {
  await mkdir(dirname(join(out, path)), { recursive: true });
  await writeFile(join(out, path), bytes);
}

/** The test key pairs: reused when they exist (so reruns are comparable), made with gpg otherwise. */
async function ensureKeys(keysDir, work) {
  const have = await Promise.all(Object.values(KEY_FILES).map((file) => stat(join(dirname(keysDir), file)).then(() => true, () => false)));
  if (have.every(Boolean)) return;
  const gpg = findOnPath("gpg");
  if (gpg === undefined) throw new Error("no test keys in " + keysDir + " and gpg is not installed (apt-get install gnupg)");
  await mkdir(keysDir, { recursive: true });
  for (const [label, passphrase, secretFile, publicFile] of [
    ["wal-native test key", undefined, KEY_FILES.pgpSecret, KEY_FILES.pgpPublic],
    ["wal-native test key with passphrase", PGP_PASSPHRASE, KEY_FILES.pgpProtectedSecret, KEY_FILES.pgpProtectedPublic],
  ]) {
    const gnupgHome = await mkdtemp(join(work, "gnupg-"));
    await chmod(gnupgHome, 0o700);
    const params = [
      "Key-Type: RSA", passphrase === undefined ? "%no-protection" : `Passphrase: ${passphrase}`, "Key-Length: 2048", "Subkey-Type: RSA", "Subkey-Length: 2048",
      `Name-Real: ${label}`, "Name-Comment: test key for wal-native's vectors, not a secret", "Name-Email: test@wal-native.invalid",
      "Expire-Date: 0", "%commit", "",
    ].join("\n");
    const base = ["--homedir", gnupgHome, "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase ?? ""];
    await check("gpg --gen-key", run(gpg, [...base, "--gen-key"], { input: params, env: process.env }));
    const secret = await check("gpg --export-secret-keys", run(gpg, [...base, "--armor", "--export-secret-keys"], { env: process.env }));
    const pub = await check("gpg --export", run(gpg, [...base, "--armor", "--export"], { env: process.env }));
    await writeFile(join(dirname(keysDir), secretFile), secret.stdout);
    await writeFile(join(dirname(keysDir), publicFile), pub.stdout);
  }
  await writeFile(join(dirname(keysDir), KEY_FILES.libsodium), `${LIBSODIUM.hex}\n`);
}

async function recordWal(rec) {
  const files = inputs();
  await mkdir(join(rec.work, "inputs"), { recursive: true });
  for (const file of files) {
    await writeFile(join(rec.work, "inputs", file.name), file.bytes);
    await writeOut(rec.out, `inputs/${file.name}`, file.bytes);
  }
  const segmentOnly = files.filter((f) => f.kind === "segment");
  const segmentAndHistory = files.filter((f) => f.kind === "segment" || f.kind === "history");
  for (const { method } of METHODS) {
    await rec.pushVariant(method, files, { WALG_COMPRESSION_METHOD: method });
  }
  const keys = rec.keysDir;
  const sodium = (key, transform) => ({ WALG_LIBSODIUM_KEY: key, WALG_LIBSODIUM_KEY_TRANSFORM: transform });
  const sodiumInfo = (transform, key, extra = {}) => ({ type: "libsodium", transform, key, ...extra });
  for (const { method } of METHODS) {
    // Every kind with lz4; the segment with the other methods, but with none only the small kinds (1 MiB saved).
    const kinds = method === "lz4" ? files : method === "none" ? files.filter((f) => f.kind === "history" || f.kind === "backup") : segmentOnly;
    await rec.pushVariant(`libsodium-none-${method}`, kinds,
      { WALG_COMPRESSION_METHOD: method, ...sodium(LIBSODIUM.none, "none") }, sodiumInfo("none", LIBSODIUM.none));
  }
  await rec.pushVariant("libsodium-none-short-lz4", segmentOnly, { WALG_COMPRESSION_METHOD: "lz4", ...sodium(LIBSODIUM.noneShort, "none") },
    sodiumInfo("none", LIBSODIUM.noneShort, { note: "25 bytes, zero-padded to 32" }));
  await rec.pushVariant("libsodium-none-long-lz4", segmentOnly, { WALG_COMPRESSION_METHOD: "lz4", ...sodium(LIBSODIUM.noneLong, "none") },
    sodiumInfo("none", LIBSODIUM.noneLong, { note: "longer than 32 bytes: wal-g uses the first 32" }));
  await rec.pushVariant("libsodium-hex-lz4", segmentAndHistory, { WALG_COMPRESSION_METHOD: "lz4", ...sodium(LIBSODIUM.hex, "hex") },
    sodiumInfo("hex", LIBSODIUM.hex));
  await rec.pushVariant("libsodium-base64-lz4", segmentAndHistory, { WALG_COMPRESSION_METHOD: "lz4", ...sodium(LIBSODIUM.base64, "base64") },
    sodiumInfo("base64", LIBSODIUM.base64));
  await rec.pushVariant("libsodium-keypath-hex-zstd", segmentOnly,
    { WALG_COMPRESSION_METHOD: "zstd", WALG_LIBSODIUM_KEY_PATH: join(keys, "libsodium-test.key"), WALG_LIBSODIUM_KEY_TRANSFORM: "hex" },
    { type: "libsodium", transform: "hex", keyPath: KEY_FILES.libsodium, note: "the file holds the hex key and a newline (wal-g trims it)" });

  const pgpSecret = await readFile(join(dirname(keys), KEY_FILES.pgpSecret), "utf8");
  const pgpPublic = await readFile(join(dirname(keys), KEY_FILES.pgpPublic), "utf8");
  await rec.pushVariant("pgp-key-lz4", files, { WALG_COMPRESSION_METHOD: "lz4", WALG_PGP_KEY: pgpSecret, WALG_PGP_KEY_SOURCE: KEY_FILES.pgpSecret },
    { type: "pgp", key: KEY_FILES.pgpSecret });
  await rec.pushVariant("pgp-key-none", segmentAndHistory.filter((f) => f.kind === "history"),
    { WALG_COMPRESSION_METHOD: "none", WALG_PGP_KEY: pgpSecret, WALG_PGP_KEY_SOURCE: KEY_FILES.pgpSecret },
    { type: "pgp", key: KEY_FILES.pgpSecret });
  await rec.pushVariant("pgp-keypath-brotli", segmentOnly,
    { WALG_COMPRESSION_METHOD: "brotli", WALG_PGP_KEY_PATH: join(dirname(keys), KEY_FILES.pgpSecret) },
    { type: "pgp", keyPath: KEY_FILES.pgpSecret });
  await rec.pushVariant("pgp-passphrase-lz4", segmentAndHistory,
    { WALG_COMPRESSION_METHOD: "lz4", WALG_PGP_KEY_PATH: join(dirname(keys), KEY_FILES.pgpProtectedSecret), WALG_PGP_KEY_PASSPHRASE: PGP_PASSPHRASE },
    { type: "pgp", keyPath: KEY_FILES.pgpProtectedSecret, passphrase: PGP_PASSPHRASE });
  // Pushed with only the public key, as an archive host that must not read its archive would be set up.
  await pushWithPublicKey(rec, segmentOnly, pgpPublic, pgpSecret);
}

/** wal-push with WALG_PGP_KEY = public key; the check that it decrypts uses the secret key. */
async function pushWithPublicKey(rec, files, pgpPublic, pgpSecret) {
  const store = await rec.newStore();
  for (const file of files) {
    const settings = { WALG_FILE_PREFIX: store, WALG_PG_WAL_SIZE: String(WAL_SEG_MB), WALG_COMPRESSION_METHOD: "lz4" };
    await check("wal-g wal-push (public key)", run(rec.walg, ["wal-push", file.name], {
      env: rec.walgEnv({ ...settings, WALG_PGP_KEY: pgpPublic }), cwd: join(rec.work, "inputs"),
    }));
    const key = `wal_005/${file.name}.lz4`;
    const bytes = await readFile(join(store, key));
    const object = `objects/pgp-public-key-lz4/${key}`;
    await writeOut(rec.out, object, bytes);
    const fetched = join(rec.work, "fetched");
    await check("wal-g wal-fetch (secret key)", run(rec.walg, ["wal-fetch", file.name, fetched], { env: rec.walgEnv({ ...settings, WALG_PGP_KEY: pgpSecret }) }));
    if (!(await readFile(fetched)).equals(file.bytes)) throw new Error("pgp-public-key-lz4: wal-fetch did not give the input back");
    await rm(fetched);
    rec.vectors.push({
      id: `pgp-public-key-lz4/${file.kind}`, kind: file.kind, method: "lz4",
      encryption: { type: "pgp", key: KEY_FILES.pgpSecret, note: `pushed with ${KEY_FILES.pgpPublic} only; read with the secret key` },
      input: `inputs/${file.name}`, key, object, deterministic: false,
      command: ["wal-g", "wal-push", file.name],
      env: { ...settings, WALG_FILE_PREFIX: "<store>", WALG_PGP_KEY: `<contents of ${KEY_FILES.pgpPublic}>` },
    });
  }
}

// --- key layout for each prefix setting ------------------------------------------------------------------

/**
 * Where wal-g puts each kind of file for each prefix setting (walg-compat.md 1.1, 13.5). FILE stores are
 * listed; for S3 a local HTTP endpoint answers wal-g's requests and records the path each PUT names, which
 * is the key (path-style: /<bucket>/<key>), and the headers it sends.
 */
async function recordLayout(rec) {
  const files = inputs();
  const requests = [];
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const headers = Object.keys(req.headers).filter((h) => !/^(authorization|x-amz-date|x-amz-content-sha256|content-length|user-agent|host|amz-sdk-.*|accept-encoding|expect)$/.test(h)).sort();
      requests.push({ method: req.method, path: req.url, headers: Object.fromEntries(headers.map((h) => [h, req.headers[h]])) });
      // An empty bucket: wal-g looks for an existing .history before it pushes one (walg-compat.md 4.2).
      if (req.method === "PUT") res.writeHead(200, { ETag: '"00000000000000000000000000000000"' }).end();
      else if (req.method === "HEAD") res.writeHead(404).end();
      else res.writeHead(404, { "Content-Type": "application/xml" }).end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>');
    });
  });
  await new Promise((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  const layout = [];
  try {
    const s3Cases = [
      ["s3://walg-layout", {}], ["s3://walg-layout/", {}], ["s3://walg-layout/a/b/", {}], ["s3://walg-layout/a//c", {}],
      ["s3://walg-layout/a/", { WALG_STORAGE_PREFIX: "x/" }],
    ];
    for (const [prefix, extra] of s3Cases) {
      requests.length = 0;
      const env = {
        AWS_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_REGION: "us-east-1",
        AWS_S3_FORCE_PATH_STYLE: "true", WALG_S3_MAX_RETRIES: "0", WALG_S3_PREFIX: prefix, WALG_PG_WAL_SIZE: String(WAL_SEG_MB),
        WALG_COMPRESSION_METHOD: "lz4", ...extra,
      };
      for (const file of files) {
        await check(`wal-g wal-push ${file.name} (${prefix})`, run(rec.walg, ["wal-push", file.name], { env: rec.walgEnv(env), cwd: join(rec.work, "inputs") }));
      }
      const puts = requests.filter((r) => r.method === "PUT");
      if (puts.length !== files.length) {
        throw new Error(`${prefix}: expected ${files.length} PUTs, got ${requests.map((r) => `${r.method} ${r.path}`).join(", ")}`);
      }
      layout.push({
        storage: "s3", prefix, settings: extra, command: ["wal-g", "wal-push", "<file>"],
        env: { ...env, AWS_ENDPOINT: "<local endpoint recording the requests>", AWS_ACCESS_KEY_ID: "<any>", AWS_SECRET_ACCESS_KEY: "<any>" },
        keys: puts.map((r) => decodeURIComponent(r.path.slice("/walg-layout/".length))).sort(),
        // Sorted: wal-g looks for an existing .history under each extension in map order, which Go randomises.
        requests: requests.map(({ method, path }) => `${method} ${path}`).sort(),
        putHeaders: puts[0].headers,
      });
    }
  } finally {
    server.close();
  }
  for (const [prefix, extra] of [["<dir>", {}], ["file://localhost<dir>", {}], ["<dir>", { WALG_STORAGE_PREFIX: "x/" }]]) {
    const dir = await rec.newStore();
    const env = { WALG_FILE_PREFIX: prefix.replace("<dir>", dir), WALG_PG_WAL_SIZE: String(WAL_SEG_MB), WALG_COMPRESSION_METHOD: "lz4", ...extra };
    for (const file of files) {
      await check(`wal-g wal-push ${file.name} (${prefix})`, run(rec.walg, ["wal-push", file.name], { env: rec.walgEnv(env), cwd: join(rec.work, "inputs") }));
    }
    const keys = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name))).sort();
    layout.push({ storage: "file", prefix, settings: extra, command: ["wal-g", "wal-push", "<file>"], env: { ...env, WALG_FILE_PREFIX: prefix }, keys });
  }
  return layout;
}

// --- the bucket of base backups --------------------------------------------------------------------------

async function asPostgres(rec, cmd, args, env = {}) {
  return run(cmd, args, { env: { PATH: `${PG_BIN}:/usr/bin:/bin`, HOME: rec.home, LANG: "C.UTF-8", TZ: "UTC", ...env }, asPostgres: true });
}

async function recordBucket(rec) {
  const root = join(rec.work, "pg");
  const store = join(rec.work, "bucket");
  const data = join(root, "data");
  await mkdir(root, { recursive: true });
  await mkdir(store, { recursive: true });
  const id = await check("id postgres", run("id", ["-u", "postgres"], { env: process.env }));
  const gid = await check("id postgres", run("id", ["-g", "postgres"], { env: process.env }));
  for (const dir of [root, store, rec.home]) await chown(dir, Number(id.stdout), Number(gid.stdout));
  const port = await freePort();
  const walgSettings = { WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: "brotli", WALG_UPLOAD_CONCURRENCY: "1", WALG_DOWNLOAD_CONCURRENCY: "1" };
  const pgEnv = { PGHOST: root, PGPORT: String(port), PGUSER: "postgres", PGDATABASE: "postgres", PGDATA: data };
  const env = { ...walgSettings, ...pgEnv };
  const sql = async (text) => (await check("psql", asPostgres(rec, join(PG_BIN, "psql"), ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", text], env))).stdout.trim();

  await check("initdb", asPostgres(rec, join(PG_BIN, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "--locale=C", "-E", "UTF8", "--no-sync"]));
  const configure = async (archiveMode) => {
    await writeFile(join(data, "postgresql.auto.conf"), [
      `port = ${port}`, "listen_addresses = ''", `unix_socket_directories = '${root}'`, "fsync = off", "autovacuum = off",
      "checkpoint_timeout = '1d'", `archive_mode = ${archiveMode}`, `archive_command = '${rec.walg} wal-push %p'`, "wal_level = replica", "",
    ].join("\n"));
    await chown(join(data, "postgresql.auto.conf"), Number(id.stdout), Number(gid.stdout));
  };
  const pgCtl = (action) => check(`pg_ctl ${action}`, asPostgres(rec, join(PG_BIN, "pg_ctl"), ["-D", data, "-l", join(root, "postgres.log"), "-m", "fast", "-w", action], env));
  // Archiving starts on a cluster that already ran, so initdb's first segment (about 1 MiB even compressed)
  // is recycled, never archived: the bucket stays small, and wal-show starts at a later segment.
  await configure("off");
  await pgCtl("start");
  await sql("create table t (id int, note text); select pg_switch_wal(); checkpoint; select pg_switch_wal(); checkpoint;");
  await pgCtl("stop");
  await configure("on");
  await pgCtl("start");
  const backups = [];
  try {
    const switchAndWait = async () => {
      const segment = await sql("select pg_walfile_name(pg_switch_wal())");
      for (let i = 0; ; i++) {
        if ((await sql("select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= segment) return segment;
        if (i > 600) throw new Error(`${segment} was not archived in 60 s`);
        await sleep(100);
      }
    };
    await sql("insert into t select g, 'first' from generate_series(1, 1000) g");
    await switchAndWait();
    const push = async (kind, args, extra = {}) => {
      await sleep(1100); // sentinel times at least a second apart, so that listing order never ties
      const result = await check(`wal-g backup-push (${kind})`, asPostgres(rec, rec.walg, ["backup-push", ...args, data], { ...env, ...extra }));
      backups.push({ kind, command: ["wal-g", "backup-push", ...args, "<PGDATA>"], env: { ...extra }, log: result.stderr.split("\n").filter((l) => /backup|Wrote/i.test(l)).length });
      await sql("insert into t select g, 'more' from generate_series(1, 1000) g");
      await switchAndWait();
    };
    await push("full", []);
    await push("delta", [], { WALG_DELTA_MAX_STEPS: "3" });
    await push("permanent full", ["--full", "--permanent", "--add-user-data", '{"purpose":"wal-native test vectors"}']);

    // Whole-second mtimes: what any store can give back exactly (wal-g prints a FILE store's mtime to the ns).
    for (const entry of await readdir(store, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath ?? entry.path, entry.name);
      const seconds = Math.floor((await stat(path)).mtimeMs / 1000);
      await utimes(path, seconds, seconds);
    }

    const outputs = [];
    const listings = [
      ["backup-list.txt", ["backup-list"]],
      ["backup-list-detail.txt", ["backup-list", "--detail"]],
      ["backup-list.json", ["backup-list", "--json"]],
      ["backup-list-detail.json", ["backup-list", "--detail", "--json"]],
      ["wal-verify.txt", ["wal-verify", "integrity", "timeline"]],
      ["wal-verify.json", ["wal-verify", "integrity", "timeline", "--json"]],
      ["wal-show.txt", ["wal-show"]],
      ["wal-show-detailed.json", ["wal-show", "--detailed-json"]],
    ];
    // WAL in the current segment before wal-g lists: wal-verify checks up to the segment before the one holding
    // pg_current_wal_lsn() - 1, so at a segment's first byte its answer would hang on whether the bgwriter's
    // running-xacts record came before the listing.
    await sql("select pg_logical_emit_message(false, 'wal-native', 'listing the bucket')");
    let position;
    for (let attempt = 0; ; attempt++) {
      const before = await sql("select timeline_id || ' ' || pg_current_wal_lsn() from pg_control_checkpoint()");
      outputs.length = 0;
      for (const [file, args] of listings) {
        const result = await check(`wal-g ${args.join(" ")}`, asPostgres(rec, rec.walg, args, env));
        outputs.push({ file: `walg-output/${file}`, command: ["wal-g", ...args], stdout: result.stdout });
      }
      const after = await sql("select timeline_id || ' ' || pg_current_wal_lsn() from pg_control_checkpoint()");
      if (before === after) {
        position = after;
        break;
      }
      if (attempt === 3) throw new Error(`the cluster kept writing WAL while wal-g listed the bucket (${before} -> ${after})`);
    }
    // The bucket as wal-g listed it: at shutdown PostgreSQL switches WAL (ShutdownXLOG) and archives the segment the
    // listings saw as current, which they do not show.
    const listed = (await readdir(store, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())
      .map((e) => relative(store, join(e.parentPath ?? e.path, e.name)));
    // A segment the full backup needs, deleted: what wal-verify reports then (walg-compat.md 7).
    const sentinels = (await readdir(join(store, "basebackups_005"))).filter((n) => n.endsWith("_backup_stop_sentinel.json")).sort();
    const firstStart = /base_([0-9A-F]{24})/.exec(sentinels[0] ?? "")?.[1];
    const victim = (await readdir(join(store, "wal_005"))).find((n) => new RegExp(`^${firstStart}\\.(lz4|br|zst|lzma)$`).test(n));
    if (victim === undefined) throw new Error(`no WAL object for ${firstStart}`);
    await rename(join(store, "wal_005", victim), join(rec.work, victim));
    for (const [file, args] of [["wal-verify-lost.txt", ["wal-verify", "integrity", "timeline"]], ["wal-verify-lost.json", ["wal-verify", "integrity", "timeline", "--json"]]]) {
      const result = await check(`wal-g ${args.join(" ")} (lost)`, asPostgres(rec, rec.walg, args, env));
      outputs.push({ file: `walg-output/${file}`, command: ["wal-g", ...args], stdout: result.stdout, without: `wal_005/${victim}` });
    }
    await rename(join(rec.work, victim), join(store, "wal_005", victim));
    const [timeline, lsn] = position.split(" ");
    const systemIdentifier = await sql("select system_identifier from pg_control_system()");
    const pgVersion = await sql("show server_version_num");
    const pgRelease = await sql("show server_version");
    return { store, listed, outputs, backups, cluster: { timeline: Number(timeline), lsn, systemIdentifier, pgVersion: Number(pgVersion), pgRelease, walSegmentSizeMb: 16 }, walgSettings };
  } finally {
    await pgCtl("stop");
  }
}

/** Copies the bucket without its data tars, with each WAL object's plain content checked by wal-fetch. */
async function writeBucket(rec, bucket) {
  const objects = [];
  for (const entry of (await readdir(bucket.store, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())) {
    const path = join(entry.parentPath ?? entry.path, entry.name);
    const key = relative(bucket.store, path);
    if (!bucket.listed.includes(key)) continue; // archived after wal-g listed the bucket
    if (key.startsWith("basebackups_005/") && key.split("/").length > 2 && !key.endsWith(".json")) continue; // data tars
    const bytes = await readFile(path);
    const info = { key, mtime: Math.round((await stat(path)).mtimeMs / 1000) };
    if (key.startsWith("wal_005/")) {
      const name = key.slice("wal_005/".length).replace(/\.(lz4|br|zst|lzma)$/, "");
      const fetched = join(rec.work, "fetched");
      await check(`wal-g wal-fetch ${name}`, run(rec.walg, ["wal-fetch", name, fetched], { env: rec.walgEnv({ ...bucket.walgSettings }) }));
      info.plainSha256 = sha256(await readFile(fetched));
      info.plainSize = (await stat(fetched)).size;
      await rm(fetched);
    }
    await writeOut(rec.out, `bucket/${key}`, bytes);
    objects.push(info);
  }
  objects.sort((a, b) => a.key.localeCompare(b.key));
  for (const output of bucket.outputs) await writeOut(rec.out, output.file, Buffer.from(output.stdout));
  return {
    store: "bucket/",
    note: "objects as wal-g wrote them to a FILE store (WAL pushed by wal-g as archive_command, backups by wal-g backup-push "
      + "from PostgreSQL 15), without the backups' data tars; mtimes were cut to whole seconds before wal-g listed them",
    cluster: bucket.cluster,
    env: { ...bucket.walgSettings, WALG_FILE_PREFIX: "<store>", PGHOST: "<socket dir>", PGPORT: "<port>", PGUSER: "postgres", PGDATABASE: "postgres", PGDATA: "<PGDATA>", TZ: "UTC" },
    archiveCommand: "wal-g wal-push %p",
    backups: bucket.backups.map(({ kind, command, env }) => ({ kind, command, env })),
    objects,
    outputs: bucket.outputs.map(({ file, command, without }) => ({ file, command, ...(without ? { without } : {}) })),
  };
}

/** The directory's README: what is where, the variants, and how to rewrite it (deterministic text). */
function readme(vectors, bucket) {
  const variants = new Map();
  for (const vector of vectors) {
    const variant = vector.id.split("/")[0];
    const row = variants.get(variant) ?? { method: vector.method, encryption: vector.encryption, kinds: [] };
    row.kinds.push(vector.kind);
    variants.set(variant, row);
  }
  const describe = (e) => e === undefined ? "-"
    : e.type === "libsodium" ? `libsodium, transform ${e.transform}${e.keyPath ? ", key from file" : ""}${e.note ? ` (${e.note})` : ""}`
    : `OpenPGP${e.keyPath ? ", key from file" : ", key inline"}${e.passphrase ? ", passphrase" : ""}${e.note ? ` (${e.note})` : ""}`;
  return [
    "# Golden vectors from wal-g v3.0.9",
    "",
    "Written by a real wal-g v3.0.9 (build tags `brotli libsodium`) through `scripts/vectors-walg.mjs`; never edit by hand.",
    "Rewrite them with `WALG_BIN=/path/to/wal-g npm run vectors:walg` (as root: it starts PostgreSQL 15 as `postgres`).",
    "The live suite (test/e2e/compat-walg-vectors-live.test.ts) records them again into a temporary directory and",
    "compares, whenever a wal-g binary is found.",
    "",
    "**Test keys.** Everything in `keys/` and every key or passphrase in `manifest.json` was made for these vectors.",
    "They are test keys: they protect nothing and are not secrets.",
    "",
    "- `manifest.json`: for every vector its input, the key wal-g chose and the object file, the command line and",
    "  environment (no secrets), the wal-g version and build tags, and the SHA-256 of every file here.",
    "- `inputs/`: the four kinds of WAL file PostgreSQL archives (a 1 MiB segment, `.history`, `.partial`, `.backup`),",
    "  generated deterministically; wal-g ran with `WALG_PG_WAL_SIZE=1`.",
    "- `objects/<variant>/wal_005/`: each object exactly as wal-g stored it in a FILE store. An object that equals its",
    "  input (method `none`, not encrypted) is not stored twice: its manifest entry points at the input.",
    "- `keys/`: the OpenPGP test key pairs (one with a passphrase) and a libsodium key file.",
    "- `manifest.json` `layout`: the key of each kind of file for each prefix setting, S3 (`s3://b`, `s3://b/`,",
    "  `s3://b/a/b/`, `s3://b/a//c`, `WALG_STORAGE_PREFIX`) and FILE (a path, `file://localhost`, `WALG_STORAGE_PREFIX`);",
    "  for S3 the requests wal-g sent to a local endpoint that recorded them, and the headers of its PUT.",
    `- \`bucket/\`: ${bucket.objects.length} objects of an archive wal-g wrote for PostgreSQL ${bucket.cluster.pgRelease} (16 MiB segments, brotli):`,
    "  WAL pushed by `wal-g wal-push` as archive_command, and a full, a delta and a permanent full backup by",
    "  `wal-g backup-push`; sentinels and metadata only, without the data tars.",
    "- `walg-output/`: wal-g's own `backup-list` (plain, `--detail`, `--json`), `wal-verify integrity timeline`",
    "  (text and `--json`, also with one segment removed) and `wal-show` (text and `--detailed-json`) for that bucket.",
    "",
    "| variant | method | encryption | kinds |",
    "|---|---|---|---|",
    ...[...variants].map(([name, row]) => `| ${name} | ${row.method} | ${describe(row.encryption)} | ${row.kinds.join(", ")} |`),
    "",
  ].join("\n");
}

async function main() {
  const { values } = parseArgs({ options: { out: { type: "string" }, keys: { type: "string" }, help: { type: "boolean" } } });
  if (values.help) {
    console.log("usage: WALG_BIN=/path/to/wal-g npm run vectors:walg [-- --out DIR] [--keys DIR]");
    return;
  }
  if (process.getuid?.() !== 0) throw new Error("run as root: PostgreSQL 15 is started as the postgres user");
  const found = findWalg();
  if (found === undefined) throw new Error("no wal-g binary: install wal-g v3.0.9 (built with brotli and libsodium) and set WALG_BIN");
  const out = resolve(values.out ?? DEFAULT_OUT);
  const version = (await check("wal-g --version", run(found, ["--version"], { env: { PATH: "/usr/bin:/bin" } }))).stdout.split("\n")[0].trim();
  if (values.out === undefined && !/\bv3\.0\.9\b/.test(version)) throw new Error(`${found} is '${version}'; the committed vectors are from v3.0.9 (use --out for another version)`);

  const work = await mkdtemp("/tmp/wal-native-vectors-");
  await chmod(work, 0o755);
  try {
    const walg = join(work, "wal-g");
    await copyFile(found, walg);
    await chmod(walg, 0o755);
    // Keys: --keys, else those already in the output, else the committed ones, else new ones from gpg.
    let keysDir = join(out, "keys");
    const committedKeys = join(DEFAULT_OUT, "keys");
    const source = values.keys ? resolve(values.keys) : (await stat(keysDir).then(() => keysDir, () => undefined)) ?? (await stat(committedKeys).then(() => committedKeys, () => undefined));
    const keep = source ? join(work, "keys-in") : undefined;
    if (source) await cp(source, keep, { recursive: true });
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    if (keep) await cp(keep, keysDir, { recursive: true });
    await ensureKeys(keysDir, work);
    for (const file of await readdir(keysDir)) await chmod(join(keysDir, file), 0o644);

    const rec = new Recorder(walg, out, work, keysDir);
    await mkdir(rec.home, { recursive: true });
    await recordWal(rec);
    const layout = await recordLayout(rec);
    const bucket = await writeBucket(rec, await recordBucket(rec));

    await writeFile(join(out, "README.md"), readme(rec.vectors, bucket));
    const files = {};
    for (const entry of (await readdir(out, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())) {
      const path = join(entry.parentPath ?? entry.path, entry.name);
      if (path === join(out, "manifest.json")) continue;
      files[relative(out, path)] = sha256(await readFile(path));
    }
    const manifest = {
      format: 1,
      about: "Golden vectors written by a real wal-g, recorded by scripts/vectors-walg.mjs (npm run vectors:walg); never edit by hand. "
        + "Everything under keys/ and every key or passphrase in this file is a TEST KEY made for these vectors: it protects nothing and is not a secret.",
      walg: { version, buildTags: BUILD_TAGS, binary: "WALG_BIN (not recorded)" },
      postgres: `PostgreSQL ${bucket.cluster.pgRelease} (${PG_BIN})`,
      walSegmentSizeMb: WAL_SEG_MB,
      commonEnv: { PATH: "/usr/bin:/bin", HOME: "<empty dir>", TZ: "UTC", WALG_DOWNLOAD_CONCURRENCY: "1", WALG_UPLOAD_CONCURRENCY: "1" },
      wal: rec.vectors,
      layout,
      bucket,
      files: Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b))),
    };
    await writeFile(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    const total = Object.keys(files).length;
    let bytes = 0;
    for (const path of Object.keys(files)) bytes += (await stat(join(out, path))).size;
    console.log(`vectors-walg: ${rec.vectors.length} WAL vectors, ${layout.length} prefix layouts, ${bucket.objects.length} bucket objects, ${bucket.outputs.length} wal-g outputs; ${total} files, ${(bytes / MiB).toFixed(2)} MiB in ${out}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`vectors-walg: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
