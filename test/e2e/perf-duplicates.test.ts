// Segments archived a second time (PostgreSQL re-archiving after a crash between an upload and the rename of its
// .ready, or a standby with archive_mode = always on the primary's prefix): the uploader finds each one already
// archived with equal content and leaves the same record as for an upload, so PostgreSQL's call for it is
// answered by the launcher before Node starts, as for a file uploaded ahead. Different content gets no record.
// The built commands as real processes on a filesystem store, the way PostgreSQL's archiver calls them.
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/postgres.js";
import { makeSegment } from "../support/wal.js";
import { type WalScratch, segmentNames, walScratch } from "../support/pg-wal-scratch.js";
import { runBin } from "../support/run-command.js";

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) stopUploader(join(root, "data", "pg_wal"));
  await sleep(100);
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function stopUploader(wal: string): void {
  const file = join(wal, ".wal-native", "uploader.pid");
  if (!existsSync(file)) return;
  try {
    process.kill(Number(readFileSync(file, "utf8").trim().split(/\s+/)[0]), "SIGKILL");
  } catch {
    // already gone
  }
}

const until = (check: () => boolean, what: string) => waitFor(check, { timeoutMs: 20_000, intervalMs: 20, what });

/** A scratch whose launchers start Node through a wrapper that counts every start (WALNATIVE_NODE). */
function scratch(): WalScratch & { nodeStarts: () => string[] } {
  const dir = walScratch("duplicates");
  roots.push(dir.root);
  const starts = join(dir.root, "node-starts");
  const wrapper = join(dir.root, "counting-node");
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${starts}'\nexec '${process.execPath}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  return {
    ...dir, env: { ...dir.env, WALNATIVE_NODE: wrapper },
    nodeStarts: () => (existsSync(starts) ? readFileSync(starts, "utf8").trim().split("\n").filter(Boolean) : []),
  };
}

function markReady(dir: WalScratch, name: string): void {
  rmSync(join(dir.wal, "archive_status", `${name}.done`), { force: true });
  writeFileSync(join(dir.wal, "archive_status", `${name}.ready`), "");
}

async function archive(dir: WalScratch, name: string) {
  const result = await runBin("wal-archive", [`pg_wal/${name}`, name], { cwd: dir.data, env: dir.env });
  if (result.code === 0) {
    writeFileSync(join(dir.wal, "archive_status", `${name}.done`), "");
    rmSync(join(dir.wal, "archive_status", `${name}.ready`), { force: true });
  }
  return result;
}

const records = (dir: WalScratch): string[] => {
  const path = join(dir.wal, ".wal-native", "uploaded");
  return existsSync(path) ? readdirSync(path).filter((name) => !name.startsWith(".")).sort() : [];
};
const objectTimes = (dir: WalScratch, list: string[]) => list.map((name) => statSync(join(dir.store, "wal_005", `${name}.lz4`)).mtimeMs);

describe("segments already archived", () => {
  it("are answered by the launcher before Node starts, once the uploader has found them equal in storage", async () => {
    const dir = scratch();
    const list = segmentNames("000000010000000000000030", 6);
    for (const name of list) {
      writeFileSync(join(dir.wal, name), makeSegment(name));
      markReady(dir, name);
    }
    for (const name of list) expect((await archive(dir, name)).code).toBe(0);
    const firstPush = objectTimes(dir, list);
    // PostgreSQL restarts after a crash that lost the renames: every segment is ready again, its uploader gone.
    stopUploader(dir.wal);
    for (const name of list) markReady(dir, name);
    const startsBefore = dir.nodeStarts().length;

    const [first, ...rest] = list as [string, ...string[]];
    const call = await archive(dir, first);
    expect(call.code, call.stderr).toBe(0);
    expect(dir.nodeStarts()).toHaveLength(startsBefore + 1);
    await until(() => rest.every((name) => records(dir).includes(name)), "the uploader's records of the segments it found archived");
    for (const name of rest) {
      const again = await archive(dir, name);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toBe("");
    }
    // No call but the first started Node, and storage kept the objects of the first push.
    expect(dir.nodeStarts()).toHaveLength(startsBefore + 1);
    expect(objectTimes(dir, list)).toEqual(firstPush);
    expect(records(dir)).toEqual([]);
  });

  it("leave no record when the archived content differs: PostgreSQL's call goes to Node and is refused", async () => {
    const dir = scratch();
    const list = segmentNames("000000010000000000000040", 3);
    for (const name of list) {
      writeFileSync(join(dir.wal, name), makeSegment(name));
      markReady(dir, name);
    }
    for (const name of list) expect((await archive(dir, name)).code).toBe(0);
    stopUploader(dir.wal);
    const [first, changed, same] = list as [string, string, string];
    // Other bytes under the same name: a conflict, never "already archived".
    writeFileSync(join(dir.wal, changed), makeSegment(changed, { payload: 12345 }));
    for (const name of list) markReady(dir, name);

    expect((await archive(dir, first)).code).toBe(0);
    await until(() => records(dir).includes(same), "the record of the equal segment");
    // Its record is written after the changed segment's upload has failed (uploads run in PostgreSQL's order).
    expect(records(dir)).not.toContain(changed);
    const startsBefore = dir.nodeStarts().length;
    const refused = await archive(dir, changed);
    expect(refused.code).toBe(65);
    expect(refused.stderr).toMatch(new RegExp(`${changed} is already archived .* with different content`));
    expect(dir.nodeStarts()).toHaveLength(startsBefore + 1);
    expect(existsSync(join(dir.wal, "archive_status", `${changed}.ready`))).toBe(true);
  });
});
