/**
 * Samples the command lines of every process on the machine while an operation runs, so a
 * test can prove no key or hash was ever passed as an argument (where `ps` shows it).
 */
import * as fs from "node:fs";

export class ProcessWatch {
  /** Everything seen across all operations. */
  readonly commandLines = new Set<string>();
  /** What was seen during the most recent operation only. */
  lastRun = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  async during<T>(operation: () => Promise<T>): Promise<T> {
    this.lastRun = new Set();
    this.timer ??= setInterval(() => this.sample(), 15);
    try {
      return await operation();
    } finally {
      this.stop();
      this.sample();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(): void {
    for (const pid of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
        if (cmdline) {
          this.commandLines.add(cmdline);
          this.lastRun.add(`${pid} ${cmdline}`);
        }
      } catch {
        // the process ended between readdir and read
      }
    }
  }
}

/** Every process whose parent chain leads to `root` (found through /proc/<pid>/stat). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(pid)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

export function findProcesses(match: (cmdline: string) => boolean): number[] {
  const found: number[] = [];
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (match(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "))) found.push(Number(pid));
    } catch {
      // gone
    }
  }
  return found;
}
