// Several runs' targets side by side (npm run bench -- --compare a.json,b.json,...): the targets are judged on
// ratios within one run, and a machine this noisy needs several runs before a target counts as met or missed, so
// this table gives each target once per run and how many runs met it. Every run is judged again by the current
// targets.mjs, so runs recorded before a change of the targets are judged alike.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { targets } from "./targets.mjs";

/** The rows of the comparison: one per target that any run judged, in the order the runs first give them. */
export function compareTargets(runs) {
  const judged = runs.map((r) => targets(r));
  const order = [];
  const seen = new Map();
  for (const list of judged) {
    for (const t of list) {
      if (!seen.has(t.measure)) {
        seen.set(t.measure, t.target);
        order.push(t.measure);
      }
    }
  }
  return order.map((measure) => {
    const perRun = judged.map((list) => list.find((t) => t.measure === measure));
    const decided = perRun.filter((t) => t && t.met !== "n/a");
    return {
      measure, target: seen.get(measure), perRun,
      metIn: decided.filter((t) => t.met === "yes").length, judgedIn: decided.length,
    };
  });
}

const cell = (t) => {
  if (!t) return "not run";
  if (t.met === "yes") return `met: ${t.measured}`;
  if (t.met === "n/a") return `n/a: ${t.measured}`;
  return `missed ${t.met.replace(/^no /, "")}: ${t.measured}`;
};
const escape = (text) => text.replaceAll("|", "\\|");

/** RUNS.md: the runs, then every target with each run's measurement and verdict. */
export function compareMarkdown(runs, names) {
  const rows = compareTargets(runs);
  const header = runs.map((_, i) => `run ${i + 1}`);
  const lines = [
    "# wal-native benchmark: targets over several runs", "",
    ...runs.map((r, i) => `- run ${i + 1}: ${r.date.slice(0, 16).replace("T", " ")} UTC, \`${r.command}\`` +
      `${r.durationS ? `, ${Math.round(r.durationS / 60)} min` : ""}, N = ${r.n}${r.nLarge ? ` and ${r.nLarge}` : ""}` +
      `${r.errors?.length ? `, ${r.errors.length} failed scenario(s)` : ""} (${names[i]})`),
    "",
    `Every run judged by the current targets (scripts/bench/targets.mjs). ${rows.filter((row) => row.judgedIn > 0 && row.metIn === row.judgedIn).length} of ${rows.length} targets met in every run that judged them; ` +
      `${rows.filter((row) => row.judgedIn > 0 && row.metIn === 0).length} missed in every one.`,
    "",
    `| measure | target | ${header.join(" | ")} | met in |`,
    `|---|---|${header.map(() => "---").join("|")}|---:|`,
    ...rows.map((row) => `| ${[row.measure, row.target, ...row.perRun.map(cell), `${row.metIn} of ${row.judgedIn}`].map(escape).join(" | ")} |`),
    "",
  ];
  return lines.join("\n");
}

/** Reads the results.json files and writes RUNS.md into outDir; returns its path. */
export function writeComparison(files, outDir) {
  const runs = files.map((file) => JSON.parse(readFileSync(file, "utf8")));
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, "RUNS.md");
  writeFileSync(path, compareMarkdown(runs, files));
  return path;
}
