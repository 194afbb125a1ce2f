// Bounded retry with exponential backoff and jitter, for failures that retrying may fix.
import { isTransient } from "../errors.js";

export interface RetryOptions {
  /** Give up once this much time has passed since the first attempt. */
  readonly deadlineMs: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly retryable?: (error: unknown, attempt: number) => boolean;
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

export async function withRetry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  const retryable = options.retryable ?? isTransient;
  let delay = options.initialDelayMs ?? 250;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      const remaining = options.deadlineMs - (Date.now() - started);
      if (!retryable(error, attempt) || remaining <= 0) throw error;
      const wait = Math.min(remaining, delay / 2 + Math.random() * (delay / 2));
      options.onRetry?.(error, attempt, wait);
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(delay * 2, options.maxDelayMs ?? 5000);
    }
  }
}
