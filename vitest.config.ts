// Three projects: fast in-process "unit" tests, and "e2e" and "faults" tests that run real MinIO/PostgreSQL/wal-g
// processes (one MinIO per run from the global setup; files run one at a time because they share it).
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

export default defineConfig({
  test: {
    teardownTimeout: 60_000, // global teardown stops MinIO and any leftover PostgreSQL clusters
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
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          ...realProcesses,
          // After the unit project, so e2e timings are not skewed by unit tests on the same cores.
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          // Fault injection (crashes, outages, corruption, proxies, disks): same harness as e2e, run after it.
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          ...realProcesses,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
