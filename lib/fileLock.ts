/**
 * An advisory lock beside a file, so two of this project's commands never edit it (or drive
 * one `bw` data file) at once. The lock is a directory, `.<file>.lock/`, where each command
 * that wants it binds a Unix socket of its own (a random name) and keeps listening on it while
 * it holds or asks. The kernel closes the socket when its command ends, however that ends
 * (kill -9 included), and a socket nobody listens on refuses connections: whether a command
 * still runs is asked of the kernel, by connecting, never guessed from a pid.
 *
 * Taking it: listen on our socket, put it in place under its name, then look at every other
 * socket there. Any that answers means another command holds the lock or is taking it: we
 * remove ours and are refused. Two that ask at the same moment may both be refused, never both
 * admitted (each looks only after it has announced itself, so the later of the two always sees
 * the earlier). A socket that refuses is a dead command's: anyone removes it (its random name
 * is never made again).
 *
 * Why not a pid: the runner runs in a fresh PID namespace each time, where pids come back
 * (the runner itself is pid 7 every run), and two runs in two namespaces see different pids.
 * Why not one socket at a fixed name, cleared when stale: removing a name cannot be made
 * conditional on what it still names, so a slow cleaner can remove a live lock. Why not a lock
 * whose holder refreshes its mtime (proper-lockfile): a holder that is stopped (^Z) loses its
 * lock to a second editor. Why not flock(2): Node has no binding for it, and holding one
 * through util-linux `flock` costs two processes per lock. Editors do not honour this lock;
 * callers still check the content before they replace it.
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
  /** The lock directory's own path (default: lockPath(file)). */
  lock?: string;
  /** How long to wait for a live holder to finish before FileLocked (default: not at all). */
  waitMs?: number;
  /** Stops the wait early (FileLocked) once aborted: whoever wanted the lock no longer does. */
  signal?: AbortSignal;
}

/** Takes the lock or throws FileLocked; resolves to the function that releases it. */
export async function lockFile(file: string, options: LockOptions = {}): Promise<() => void> {
  const lock = options.lock ?? lockPath(file);
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (;;) {
    const release = await tryLock(lock);
    if (release) return release;
    if (Date.now() >= deadline || options.signal?.aborted) throw new FileLocked(file);
    // Jittered: two commands that refused each other do not meet again at the same moment.
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 150));
  }
}

/** One attempt: the release function, or undefined while another command holds (or takes) the lock. */
async function tryLock(lock: string): Promise<(() => void) | undefined> {
  const dir = openLockDir(lock);
  const ours = randomBytes(8).toString("hex");
  // Bound and listening under a pending name first, then renamed: a plain name is there only
  // while its command listens (or after it died), so one that refuses is surely dead and may be
  // removed. (Between bind and listen a socket refuses too: a name made at bind could be taken
  // for dead and removed, later, from under a command that holds the lock by then.)
  const pending = `.${ours}`;
  let server: net.Server | undefined;
  const refuse = async () => {
    fs.rmSync(dir.file(ours), { force: true });
    if (server) await close(server);
    dir.close();
    return undefined;
  };
  try {
    server = await listen(dir.address(pending));
    fs.chmodSync(dir.file(pending), 0o600); // only this account may connect
    fs.renameSync(dir.file(pending), dir.file(ours));
  } catch (e) {
    // Removed before it listened by a taker that took it for a dead one's: refused, ask again.
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return refuse();
    await refuse();
    throw e;
  }
  try {
    for (const name of fs.readdirSync(dir.path)) {
      if (name === ours) continue;
      const live = await socketListening(dir.address(name));
      // Another command holds the lock or is taking it (it will see ours and give way, or both do).
      if (live && !name.startsWith(".")) return refuse();
      // A command that ended without releasing (killed): its random name is never made again.
      if (!live) fs.rmSync(dir.file(name), { force: true, recursive: true });
    }
  } catch (e) {
    await refuse();
    throw e;
  }
  const held = server;
  return () => {
    fs.rmSync(dir.file(ours), { force: true });
    held.close(() => dir.close());
  };
}

/** The lock directory, made if missing (0700, ours) and held open; a lock file of 1.0.0's kind (a pid in a file) is replaced. */
function openLockDir(lock: string): LockDir {
  for (;;) {
    try {
      fs.mkdirSync(lock, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const st = fs.lstatSync(lock, { throwIfNoEntry: false });
    if (st?.isFile()) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    if (!st?.isDirectory())
      throw new Error(`${lock}: not the lock directory this tool makes; remove it once no fetchml-keys command is running`);
    // Whoever can change the directory can remove a holder's socket, or plant one that answers.
    const uid = process.geteuid?.() ?? 0;
    if ((st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0)
      throw new Error(
        `${lock}: the lock directory belongs to uid ${st.uid} (mode ${(st.mode & 0o777).toString(8)}); only this account or root may own it, ` +
          "closed to others: remove it once no fetchml-keys command is running, and keep the directory it is in closed to other accounts",
      );
    return new LockDir(lock);
  }
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
      // Only "nobody listens" is dead: a full backlog or no permission counts as alive.
      resolve(!(e.code === "ECONNREFUSED" || e.code === "ENOENT" || e.code === "ENOTSOCK"));
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

/** A socket's address is limited to 107 bytes: past that, through the directory held open (/proc/self/fd/N/name). */
const MAX_ADDRESS = 100;

class LockDir {
  private readonly fd: number;
  constructor(readonly path: string) {
    this.fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  }
  address(name: string): string {
    const plain = this.file(name);
    return Buffer.byteLength(plain) <= MAX_ADDRESS ? plain : `/proc/self/fd/${this.fd}/${name}`;
  }
  file(name: string): string {
    return path.join(this.path, name);
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}
