// Bundles each entry point into one CommonJS file in dist/: PostgreSQL starts a process per WAL
// file, and one pre-linked file starts much faster than a tree of ESM modules. CJS because an ESM
// bundle of the AWS SDK fails on its dynamic require of node built-ins.
import { build } from "esbuild";
import { readFileSync } from "node:fs";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const entries = ["wal-archive", "wal-restore", "wal-native"];

await build({
  entryPoints: Object.fromEntries(entries.map((name) => [name, `src/cli/${name}.ts`])),
  outdir: "dist",
  outExtension: { ".js": ".cjs" },
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: false,
  sourcemap: false,
  legalComments: "none",
  // Native addons load their platform binary at run time; they stay in node_modules.
  external: ["lz4-napi", "@node-rs/xxhash", "zstd-napi", "@napi-rs/lzma", "pg", "pg-native"],
  define: { __WAL_NATIVE_VERSION__: JSON.stringify(version) },
  logLevel: "warning",
});
console.log(`built ${entries.map((name) => `dist/${name}.cjs`).join(", ")}`);
