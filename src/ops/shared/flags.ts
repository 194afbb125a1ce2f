// Arguments of wal-native sub-commands, read by node:util parseArgs (--name, --name value, --name=value,
// positionals, "--"), with its errors in our words; and the durations and counts they take.
import { parseArgs } from "node:util";
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
  const options = Object.fromEntries([
    ...(spec.switches ?? []).map((name) => [name, { type: "boolean" as const }]),
    ...(spec.values ?? []).map((name) => [name, { type: "string" as const }]),
  ]);
  const parsed = parseStrictly(args, options);
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === "string") values.set(name, value);
    else if (value === true) switches.add(name);
  }
  const positionals = parsed.positionals;
  const min = spec.minPositionals ?? 0;
  const max = spec.maxPositionals ?? 0;
  if (positionals.length < min || positionals.length > max) {
    const wanted = min === max ? `${min}` : `${min} to ${max}`;
    throw new UsageError(`expected ${wanted} argument${max === 1 ? "" : "s"}, got ${positionals.length}`);
  }
  return { values, switches, positionals };
}

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>;

export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: string[];
  /** The options in the order given (a repeated option appears each time). */
  readonly optionNames: string[];
}

/** parseArgs in strict mode, its errors turned into UsageErrors worded like the rest of our messages. */
export function parseStrictly(args: readonly string[], options: Options): Parsed {
  try {
    const { values, positionals, tokens } = parseArgs({ args: [...args], options, strict: true, allowPositionals: true, tokens: true });
    const optionNames = tokens.flatMap((token) => (token.kind === "option" ? [token.name] : []));
    return { values: values as Parsed["values"], positionals, optionNames };
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const option = /'(--?[^' =]+)/.exec(message)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option '${option}'`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      throw new UsageError(/does not take an argument/.test(message) ? `${option} takes no value` : `${option} needs a value`);
    }
    throw new UsageError(message);
  }
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

