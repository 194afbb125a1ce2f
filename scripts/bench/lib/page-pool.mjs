// Equal memory conditions for every restore run. On this kind of VM (virtio free page reporting), memory
// that has been free for more than a few seconds goes back to the host, and touching it again costs
// about 40 ms per 16 MiB (measured: writing 64 new 16 MiB files, the first ~600 MB of recently freed
// pages take 3 ms per file, the rest 41 ms). A recovery puts every restored segment in the page cache,
// so without this a tool's time depended on how much memory the run before it had just freed.
// Files, not anonymous memory: touching and freeing as much anonymous memory in a child process just before a
// recovery made a copy of 64 segments slower, not faster (7.6-8.8 s against 1.4-4.5 s without and 1.0-3.9 s after
// the files, in two rounds on a busy machine): freed in huge pages, it seems to go back to the host at once.
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

/** Writes and deletes `bytes` of files in `dir`, leaving that much recently freed memory. */
export function warmPagePool(dir, bytes) {
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const work = join(dir, "page-pool");
  mkdirSync(work, { recursive: true });
  try {
    for (let file = 0; file * (16 << 20) < bytes; file += 1) {
      const fd = openSync(join(work, String(file)), "w");
      try {
        for (let at = 0; at < 16 << 20; at += chunk.length) writeSync(fd, chunk);
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Writes dirty pages out, so that a recovery does not share the disk with the writeback of its own set-up. */
export function flushDirtyPages() {
  execFileSync("sync");
}
