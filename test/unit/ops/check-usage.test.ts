// wal-native check's storage usage: counts and bytes per folder, and the oldest and newest segment by name.
import { describe, expect, it } from "vitest";
import { UsageTally } from "../../../src/ops/check/usage.js";
import { BACKUP_FOLDER, WAL_FOLDER } from "../../../src/storage/storage.js";

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));

describe("check: storage usage", () => {
  it("counts every object and its bytes, and ranks only segments (any extension) by name", () => {
    const tally = new UsageTally(WAL_FOLDER);
    const objects = [
      { key: `${WAL_FOLDER}000000010000000000000003.lz4`, size: 100, lastModified: at(3) },
      { key: `${WAL_FOLDER}000000010000000000000002.br`, size: 200, lastModified: at(2) },
      { key: `${WAL_FOLDER}000000010000000000000004.`, size: 1, lastModified: at(4) },
      { key: `${WAL_FOLDER}00000002.history.lz4`, size: 40, lastModified: at(9) },
      { key: `${WAL_FOLDER}000000010000000000000005.partial.lz4`, size: 50, lastModified: at(8) },
      { key: `${WAL_FOLDER}000000010000000000000002.00000028.backup.lz4`, size: 60, lastModified: at(7) },
      { key: `${WAL_FOLDER}000000020000000000000005`, size: 300, lastModified: at(6) },
    ];
    for (const object of objects) tally.add(object);
    expect(tally.result()).toEqual({
      objects: 7,
      bytes: 751,
      oldest: { name: "000000010000000000000002", lastModified: at(2) },
      newest: { name: "000000020000000000000005", lastModified: at(6) },
    });
  });

  it("has no range without segments, and ranks nothing outside wal_005/", () => {
    expect(new UsageTally(WAL_FOLDER).result()).toEqual({ objects: 0, bytes: 0, oldest: undefined, newest: undefined });
    const backups = new UsageTally(BACKUP_FOLDER);
    backups.add({ key: `${BACKUP_FOLDER}base_000000010000000000000002/tar_partitions/part_1.tar.lz4`, size: 1000 });
    backups.add({ key: `${BACKUP_FOLDER}base_000000010000000000000002_backup_stop_sentinel.json`, size: 10 });
    expect(backups.result()).toEqual({ objects: 2, bytes: 1010, oldest: undefined, newest: undefined });
  });
});
