// The table of wal-g's settings (src/walg-settings.ts): complete against wal-g's own list, each refused setting
// refused under every name it is read by, harmless values and every other setting let through, and the README
// and docs/WALG-SETTINGS.md saying what the table says.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { CONFIG_FILE_EXTENSIONS, walgSettings, refuseUnsupportedSettings } from "../../src/walg-settings.js";
import { renderSettingsDoc } from "../../scripts/walg-settings-doc.js";

const ROOT = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), "utf8");
const base = { WALG_S3_PREFIX: "s3://bucket/path" };
const noHome = () => undefined;

const REFUSED = walgSettings().filter((setting) => setting.treatment === "refused");
const NOT_REFUSED = walgSettings().filter((setting) => setting.treatment !== "refused");

function refusedBy(env: Record<string, string>): ConfigError | undefined {
  try {
    refuseUnsupportedSettings(env, noHome);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
}

describe("the table of wal-g settings", () => {
  it("names each setting once", () => {
    const names = walgSettings().flatMap((setting) => [setting.name, ...setting.aliases]);
    expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
  });

  it("covers every setting wal-g v3.0.9 accepts (`wal-g flags`, recorded)", () => {
    const flags = read("test/fixtures/walg-settings/walg-v3.0.9-flags.txt")
      .split("\n")
      .filter((line) => line.startsWith("--"))
      .map((flag) => flag.slice(2).toUpperCase().replaceAll("-", "_"))
      // Command-line options of wal-g, not settings.
      .filter((name) => name !== "CONFIG" && name !== "TURBO");
    expect(flags.length).toBeGreaterThan(190);
    const known = new Set(walgSettings().flatMap((setting) => [setting.name, ...setting.aliases]));
    expect(flags.filter((name) => !known.has(name))).toEqual([]);
  });

  it("gives every entry a reason", () => {
    for (const setting of walgSettings()) expect(setting.reason.length, setting.name).toBeGreaterThan(10);
  });
});

describe("refused settings", () => {
  for (const setting of REFUSED) {
    for (const name of [setting.name, ...setting.aliases]) {
      it(`${name}: exit 78 naming it, from loadConfig and before any storage setting is looked at`, () => {
        const error = refusedBy({ ...base, [name]: "something" });
        expect(error?.setting).toBe(name);
        expect(error?.exitCode).toBe(78);
        expect(error?.message).toMatch(new RegExp(`^${name}: .*not supported by wal-native$`));
        expect(() => loadConfig({ [name]: "x" })).toThrow(new RegExp(`^${name}: `));
      });
    }
    if (setting.harmless) {
      it(`${setting.name}=${setting.harmless.values} changes nothing and is accepted`, () => {
        expect(refusedBy({ ...base, [setting.name]: setting.harmless!.values })).toBeUndefined();
      });
    }
  }

  it("takes an empty variable as unset, as wal-g (viper) does", () => {
    expect(refusedBy(Object.fromEntries(REFUSED.map((setting) => [setting.name, ""])))).toBeUndefined();
  });

  it("lets every supported and ignored setting through, whatever its value", () => {
    const env = Object.fromEntries(NOT_REFUSED.flatMap((setting) => [setting.name, ...setting.aliases].map((name) => [name, "1"])));
    expect(refusedBy(env)).toBeUndefined();
  });

  it("refuses a wal-g config file in the user's home directory, of any extension", () => {
    for (const extension of CONFIG_FILE_EXTENSIONS) {
      const home = mkdtempSync(join(tmpdir(), "wal-native-home-"));
      expect(() => refuseUnsupportedSettings(base, () => home)).not.toThrow();
      writeFileSync(join(home, `.walg.${extension}`), "{}");
      expect(() => refuseUnsupportedSettings(base, () => home)).toThrow(new RegExp(`^${home}/\\.walg\\.${extension}: wal-g reads settings from this file`));
    }
  });
});

describe("the documentation reads the same table", () => {
  it("docs/WALG-SETTINGS.md is what npm run docs:settings writes", () => {
    expect(read("docs/WALG-SETTINGS.md")).toBe(renderSettingsDoc());
  });

  it("the README lists exactly the refused settings", () => {
    const readme = read("README.md");
    const section = /<!-- refused-settings -->([\s\S]*?)<!-- \/refused-settings -->/.exec(readme)?.[1];
    expect(section, "README.md has a <!-- refused-settings --> list").toBeDefined();
    const listed = [...section!.matchAll(/`([A-Z0-9_]+)`/g)].map((match) => match[1]);
    const names = REFUSED.flatMap((setting) => [setting.name, ...setting.aliases]);
    expect([...new Set(listed)].sort()).toEqual([...names].sort());
  });
});
