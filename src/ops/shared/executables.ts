// Finding programs: on PATH, and our own launchers beside the running bundle (dist/ -> bin/).
import { accessSync, constants } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable of this name on PATH. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Our launcher `name` of this installation (bin/ beside dist/), else the bare name for PATH. */
export function ourLauncher(name: string): string {
  const script = process.argv[1];
  if (script) {
    const candidate = resolve(dirname(resolve(script)), "..", "bin", name);
    if (isExecutable(candidate)) return candidate;
  }
  return name;
}
