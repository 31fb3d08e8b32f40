import * as fs from "node:fs";

/** Whether a process with this pid still exists (for temp files of dead writers). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, it is just not ours to signal.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Clock ticks per second in /proc/<pid>/stat (USER_HZ: 100 on every Linux this runs on). */
const USER_HZ = 100;

/**
 * When the process with this pid started (ms since the epoch, to within about 10 ms), from
 * /proc; undefined where that cannot be read. With the start time, a pid that recurred (the
 * runner's steps start in a fresh PID namespace each run, so small pids come back) is told
 * apart from the process that wrote it down.
 */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime); fields are counted from after the command name, which may hold spaces.
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const uptime = Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    if (!Number.isFinite(ticks) || !Number.isFinite(uptime)) return undefined;
    return Date.now() - (uptime - ticks / USER_HZ) * 1000;
  } catch {
    return undefined;
  }
}
