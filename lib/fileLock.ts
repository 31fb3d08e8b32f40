/**
 * An advisory lock beside a file (`.<file>.lock`, holding the holder's pid), so two of this
 * project's commands never edit it at once: created with O_EXCL (exactly one creator wins), and
 * taken over only from a holder that no longer runs (a killed command leaves its lock behind).
 * Editors do not honour it; callers still check the content before they replace it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { processAlive } from "./processAlive";

export class FileLocked extends Error {
  constructor(
    readonly file: string,
    readonly holder: number,
  ) {
    super(`${file} is being edited by another fetchml-keys command (pid ${holder})`);
  }
}

export function lockPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.lock`);
}

/** Takes the lock or throws FileLocked; returns the function that releases it. */
export function lockFile(file: string): () => void {
  const lock = lockPath(file);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(lock, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return () => {
        // Only our own lock: never one a later holder took over after ours was judged stale.
        if (readHolder(lock) === process.pid) fs.rmSync(lock, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = readHolder(lock);
    // A lock just created may not hold its pid yet: only a readable pid of a dead process is stale.
    if (attempt >= 1 || holder === undefined || processAlive(holder)) throw new FileLocked(file, holder ?? 0);
    // Stale: rename it away, then make sure what was moved is the dead holder's lock and not
    // one another taker has just created (that one is put back, and it wins).
    const stale = `${lock}.${process.pid}.stale`;
    try {
      fs.renameSync(lock, stale);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      continue;
    }
    const moved = readHolder(stale);
    if (moved !== holder) {
      try {
        fs.linkSync(stale, lock);
      } catch {
        // a third taker holds it now: it wins either way
      }
      fs.rmSync(stale, { force: true });
      throw new FileLocked(file, moved ?? 0);
    }
    fs.rmSync(stale, { force: true });
  }
}

function readHolder(lock: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(lock, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
