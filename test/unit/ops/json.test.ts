// Lossless JSON and wal-g's (Go's) output formats used by backup-list and wal-verify.
import { describe, expect, it } from "vitest";
import { parseJson, stringifyJson, bigintMember } from "../../../src/ops/shared/json.js";
import { formatLsn, goJsonTime, goRfc3339, parseLsn, tabwriter } from "../../../src/ops/shared/go-format.js";
import { prettyTable } from "../../../src/ops/wal-verify/pretty-table.js";
import { formatAge } from "../../../src/format.js";
import { parseDuration, parseFlags } from "../../../src/ops/shared/flags.js";

describe("parseJson", () => {
  it("keeps a system identifier beyond 2^53 exact", () => {
    const value = parseJson('{"SystemIdentifier":7441920419134727468,"LSN":33554472,"x":[1.5,-2e3,"a\\"b",true,null]}');
    expect(value).toEqual({ SystemIdentifier: 7441920419134727468n, LSN: 33554472, x: [1.5, -2000, 'a"b', true, null] });
    expect(String(JSON.parse("7441920419134727468"))).not.toBe("7441920419134727468"); // what JSON.parse would do
  });

  it("rejects malformed text with the offset", () => {
    expect(() => parseJson('{"a":1,}')).toThrow(/offset 7/);
    expect(() => parseJson("[1] x")).toThrow(/trailing/);
    expect(() => parseJson('"\u0001"')).toThrow(/bad string/);
  });

  it("writes bigint back as a bare number and round-trips", () => {
    const text = stringifyJson({ id: 18446744073709551615n, skip: undefined, list: [], nested: { a: [1, "x"] } });
    expect(text).toBe('{"id":18446744073709551615,"list":[],"nested":{"a":[1,"x"]}}');
    expect(parseJson(text)).toEqual({ id: 18446744073709551615n, list: [], nested: { a: [1, "x"] } });
    expect(stringifyJson([{ a: 1 }], "  ")).toBe('[\n  {\n    "a": 1\n  }\n]');
  });

  it("reads bigint members stored as numbers or strings", () => {
    expect(bigintMember(5)).toBe(5n);
    expect(bigintMember("7441920419134727468")).toBe(7441920419134727468n);
    expect(bigintMember(1.5)).toBeUndefined();
  });
});

describe("Go formats", () => {
  it("prints times like Go's RFC3339 and RFC3339Nano", () => {
    expect(goRfc3339("2026-11-25T19:50:36.123450Z")).toBe("2026-11-25T19:50:36Z");
    expect(goRfc3339(new Date("2026-11-25T19:50:36.5Z"))).toBe("2026-11-25T19:50:36Z");
    expect(goRfc3339(undefined)).toBe("-");
    expect(goJsonTime("2026-11-25T19:50:36.123450Z")).toBe("2026-11-25T19:50:36.12345Z");
    expect(goJsonTime(new Date("2026-11-25T19:50:36.000Z"))).toBe("2026-11-25T19:50:36Z");
    expect(goJsonTime("2026-11-25T19:50:36.1+02:00")).toBe("2026-11-25T19:50:36.1+02:00");
  });

  it("formats and parses LSNs", () => {
    expect(formatLsn(0x1_0000_0028n)).toBe("1/28");
    expect(parseLsn("A/FF000000")).toBe(0xa_ff00_0000n);
    expect(() => parseLsn("nope")).toThrow(/not an LSN/);
  });

  it("pads every column but the last like text/tabwriter", () => {
    expect(tabwriter([["name", "modified"], ["base_1", "x"], ["b", "yy"]])).toBe("name   modified\nbase_1 x\nb      yy\n");
  });

  it("draws go-pretty tables with right-aligned numbers", () => {
    expect(prettyTable(["TLI", "Status"], [["1", "FOUND"]], [true, false])).toBe(
      "+-----+--------+\n| TLI | STATUS |\n+-----+--------+\n|   1 | FOUND  |\n+-----+--------+\n",
    );
  });
});

describe("flags", () => {
  it("parses values, switches and positionals, and refuses unknown options", () => {
    const flags = parseFlags(["a", "--json", "--max=2h", "--min", "3"], { switches: ["json"], values: ["max", "min"], maxPositionals: 1 });
    expect([...flags.switches]).toEqual(["json"]);
    expect(flags.values.get("max")).toBe("2h");
    expect(flags.values.get("min")).toBe("3");
    expect(flags.positionals).toEqual(["a"]);
    expect(() => parseFlags(["--nope"], {})).toThrow("unknown option '--nope'");
    expect(() => parseFlags(["--max"], { values: ["max"] })).toThrow("--max needs a value");
    expect(() => parseFlags(["x"], {})).toThrow("expected 0 arguments, got 1");
  });

  it("reads durations and prints ages", () => {
    expect(parseDuration("2h", "x")).toBe(7_200_000);
    expect(parseDuration("90", "x")).toBe(90_000);
    expect(parseDuration("1.5d", "x")).toBe(129_600_000);
    expect(() => parseDuration("2 weeks", "--max-age")).toThrow("--max-age: '2 weeks' is not a duration");
    expect(formatAge(30_000)).toBe("30 s");
    expect(formatAge(7_200_000)).toBe("2.0 h");
  });
});
