// SHA-256 of whole segments on a second thread, for the long-lived background uploader. Its main thread
// is what limits archiving on a small machine: per 16 MiB segment it spent ~8 ms hashing, ~5 ms in LZ4
// and ~8 ms on the rest. A worker thread hashes while the main thread compresses; the segment is shared
// (SharedArrayBuffer), never copied. A one-shot archive call hashes on its own thread: starting a worker
// (~20 ms, ~10 MB) costs more than it saves on one file.
import { createHash } from "node:crypto";
import type { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
parentPort.on("message", ({ id, buffer, offset, length }) => {
  try {
    parentPort.postMessage({ id, sha256: createHash("sha256").update(new Uint8Array(buffer, offset, length)).digest("hex") });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});`;

interface Reply {
  readonly id: number;
  readonly sha256?: string;
  readonly error?: string;
}

let worker: Worker | undefined;
let broken = false;
let nextId = 0;
let onThread = 0;
const pending = new Map<number, { resolve: (hex: string) => void; reject: (error: Error) => void }>();

/** From now on this process hashes shared buffers on a worker thread (the uploader calls this once). */
export async function startHashThread(): Promise<void> {
  if (worker || broken) return;
  const { Worker } = await import("node:worker_threads");
  const started = new Worker(WORKER_SOURCE, { eval: true, stdout: false, stderr: false });
  started.unref();
  started.on("message", (reply: Reply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (pending.size === 0) started.unref();
    if (reply.sha256 === undefined) return waiter?.reject(new Error(`hash thread: ${reply.error}`));
    onThread += 1;
    waiter?.resolve(reply.sha256);
  });
  // A dead worker costs speed, never a result: waiting hashes fail over to this thread, as do later ones.
  const fail = (error: Error) => {
    broken = true;
    worker = undefined;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  started.on("error", fail);
  started.on("exit", (code) => fail(new Error(`hash thread exited (${code})`)));
  worker = started;
}

/** A buffer the hash thread can read without a copy, when that thread runs; else an ordinary one. */
export function allocSegmentBuffer(size: number): Buffer {
  return worker ? Buffer.from(new SharedArrayBuffer(size)) : Buffer.allocUnsafeSlow(size);
}

/**
 * Hex SHA-256 of data. On the hash thread when data lives in shared memory, else here. The caller must not
 * change data until the promise settles.
 */
export async function sha256Of(data: Buffer): Promise<string> {
  const thread = worker;
  if (thread && data.buffer instanceof SharedArrayBuffer) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        thread.ref(); // an uploader awaiting only this hash must not exit meanwhile
        thread.postMessage({ id, buffer: data.buffer, offset: data.byteOffset, length: data.length });
      });
    } catch {
      // the thread died: hash here
    }
  }
  return createHash("sha256").update(data).digest("hex");
}

/** How many digests the hash thread has computed: for tests and debug lines. */
export function hashesOnThread(): number {
  return onThread;
}

/** Ends the hash thread; later hashes run on the calling thread. */
export async function stopHashThread(): Promise<void> {
  const thread = worker;
  if (thread) await thread.terminate();
}
