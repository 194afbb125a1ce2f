// Projects: fast in-process "unit" tests; "serial", in-process tests that measure memory or wait for streams to
// settle, one file at a time after the unit tests; "e2e" and "faults" tests that run real MinIO/PostgreSQL/wal-g
// processes on PostgreSQL 15 (one MinIO per project from the global setup; files run one at a time because
// they share it); "e2e-pg16", the e2e files that start clusters, again on PostgreSQL 16 (the runbook's
// version); and "matrix", the archive/restore paths on every major from 13 to 18.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ProjectConfig } from "vitest";
import { defineConfig } from "vitest/config";

// The AWS SDK warns once per process on Node < 22; that noise hides real output in test logs.
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";

/** e2e and faults: one MinIO per run, real PostgreSQL clusters, one file at a time in one fork. */
const realProcesses: Pick<ProjectConfig, "environment" | "globalSetup" | "testTimeout" | "hookTimeout" | "pool" | "poolOptions"> = {
  environment: "node",
  globalSetup: ["test/support/global-setup.ts"],
  testTimeout: 180_000,
  hookTimeout: 180_000,
  pool: "forks",
  poolOptions: { forks: { singleFork: true } },
};

/**
 * e2e files that start PostgreSQL clusters through test/support (postgres.ts, or core-support.ts on top
 * of it): the ones whose outcome can depend on the major. The others (MinIO-only, the bench with its own
 * PostgreSQL 15, build, Docker, demo) would only repeat themselves in e2e-pg16.
 */
const E2E_DIR = fileURLToPath(new URL("test/e2e", import.meta.url));
const CLUSTER_E2E = readdirSync(E2E_DIR)
  .filter((name) => name.endsWith(".test.ts"))
  // Import statements only: a comment that names the module (ops-docker's says why it does not use it) is no reason.
  .filter((name) => /from "(\.\.\/support\/postgres|\.\/core-support)\.js"/.test(readFileSync(join(E2E_DIR, name), "utf8")))
  .map((name) => `test/e2e/${name}`);

export default defineConfig({
  test: {
    teardownTimeout: 60_000, // global teardown stops MinIO and any leftover PostgreSQL clusters
    // After the summary, why tests were skipped (e.g. no wal-g binary), from the reasons in their names.
    reporters: ["default", "./test/support/skip-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          // Alone in one fork, after the unit tests: an RSS slope or a stream's settling is judged without other
          // tests sharing the process and the cores.
          name: "serial",
          include: ["test/serial/**/*.test.ts"],
          environment: "node",
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          ...realProcesses,
          // After the unit project, so e2e timings are not skewed by unit tests on the same cores.
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          // Fault injection (crashes, outages, corruption, proxies, disks): same harness as e2e, run after it.
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          ...realProcesses,
          sequence: { groupOrder: 3 },
        },
      },
      {
        test: {
          // test/support/tools.ts reads WALNATIVE_TEST_PG: every cluster of these files runs PostgreSQL 16
          // from its npm package.
          name: "e2e-pg16",
          include: CLUSTER_E2E,
          env: { WALNATIVE_TEST_PG: "16" },
          ...realProcesses,
          sequence: { groupOrder: 4 },
        },
      },
      {
        test: {
          name: "matrix",
          include: ["test/matrix/**/*.test.ts"],
          ...realProcesses,
          sequence: { groupOrder: 5 },
        },
      },
    ],
  },
});
