// Lossless JSON: integers beyond Number.MAX_SAFE_INTEGER (wal-g's SystemIdentifier, LSNs) become bigint,
// and bigint is written back as a bare number. JSON.parse would round them silently.

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

export function parseJson(text: string): JsonValue {
  const parser = new Parser(text);
  const value = parser.value();
  parser.end();
  return value;
}

/** Like JSON.stringify, plus bigint as a bare number; undefined members are left out. */
export function stringifyJson(value: unknown, indent = ""): string {
  return write(value, indent, "");
}

function write(value: unknown, indent: string, current: string): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const inner = current + indent;
  const open = indent ? `\n${inner}` : "";
  const close = indent ? `\n${current}` : "";
  const separator = indent ? `,\n${inner}` : ",";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[${open}${value.map((item) => write(item, indent, inner)).join(separator)}${close}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
  if (entries.length === 0) return "{}";
  const colon = indent ? ": " : ":";
  return `{${open}${entries.map(([key, item]) => `${JSON.stringify(key)}${colon}${write(item, indent, inner)}`).join(separator)}${close}}`;
}

class Parser {
  private at = 0;
  constructor(private readonly text: string) {}

  value(): JsonValue {
    this.space();
    const char = this.text[this.at];
    if (char === "{") return this.object();
    if (char === "[") return this.array();
    if (char === '"') return this.string();
    if (char === "-" || (char !== undefined && char >= "0" && char <= "9")) return this.number();
    for (const [word, result] of [["true", true], ["false", false], ["null", null]] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return result;
      }
    }
    return this.fail("unexpected character");
  }

  end(): void {
    this.space();
    if (this.at !== this.text.length) this.fail("trailing characters");
  }

  private object(): { [key: string]: JsonValue } {
    const result: { [key: string]: JsonValue } = {};
    this.at += 1;
    this.space();
    if (this.text[this.at] === "}") return (this.at += 1), result;
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail("expected a member name");
      const key = this.string();
      this.expect(":");
      result[key] = this.value();
      this.space();
      if (this.text[this.at] === "}") return (this.at += 1), result;
      this.expect(",");
    }
  }

  private array(): JsonValue[] {
    const result: JsonValue[] = [];
    this.at += 1;
    this.space();
    if (this.text[this.at] === "]") return (this.at += 1), result;
    for (;;) {
      result.push(this.value());
      this.space();
      if (this.text[this.at] === "]") return (this.at += 1), result;
      this.expect(",");
    }
  }

  private string(): string {
    const match = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(this.text.slice(this.at));
    if (!match) return this.fail("bad string");
    this.at += match[0].length;
    return JSON.parse(match[0]) as string;
  }

  private number(): number | bigint {
    const match = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.at));
    if (!match) return this.fail("bad number");
    this.at += match[0].length;
    const isInteger = match[1] === undefined && match[2] === undefined;
    const value = Number(match[0]);
    return isInteger && !Number.isSafeInteger(value) ? BigInt(match[0]) : value;
  }

  private expect(char: string): void {
    this.space();
    if (this.text[this.at] !== char) this.fail(`expected '${char}'`);
    this.at += 1;
  }

  private space(): void {
    while (/[ \t\r\n]/.test(this.text[this.at] ?? "")) this.at += 1;
  }

  private fail(reason: string): never {
    throw new SyntaxError(`invalid JSON at offset ${this.at}: ${reason}`);
  }
}

/** Reads a member as bigint whether it was stored as a small number, a big one or a decimal string. */
export function bigintMember(value: JsonValue | undefined): bigint | undefined {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^\d+$/.test(value)) return BigInt(value);
  return undefined;
}
