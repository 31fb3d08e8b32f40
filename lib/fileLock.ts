/**
 * An advisory lock beside a file, so two of this project's commands never edit it (or drive
 * one `bw` data file) at once. The lock is a listening Unix socket, `.<file>.lock`, that the
 * holder keeps open: the kernel closes it when the holder ends, however it ends (kill -9
 * included), and a socket nobody listens on refuses connections. So whether the holder still
 * runs is asked of the kernel, by connecting, not guessed from a pid.
 *
 * Why not a pid: the runner runs in a fresh PID namespace each time, where pids come back
 * (the runner itself is pid 7 every run), and two runs in two namespaces see different pids.
 * A pid lock left by a killed command looked held for ever, and a live one could look dead.
 * Why not a lock whose holder refreshes its mtime (proper-lockfile): a holder that is stopped
 * (^Z) or stalls past the timeout loses its lock to a second editor, and a killed one blocks
 * the next command until the timeout. Editors do not honour this lock; callers still check
 * the content before they replace it.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export class FileLocked extends Error {
  constructor(readonly file: string) {
    super(`${file} is being edited by another fetchml-keys command`);
  }
}

export function lockPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.lock`);
}

export interface LockOptions {
  /** The lock's own path (default: lockPath(file)). */
  lock?: string;
  /** How long to wait for a live holder to finish before FileLocked (default: not at all). */
  waitMs?: number;
}

/** Takes the lock or throws FileLocked; resolves to the function that releases it. */
export async function lockFile(file: string, options: LockOptions = {}): Promise<() => void> {
  const lock = options.lock ?? lockPath(file);
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (;;) {
    const release = await tryLock(lock);
    if (release) return release;
    if (Date.now() >= deadline) throw new FileLocked(file);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One attempt: the release function, or undefined while a live holder has the lock. */
async function tryLock(lock: string): Promise<(() => void) | undefined> {
  const dir = new OpenDir(path.dirname(lock));
  let server: net.Server | undefined;
  try {
    const name = shortName("lock");
    server = await listen(dir.address(name));
    // Only this account may connect (a stranger's connections could only fill the backlog).
    fs.chmodSync(dir.file(name), 0o600);
    const ino = fs.lstatSync(dir.file(name)).ino;
    try {
      for (;;) {
        try {
          // link() fails if anything has the name: exactly one taker wins, already listening.
          fs.linkSync(dir.file(name), lock);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const found = await probe(lock, dir);
        if (found.state === "alive") {
          await close(server);
          dir.close();
          return undefined;
        }
        if (found.state === "dead") removeIfSame(lock, found.ino);
      }
    } finally {
      fs.rmSync(dir.file(name), { force: true });
    }
    const held = server;
    return () => {
      // Only our own lock: never one a later holder took over.
      removeIfSame(lock, ino);
      held.close(() => dir.close());
    };
  } catch (e) {
    if (server) await close(server);
    dir.close();
    throw e;
  }
}

type Probe = { state: "alive" } | { state: "gone" } | { state: "dead"; ino: number };

/** Whether something listens on the lock, connecting through a short link to it. */
async function probe(lock: string, dir: OpenDir): Promise<Probe> {
  const ino = lstatOrUndefined(lock)?.ino;
  if (ino === undefined) return { state: "gone" };
  const name = shortName("probe");
  try {
    fs.linkSync(lock, dir.file(name));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { state: "gone" };
    // Another account's lock (fs.protected_hardlinks): it cannot be told dead, so it counts as held.
    if (code === "EPERM" || code === "EACCES") return { state: "alive" };
    throw e;
  }
  try {
    if (lstatOrUndefined(dir.file(name))?.ino !== ino) return { state: "gone" }; // replaced meanwhile: ask again
    return (await socketListening(dir.address(name))) ? { state: "alive" } : { state: "dead", ino };
  } finally {
    fs.rmSync(dir.file(name), { force: true });
  }
}

/**
 * Removes the lock if it is still the one seen (by inode): a dead holder's, or our own. A
 * lock another taker has made meanwhile is moved aside and put back (link fails if a third
 * has taken the name since, and that one wins).
 */
function removeIfSame(lock: string, ino: number): void {
  const aside = path.join(path.dirname(lock), shortName("stale"));
  try {
    fs.renameSync(lock, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (lstatOrUndefined(aside)?.ino !== ino) {
    try {
      fs.linkSync(aside, lock);
    } catch {
      // a third taker holds it now: it wins either way
    }
  }
  fs.rmSync(aside, { force: true });
}

/** Whether a Unix socket accepts a connection (refused or missing: nobody listens). */
export function socketListening(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(address);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      socket.destroy();
      // Anything but "nobody listens" (a full backlog, no permission) counts as alive.
      resolve(!(e.code === "ECONNREFUSED" || e.code === "ENOENT"));
    });
  });
}

function listen(address: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    // Connections are only ever probes: close each at once. unref(): a lock never keeps the process running.
    const server = net.createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen(address, () => {
      server.off("error", reject);
      server.unref();
      resolve(server);
    });
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A directory held open, so that its sockets are addressed as /proc/self/fd/<fd>/<name>: a
 * socket's address is limited to 107 bytes, a checkout's path is not.
 */
class OpenDir {
  private readonly fd: number;
  constructor(readonly path: string) {
    this.fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  }
  address(name: string): string {
    return `/proc/self/fd/${this.fd}/${name}`;
  }
  file(name: string): string {
    return path.join(this.path, name);
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}

function shortName(role: string): string {
  return `.fetchml-keys-${role}-${randomBytes(4).toString("hex")}`;
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}
