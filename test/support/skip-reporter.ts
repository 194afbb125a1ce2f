// After vitest's summary, one line per reason why tests were skipped, taken from their names: a suite that
// needs an uninstallable tool says so in its name, e.g. "(skipped: no wal-g binary; set WALG_BIN)". A skip
// without such a reason is listed too, as "(no reason in the name)": nothing else may skip.
import { basename } from "node:path";
import type { Reporter, TestModule } from "vitest/node";

export default class SkipReasonReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const reasons = new Map<string, { tests: number; files: Set<string> }>();
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.result().state !== "skipped") continue;
        const reason = /\((skipped: [^)]*)\)/.exec(test.fullName)?.[1] ?? "no reason in the name";
        const entry = reasons.get(reason) ?? { tests: 0, files: new Set<string>() };
        entry.tests += 1;
        entry.files.add(basename(module.moduleId).replace(/\.test\.ts$/, ""));
        reasons.set(reason, entry);
      }
    }
    for (const [reason, { tests, files }] of reasons) {
      process.stdout.write(`   Skipped  ${tests} tests (${reason}) in ${[...files].sort().join(", ")}\n`);
    }
  }
}
