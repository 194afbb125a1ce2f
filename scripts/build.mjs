// Bundles each entry point into one CommonJS file in dist/: PostgreSQL starts a process per WAL
// file, and one pre-linked file starts much faster than a tree of ESM modules. CJS because an ESM
// bundle of the AWS SDK fails on its dynamic require of node built-ins. The S3 SDK goes into its
// own dist/s3.cjs, required only when a command talks to S3: a prefetch hit or --help never
// parses its ~1.4 MB.
import { build } from "esbuild";
import { readFileSync } from "node:fs";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const entries = ["wal-archive", "wal-restore", "wal-native"];

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: false,
  sourcemap: false,
  legalComments: "none",
  // Native addons load their platform binary at run time; they stay in node_modules.
  external: ["lz4", "@node-rs/xxhash", "zstd-napi", "@napi-rs/lzma", "pg", "pg-native"],
  define: { __WAL_NATIVE_VERSION__: JSON.stringify(version) },
  // import() of a .cjs file goes through the ESM loader, which scans it for exports (~100 ms for
  // the SDK bundle); require() does not.
  supported: { "dynamic-import": false },
  logLevel: "warning",
};

/** In the entry bundles, the S3 side is a runtime require of the separate bundle. */
const s3Apart = {
  name: "s3-apart",
  setup(b) {
    b.onResolve({ filter: /\/s3-entry\.js$/ }, () => ({ path: "./s3.cjs", external: true }));
  },
};

/**
 * dist/s3.cjs takes errors.ts and storage.ts from the entry bundle that loads it (src/storage/open.ts
 * puts them on globalThis): with its own copies, instanceof NotFoundError and friends would fail there.
 */
const SHARED = /^\.\.?\/(?:\.\.\/)?(errors|storage)\.js$/;
const sharedFromHost = {
  name: "shared-from-host",
  setup(b) {
    b.onResolve({ filter: SHARED }, (args) =>
      args.importer.includes("/src/") ? { path: SHARED.exec(args.path)[1], namespace: "host" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "host" }, (args) => ({
      contents: `module.exports = globalThis[Symbol.for("wal-native.shared")].${args.path};`,
      loader: "js",
    }));
  },
};

await Promise.all([
  build({
    ...common,
    entryPoints: Object.fromEntries(entries.map((name) => [name, `src/cli/${name}.ts`])),
    outdir: "dist",
    outExtension: { ".js": ".cjs" },
    plugins: [s3Apart],
  }),
  build({
    ...common,
    entryPoints: { s3: "src/storage/s3-entry.ts" },
    outdir: "dist",
    outExtension: { ".js": ".cjs" },
    plugins: [sharedFromHost],
  }),
]);
console.log(`built ${[...entries, "s3"].map((name) => `dist/${name}.cjs`).join(", ")}`);
