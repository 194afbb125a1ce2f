// Which process a pid file or a claim names, and whether it still runs: "<pid> <boot id> <start time>" (the line
// fastpath/protocol.ts defines and the launchers check in sh), compared with /proc. Linux only; elsewhere no line
// is ever written with a known boot, so nothing is trusted and every call takes the Node path.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { type ProcessLine, parseProcessLine, processLine } from "../fastpath/protocol.js";

const BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id";
/** Written in place of the boot id where there is none (no /proc): such a line never counts as alive. */
export const UNKNOWN_BOOT = "-";

let bootId: string | undefined;
/** This boot of the machine; undefined without /proc. */
export function currentBootId(): string | undefined {
  if (bootId === undefined) {
    try {
      bootId = readFileSync(BOOT_ID_FILE, "utf8").trim() || undefined;
    } catch {
      return undefined;
    }
  }
  return bootId;
}

interface ProcStat {
  readonly state: string;
  readonly startTime: string;
}

/** Fields 3 (state) and 22 (start time) of /proc/<pid>/stat; the command name (field 2) may hold spaces and ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const fields = text.slice(text.lastIndexOf(")") + 2).trim().split(" ");
  const [state, startTime] = [fields[0], fields[19]];
  return state && startTime && /^\d+$/.test(startTime) ? { state, startTime } : undefined;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  return parseProcStat(await readFile(`/proc/${pid}/stat`, "utf8").catch(() => ""));
}

/** The line that names this process (or another live one) in a pid file or claim. */
export function describeProcess(pid: number = process.pid): string {
  let startTime = "0";
  try {
    startTime = parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"))?.startTime ?? "0";
  } catch {
    // no /proc: the unknown boot below makes the line count for nothing
  }
  return processLine(pid, currentBootId() ?? UNKNOWN_BOOT, startTime);
}

/** True while the line names a live process (not a zombie) of this boot that started when the line says. */
export async function isAlive(line: string | ProcessLine | undefined): Promise<boolean> {
  const named = typeof line === "string" ? parseProcessLine(line) : line;
  const boot = currentBootId();
  if (!named || !boot || named.bootId !== boot) return false;
  const stat = await procStat(named.pid);
  return stat !== undefined && stat.state !== "Z" && stat.startTime === named.startTime;
}

/** The line in a file (pid file or claim), or undefined when there is none or it is not a process line. */
export async function readProcessFile(path: string): Promise<ProcessLine | undefined> {
  return parseProcessLine(await readFile(path, "utf8").catch(() => ""));
}

/** Only a live process of this boot that the line names exactly is signalled: never a reused pid. */
export async function signalIfAlive(line: ProcessLine | undefined, signal: NodeJS.Signals): Promise<boolean> {
  if (!line || !(await isAlive(line))) return false;
  try {
    process.kill(line.pid, signal);
    return true;
  } catch {
    return false;
  }
}
