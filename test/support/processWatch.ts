/**
 * Watches the processes a test started (descendants of the test process: the engine, its
 * plugins, the steps they run, bw, the test's own sshd and its sessions), never the rest of
 * the machine: counts and argv checks must not depend on what else runs there.
 */
import * as fs from "node:fs";

export class ProcessWatch {
  /** Every command line seen across all operations. */
  readonly commandLines = new Set<string>();
  /** "<pid> <command line>" seen during the most recent operation only. */
  lastRun = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly root = process.pid) {}

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
    for (const pid of descendants(this.root)) {
      const cmdline = commandLine(pid);
      if (cmdline) {
        this.commandLines.add(cmdline);
        this.lastRun.add(`${pid} ${cmdline}`);
      }
    }
  }
}

function commandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim() || undefined;
  } catch {
    return undefined; // ended between listing and reading
  }
}

/** Every process whose parent chain leads to `root` (found through /proc/<pid>/stat). */
export function descendants(root: number = process.pid): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
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

/** Processes this test started whose command line matches. */
export function findProcesses(match: (cmdline: string) => boolean, root: number = process.pid): number[] {
  return descendants(root).filter((pid) => {
    const cmdline = commandLine(pid);
    return cmdline !== undefined && match(cmdline);
  });
}

/**
 * Waits (up to `timeoutMs`, checking every `pollMs`; 0: as often as the event loop allows)
 * until `when()` holds, then SIGKILLs the engine running `up` on `stack` and everything under
 * it, as a crash or `kill -9` of the run would: how many processes it killed (0: the moment
 * never came).
 */
export async function killUpWhen(stack: string, when: () => boolean, pollMs = 0, timeoutMs = 60_000): Promise<number> {
  let killed = 0;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && killed === 0) {
    if (when()) {
      for (const engine of findProcesses((c) => c.includes(stack) && c.includes(" up "))) {
        for (const pid of [engine, ...descendants(engine)]) {
          try {
            process.kill(pid, "SIGKILL");
            killed++;
          } catch {
            // gone
          }
        }
      }
    }
    await new Promise((r) => (pollMs > 0 ? setTimeout(r, pollMs) : setImmediate(r)));
  }
  return killed;
}
