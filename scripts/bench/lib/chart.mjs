// bench.png through Python's matplotlib (scripts/bench/chart.py): the simplest renderer that installs
// here (PyPI via pip, or Debian's python3-matplotlib); Node chart libraries need a native canvas build.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, run } from "./proc.mjs";

const SCRIPT = join(REPO_ROOT, "scripts", "bench", "chart.py");

export async function renderChart(jsonFile, pngFile, say) {
  const python = await pythonWithMatplotlib(say);
  const result = await run(python, [SCRIPT, jsonFile, pngFile], { env: { ...process.env, MPLBACKEND: "Agg" } });
  if (result.code !== 0) throw new Error(`chart.py failed: ${result.stderr.trim().split("\n").at(-1)}`);
}

async function pythonWithMatplotlib(say) {
  const candidates = ["python3", "/usr/bin/python3"];
  const usable = async () => {
    for (const python of candidates) {
      if ((await run(python, ["-c", "import matplotlib"]).catch(() => ({ code: 1 }))).code === 0) return python;
    }
    return undefined;
  };
  let python = await usable();
  if (python) return python;
  say("chart: installing matplotlib (once)");
  await run("python3", ["-m", "pip", "install", "--quiet", "matplotlib"]).catch(() => undefined);
  python = await usable();
  if (python) return python;
  if (existsSync("/usr/bin/apt-get")) {
    await run("apt-get", ["install", "-y", "-qq", "python3-matplotlib"], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    python = await usable();
  }
  if (!python) throw new Error("no python3 with matplotlib (pip install matplotlib, or apt-get install python3-matplotlib)");
  return python;
}
