// Equal memory conditions for every restore run. On this kind of VM (virtio free page reporting), memory
// that has been free for more than a few seconds goes back to the host, and touching it again costs
// about 40 ms per 16 MiB (measured: writing 64 new 16 MiB files, the first ~600 MB of recently freed
// pages take 3 ms per file, the rest 41 ms). A recovery puts every restored segment in the page cache,
// so without this a tool's time depended on how much memory the run before it had just freed.
// A child process touches that much anonymous memory and exits: the pages are freed together, just before
// the recovery, without the disk writes (and the writeback behind them) of files of that size.
import { execFileSync } from "node:child_process";

/** Touches and frees `bytes` of memory in a child process, leaving that much recently freed memory. */
export function warmPagePool(bytes) {
  const gib = 1 << 30;
  const script = `const keep = []; for (let left = ${bytes}; left > 0; left -= ${gib}) keep.push(Buffer.allocUnsafeSlow(Math.min(left, ${gib})).fill(0x5a));`;
  execFileSync(process.execPath, ["-e", script], { stdio: "ignore" });
}

/** Writes dirty pages out, so that a recovery does not share the disk with the writeback of its own set-up. */
export function flushDirtyPages() {
  execFileSync("sync");
}
