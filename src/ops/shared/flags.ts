// A small flag parser for wal-native sub-commands: --name, --name value, --name=value, positionals.
import { UsageError } from "../../errors.js";

export interface FlagSpec {
  /** Flags that take a value. */
  readonly values?: readonly string[];
  /** Flags that are on/off. */
  readonly switches?: readonly string[];
  readonly minPositionals?: number;
  readonly maxPositionals?: number;
}

export interface ParsedFlags {
  readonly values: ReadonlyMap<string, string>;
  readonly switches: ReadonlySet<string>;
  readonly positionals: readonly string[];
}

export function parseFlags(args: readonly string[], spec: FlagSpec): ParsedFlags {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (!arg.startsWith("--") || arg === "--") {
      if (arg !== "--") positionals.push(arg);
      else positionals.push(...args.slice(i + 1));
      if (arg === "--") break;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (spec.switches?.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      switches.add(name);
    } else if (spec.values?.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      values.set(name, value);
    } else {
      throw new UsageError(`unknown option '${arg}'`);
    }
  }
  const min = spec.minPositionals ?? 0;
  const max = spec.maxPositionals ?? 0;
  if (positionals.length < min || positionals.length > max) {
    const wanted = min === max ? `${min}` : `${min} to ${max}`;
    throw new UsageError(`expected ${wanted} argument${max === 1 ? "" : "s"}, got ${positionals.length}`);
  }
  return { values, switches, positionals };
}

/** For ToolCommand.checkArgs: the problem as text, or undefined. */
export function flagProblem(args: readonly string[], spec: FlagSpec): string | undefined {
  try {
    parseFlags(args, spec);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "2h", "7d" or a bare number of seconds, to milliseconds. */
export function parseDuration(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!match?.[1]) throw new UsageError(`${what}: '${text}' is not a duration like 90s, 30m, 2h or 7d`);
  return Math.round(Number(match[1]) * (UNITS[match[2] || "s"] ?? 1000));
}

export function parseCount(text: string, what: string, min = 0): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min) throw new UsageError(`${what}: '${text}' is not a whole number >= ${min}`);
  return value;
}

/** 7260000 -> "2.0 h"; for messages. */
export function formatAge(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}
