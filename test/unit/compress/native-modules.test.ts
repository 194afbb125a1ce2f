// A codec whose native module was never built (npm ci --ignore-scripts, no compiler) fails with a plain
// configuration error (exit 78; wal-restore turns it into an aborted recovery), not a module-resolution stack.
import { describe, expect, it } from "vitest";
import { withNativeModules } from "../../../src/compress/codec.js";
import { ExitCode, WalNativeError } from "../../../src/errors.js";
import { rejectionOf } from "./helpers.js";

const failing = (code: string, message: string) => async () => {
  throw Object.assign(new Error(message), { code });
};

describe("codecs' native modules", () => {
  it.each([
    ["MODULE_NOT_FOUND", "Cannot find module '../build/Release/xxhash'\nRequire stack:\n- /x/node_modules/lz4/lib/utils.js"],
    ["ERR_DLOPEN_FAILED", "/x/lz4.node: invalid ELF header"],
  ])("reports %s as a configuration error with the remedy", async (code, message) => {
    const error = await rejectionOf(withNativeModules("lz4", "lz4", failing(code, message)));
    expect(error).toBeInstanceOf(WalNativeError);
    expect((error as WalNativeError).exitCode).toBe(ExitCode.config);
    expect((error as WalNativeError).message).toBe(`the lz4 codec cannot load its native module (${message.split("\n")[0]})`);
    expect((error as WalNativeError).hint).toContain("npm rebuild lz4");
  });

  it("passes any other failure on as it is, and a loaded module through", async () => {
    const other = Object.assign(new Error("boom"), { code: "EACCES" });
    expect(await rejectionOf(withNativeModules("zstd", "zstd-napi", async () => Promise.reject(other)))).toBe(other);
    expect(await withNativeModules("zstd", "zstd-napi", async () => 42)).toBe(42);
  });
});
