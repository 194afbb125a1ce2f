// The import rules of src/ (organised by when code runs): npm test fails on any violation
// (scripts/test.sh runs `npm run boundaries`; test/unit/boundaries.test.ts proves each rule catches a planted one).
//   main/           entry points: may import everything below; nothing imports them
//   archive/        archive_command's wing    } never each other, never ops/ or main/
//   restore/        restore_command's wing    }
//   ops/<command>/  one folder per wal-native command: its own files, ops/shared/, a wing only through its index.ts
//   fastpath/ daemon/ local-archive/   shared by the wings: the foundation and (daemon) fastpath only
//   wal/ storage/ compress/ io/ crypto/ config.ts env.ts errors.ts log.ts walg-settings.ts   the foundation: imports nothing above it
const ABOVE_FOUNDATION = "^src/(main|archive|restore|ops|fastpath|daemon|local-archive)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "nothing-imports-main",
      comment: "src/main/ holds the entry points (the only place that exits); nothing may depend on them",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/main/" },
      to: { path: "^src/main/" },
    },
    {
      name: "foundation-stays-below",
      comment: "wal, storage, compress, io, crypto, config, env, errors, log and walg-settings import nothing above the foundation",
      severity: "error",
      from: { path: "^src/(wal|storage|compress|io|crypto)/|^src/(config|env|errors|log|walg-settings)\\.ts$" },
      to: { path: ABOVE_FOUNDATION },
    },
    {
      name: "archive-wing-alone",
      comment: "the archive wing uses fastpath, daemon, local-archive and the foundation, never the restore wing or ops",
      severity: "error",
      from: { path: "^src/archive/" },
      to: { path: "^src/(restore|ops)/" },
    },
    {
      name: "restore-wing-alone",
      comment: "the restore wing uses fastpath, daemon, local-archive and the foundation, never the archive wing or ops",
      severity: "error",
      from: { path: "^src/restore/" },
      to: { path: "^src/(archive|ops)/" },
    },
    {
      name: "shared-layers-below-wings",
      comment: "fastpath (the protocol's definition), daemon and local-archive serve both wings and ops: they import no wing or command",
      severity: "error",
      from: { path: "^src/(fastpath|daemon|local-archive)/" },
      to: { path: "^src/(archive|restore|ops)/" },
    },
    {
      name: "fastpath-is-a-definition",
      comment: "fastpath/ is the single definition the launchers are rendered from: it depends on the foundation only",
      severity: "error",
      from: { path: "^src/fastpath/" },
      to: { path: "^src/(daemon|local-archive)/" },
    },
    {
      name: "local-archive-apart",
      comment: "the local archive and its retention need neither the protocol nor the worker management",
      severity: "error",
      from: { path: "^src/local-archive/" },
      to: { path: "^src/(fastpath|daemon)/" },
    },
    {
      name: "ops-enter-wings-by-index",
      comment: "an operations command reaches a wing only through that wing's public index.ts",
      severity: "error",
      from: { path: "^src/ops/" },
      to: { path: "^src/(archive|restore)/", pathNot: "/index\\.ts$" },
    },
    {
      name: "ops-commands-apart",
      comment: "each ops/<command>/ imports its own files and ops/shared/, never another command's",
      severity: "error",
      from: { path: "^src/ops/([^/]+)/" },
      to: { path: "^src/ops/", pathNot: "^src/ops/($1|shared)/" },
    },
    {
      name: "no-cycles",
      comment: "no import cycles; a lazy registry is exempt (compress/codec.ts loads each codec with import(), and the codec names the Codec interface back)",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true, viaOnly: { dependencyTypesNot: ["dynamic-import"] } },
    },
  ],
  options: {
    includeOnly: "^src/",
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".d.ts"] },
  },
};
