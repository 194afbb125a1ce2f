// What operations commands may use of the prefetch worker (the restore wing's only public door for them).
export { stopPrefetchWorker } from "./worker.js";
