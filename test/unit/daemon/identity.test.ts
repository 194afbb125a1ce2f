// Which process a pid file or claim names (src/daemon/identity.ts): exact pid, boot and start time, never a reused
// pid or a zombie.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { currentBootId, describeProcess, isAlive, parseProcStat, signalIfAlive } from "../../../src/daemon/identity.js";
import { parseProcessLine } from "../../../src/fastpath/protocol.js";

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => children.forEach((child) => child.kill("SIGKILL")));
const sleeper = () => {
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  children.push(child);
  return child;
};

describe("process lines", () => {
  it("read the state and start time past a command name with spaces and parentheses", () => {
    // Fields 4 to 52 hold their own numbers: field 22 (the start time) reads "22".
    const rest = Array.from({ length: 49 }, (_, i) => String(i + 4)).join(" ");
    expect(parseProcStat(`4242 (a) b (c)) S ${rest}`)).toEqual({ state: "S", startTime: "22" });
    expect(parseProcStat("")).toBeUndefined();
  });

  it("accept only three words with a pid above 1 and a numeric start time", () => {
    expect(parseProcessLine("123 boot 456\n")).toEqual({ pid: 123, bootId: "boot", startTime: "456" });
    for (const odd of ["", "0 b 1", "1 b 1", "-1 b 1", "12 b", "12", "12abc b 1", "12 b x", "12 b 1 extra"]) expect(parseProcessLine(odd), odd).toBeUndefined();
  });

  it("name a live process of this boot, and nothing once it is gone, in another boot or with another start time", async () => {
    const child = sleeper();
    const line = describeProcess(child.pid);
    const [pid, boot, start] = line.split(" ");
    expect(boot).toBe(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    expect(currentBootId()).toBe(boot);
    expect(await isAlive(line)).toBe(true);
    expect(await isAlive(`${pid} 00000000-0000-4000-8000-000000000000 ${start}`)).toBe(false); // after a reboot
    expect(await isAlive(`${pid} ${boot} ${Number(start) + 1}`)).toBe(false); // the pid reused by another process
    expect(await isAlive(`${process.pid}`)).toBe(false); // the old pid-only format
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(await isAlive(line)).toBe(false);
  });

  it("never signal a process the line does not name exactly", async () => {
    const child = sleeper();
    const [pid, boot, start] = describeProcess(child.pid).split(" ");
    expect(await signalIfAlive(parseProcessLine(`${pid} ${boot} ${Number(start) + 1}`), "SIGKILL")).toBe(false);
    expect(await isAlive(describeProcess(child.pid))).toBe(true);
    const exited = new Promise((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
    expect(await signalIfAlive(parseProcessLine(describeProcess(child.pid)), "SIGKILL")).toBe(true);
    expect(await exited).toBe("SIGKILL");
  });

  it("do not count a zombie (dead, not yet reaped by its parent) as alive", async () => {
    // The shell's child exits at once and stays a zombie while the shell sleeps without waiting for it.
    const shell = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 60"], { stdio: ["ignore", "pipe", "ignore"] });
    children.push(shell);
    const pid = Number(await new Promise<string>((resolve) => shell.stdout!.once("data", (chunk: Buffer) => resolve(chunk.toString()))));
    const deadline = Date.now() + 5_000;
    const state = () => parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"))?.state;
    while (state() !== "Z" && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(state()).toBe("Z");
    expect(await isAlive(describeProcess(pid))).toBe(false);
  });
});

describe("a helper's server", () => {
  it("is gone once postmaster.pid names a dead process, or once a server seen running has removed it", async () => {
    const { serverGoneAfter } = await import("../../../src/daemon/lifetime.js");
    const seenRunning = { seen: false };
    expect(serverGoneAfter(seenRunning, "running")).toBe(false);
    expect(serverGoneAfter(seenRunning, "none")).toBe(true); // a clean stop removes postmaster.pid
    const neverSeen = { seen: false };
    expect(serverGoneAfter(neverSeen, "none")).toBe(false); // started by hand where no server runs
    expect(serverGoneAfter(neverSeen, "dead")).toBe(true); // a crash leaves postmaster.pid naming a dead process
  });
});
