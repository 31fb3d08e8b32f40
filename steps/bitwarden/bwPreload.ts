/**
 * Loaded into the pinned `bw` before bw itself (`node --require`, bwCommand). bw's storage takes
 * a file lock (proper-lockfile) around every read and write of its data file and releases it
 * without waiting for the release, so the next access, often within the same request, finds the
 * lock still there and sleeps proper-lockfile's 100 ms before asking again. Through `bw serve`,
 * 3 of 4 item creates paid it (about 110 ms against 10-20 ms; a first sync 2.2 s against 0.3 s).
 * Here bw asks every 5 ms instead, for as long in all as its own setting allows (about 12 s). What the
 * lock means is unchanged: any other `bw` on the same data file still waits its turn.
 */
import * as path from "node:path";

interface ProperLockfile {
  lock(file: string, options?: Record<string, unknown>): Promise<() => Promise<void>>;
}

/** bw's own setting (50 retries, 100 to 250 ms apart) waits about 12 s in all; so does this. */
const LOCK_RETRIES = { retries: 2_500, minTimeout: 5, maxTimeout: 5, factor: 1 };

/** The proper-lockfile bw loads (found from bw's own directory), its `lock` asking more often. */
function patchBwLock(): void {
  const bwDir = path.dirname(require.resolve("@bitwarden/cli/build/bw.js"));
  const lockfile = require(require.resolve("proper-lockfile", { paths: [bwDir] })) as ProperLockfile;
  const lock = lockfile.lock.bind(lockfile);
  lockfile.lock = (file, options = {}) => lock(file, { ...options, retries: LOCK_RETRIES });
}

patchBwLock();
