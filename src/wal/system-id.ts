// The system identifier of a cluster, from its pg_control: restores refuse a segment of another system.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** pg_control starts with system_identifier (uint64, catalog/pg_control.h); cwd is PGDATA for archive/restore commands. */
export async function readClusterSystemId(dataDir = "."): Promise<bigint | undefined> {
  try {
    const control = await readFile(join(dataDir, "global", "pg_control"));
    return control.length >= 8 ? control.readBigUInt64LE(0) : undefined;
  } catch {
    return undefined;
  }
}
