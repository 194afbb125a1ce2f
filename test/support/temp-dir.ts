// Scratch directories for tests that run our commands and wal-g as root and start no PostgreSQL: under the
// run's /tmp/wal-native-test-<run>- prefix (the global teardown's safety net), removed after the file.
import { mkdtemp, rm } from "node:fs/promises";
import { afterAll, inject } from "vitest";
import { WORK_DIR_PREFIX } from "./paths.js";

const dirs: string[] = [];

afterAll(async () => {
  if (process.env["WALNATIVE_TEST_KEEP"] === "1") return;
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
});

export async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(`${WORK_DIR_PREFIX}${inject("runId") ?? "norun"}-${label}-`);
  dirs.push(dir);
  return dir;
}
