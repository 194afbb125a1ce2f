// When the lite S3 client (s3-lite.ts) sends a request again: the SDK's standard retry mode, so that both
// clients give up on the same failures after the same number of attempts (WALG_S3_MAX_RETRIES).
import { setTimeout as sleep } from "node:timers/promises";
import { DAMAGED_IN_TRANSIT } from "./s3-errors.js";

/** Runs `request` up to `maxAttempts` times while it fails with a retryable error and `signal` is not aborted. */
export async function withRetries<T>(maxAttempts: number, signal: AbortSignal | undefined, request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (attempt >= maxAttempts || signal?.aborted || !isRetryable(error)) throw error;
      // Full jitter: a random wait up to 100 ms doubling per retry, at most 20 s (SDK standard mode).
      await sleep(Math.random() * Math.min(20_000, 100 * 2 ** (attempt - 1)), undefined, { signal });
    }
  }
}

/** The SDK's standard mode retries these (smithy service-error-classification). */
const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRY_CODES = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottledException",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "TransactionInProgressException",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "LimitExceededException",
  "RequestThrottled",
  "SlowDown",
  "PriorRequestNotComplete",
  "EC2ThrottledException",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);
const RETRY_NETWORK = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

export function isRetryable(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === "AbortError") return false;
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && RETRY_STATUS.has(status)) return true;
  return RETRY_CODES.has(e?.name ?? "") || DAMAGED_IN_TRANSIT.has(e?.name ?? "") || RETRY_NETWORK.has(e?.code ?? "");
}
