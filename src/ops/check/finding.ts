// One line of a check report: which part, how serious, and what it found.

export type Level = "ok" | "warning" | "critical";
export const LEVEL_VALUE: Record<Level, number> = { ok: 0, warning: 1, critical: 2 };

/** The parts of a report, in the order they are shown whatever order they ran in. */
export const CHECKS = ["settings", "switch", "storage", "usage", "backups", "archiver", "backlog", "local archive"] as const;

export interface Finding {
  readonly check: (typeof CHECKS)[number];
  readonly status: Level;
  readonly message: string;
}
