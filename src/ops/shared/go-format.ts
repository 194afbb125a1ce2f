// Output the way wal-g (Go) prints it: RFC 3339 times, X/X LSNs, text/tabwriter columns.

/** Go's time.RFC3339 for a time string or Date, keeping the original zone; "-" for none (wal-g's zero time). */
export function goRfc3339(value: string | Date | undefined): string {
  if (value === undefined) return "-";
  if (value instanceof Date) return value.toISOString().replace(/\.\d+Z$/, "Z");
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/i.exec(value);
  return match ? `${match[1]}${match[2]?.toUpperCase() === "Z" ? "Z" : match[2]}` : value;
}

/** Go's time.Time JSON form (RFC3339Nano: fraction without trailing zeros). */
export function goJsonTime(value: string | Date | undefined): string {
  if (value === undefined) return "0001-01-01T00:00:00Z";
  const text = value instanceof Date ? value.toISOString() : value;
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(text);
  if (!match) return text;
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  return `${match[1]}${fraction ? `.${fraction}` : ""}${match[3]?.toUpperCase() === "Z" ? "Z" : match[3]}`;
}

/** PostgreSQL's LSN text form: high and low 32 bits in uppercase hex. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match?.[1] || !match[2]) throw new SyntaxError(`'${text}' is not an LSN like 0/16B3748`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/**
 * Go text/tabwriter with minwidth 0, padding 1, pad char ' ' (wal-g's printlist): every cell but the
 * last of a line is padded to its column's widest cell plus one space.
 */
export function tabwriter(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.slice(0, -1).forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i < row.length - 1 ? cell.padEnd((widths[i] ?? 0) + 1) : cell)).join(""))
    .map((line) => `${line}\n`)
    .join("");
}
