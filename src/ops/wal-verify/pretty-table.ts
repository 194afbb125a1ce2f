// go-pretty's default table style (wal-g's wal-verify text output): +---+ borders, upper-case header.

/** rightAlign[i]: numbers are right-aligned by go-pretty; text is left-aligned. */
export function prettyTable(header: readonly string[], rows: readonly (readonly string[])[], rightAlign: readonly boolean[]): string {
  const head = header.map((cell) => cell.toUpperCase());
  const widths = head.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)));
  const rule = `+${widths.map((width) => "-".repeat(width + 2)).join("+")}+`;
  // The header follows its column's alignment, as go-pretty does.
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => (rightAlign[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  return [rule, line(head), rule, ...rows.map(line), ...(rows.length ? [rule] : []), ""].join("\n");
}
