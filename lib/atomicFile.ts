/**
 * Replaces a file so that a reader, a crash or a kill at any instant sees either the old
 * content or the new one, never a mix: write a temp file in the same directory, fsync it,
 * rename it over the target, fsync the directory. A new file is created 0600 because it holds
 * keys or hashes; an existing file keeps its owner, its group and its mode bits (less any for
 * others), for root and any other account alike: where this account cannot give the new file
 * that owner and group, nothing is replaced (OwnerNotKeptError), never a file with a group
 * someone else is in. The content is written while the temp file is 0600 and this account's;
 * the owner and group are set next, the mode last: no moment gives the new content to anyone
 * the finished file would not.
 * Just before the rename the temp file is checked to be exactly the bytes meant (same inode as
 * written, same length, same SHA-256), and the file is read again: if someone changed or
 * replaced it since the caller read it, nothing is replaced and the caller merges again.
 * Where the file lives must be closed to other accounts (lib/safePath.ts; callers check).
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { AdminError } from "./adminError";
import { processAlive, processStartTime } from "./processAlive";
import { groupName, UnsafePathError, userName } from "./safePath";

/** The new file cannot have the old one's owner and group here; nothing was replaced. */
export class OwnerNotKeptError extends AdminError {}

export interface ReplaceOptions {
  /** What the file must still hold just before the rename (`undefined`: it must not exist). */
  expected?: string;
  /** Skip the check (files nobody else edits, such as this project's own records). */
  unchecked?: boolean;
  /** Keep the old file's mode bits as they are, others' too (files without secrets, e.g. a stack file). */
  keepMode?: boolean;
  /** Called with the temp file's path once it is complete, just before the check and rename (tests). */
  beforeRename?: (temp: string) => void;
  /** Creates the temp file (tests observe the mode it is born with); fs.openSync's signature. */
  open?: (file: string, flags: number, mode: number) => number;
}

export type ReplaceResult = "written" | "changed-meanwhile";

export function replaceFile(file: string, content: string, options: ReplaceOptions = {}): ReplaceResult {
  removeStaleTemps(file);
  const dir = path.dirname(file);
  const previous = lstatOrUndefined(file);
  // The caller hands the real path: a link here was put in its place since (never write through it).
  if (previous && !previous.isFile())
    throw new UnsafePathError(`${file}: is not a regular file (a link put in its place?); nothing was replaced`);
  const data = Buffer.from(content, "utf8");
  const { temp, fd } = openTemp(file, options.open);
  try {
    try {
      // The content while the file is 0600 and ours; then the owner and group, and only then
      // the mode: a group's bits never apply to any group but the file's own (nor to an empty
      // temp file someone could open early and read from later).
      fs.writeFileSync(fd, data);
      if (previous) keepOwner(fd, file, previous);
      // A server reading its config through its group keeps working; others never can read it.
      fs.fchmodSync(fd, previous ? previous.mode & (options.keepMode ? 0o7777 : 0o770) : 0o600);
      fs.fsyncSync(fd);
    } catch (e) {
      fs.rmSync(temp, { force: true });
      throw e;
    }
    options.beforeRename?.(temp);
    // Gone, not changed: another run writing this file took it for a killed writer's (from
    // another PID namespace the pid in its name names no process). Nothing was installed, so a
    // caller that merges merges again; others say what happened.
    if (!lstatOrUndefined(temp)) {
      if (!options.unchecked) return "changed-meanwhile";
      throw new UnsafePathError(
        `${file}: its temp file was removed before it was installed (by another run writing this file, which took it for a killed run's); nothing was replaced, run again`,
      );
    }
    // Installed only if it is exactly what was meant: the temp name still names the file written
    // through fd, and that file holds these bytes and nothing else.
    if (!isExactly(fd, temp, data)) {
      fs.rmSync(temp, { force: true });
      throw new UnsafePathError(`${file}: the new content was changed before it was installed; nothing was replaced`);
    }
    if (!options.unchecked && !stillAsRead(file, previous, options.expected)) {
      fs.rmSync(temp, { force: true });
      return "changed-meanwhile";
    }
    fs.renameSync(temp, file);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw e;
  } finally {
    fs.closeSync(fd);
  }
  syncDir(dir);
  return "written";
}

/** Gives the temp file the old file's owner and group, or refuses (a non-root account can give only its own uid and its groups). */
function keepOwner(fd: number, file: string, previous: fs.Stats): void {
  const temp = fs.fstatSync(fd);
  if (temp.uid === previous.uid && temp.gid === previous.gid) return;
  try {
    fs.fchownSync(fd, previous.uid, previous.gid);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // EINVAL: an id this user namespace does not map.
    if (code !== "EPERM" && code !== "EINVAL") throw e;
    throw new OwnerNotKeptError(
      ownerNotKept(file, userName(previous.uid), groupName(previous.gid), `this account (uid ${process.geteuid?.()})`),
    );
  }
}

/** Why a file was not replaced, and what fixes it (never a wider mode: the owner and group are what keep others out). */
export function ownerNotKept(file: string, owner: string, group: string, who: string): string {
  return (
    `${file} belongs to ${owner}, group ${group}; ${who} cannot give the new file that owner and group, ` +
    `so nothing was replaced (the file would have changed hands). Run this as root, or as ${owner} with ${group} among its groups`
  );
}

export interface CreateOptions {
  /** Called with the temp file's path once it is complete, just before it is linked in (tests). */
  beforeLink?: (temp: string) => void;
}

/**
 * Creates a NEW file holding exactly this content, 0600 and this account's, all at once: the
 * content goes into a temp file beside it (O_EXCL|O_NOFOLLOW, 0600), synced, then link()ed to
 * the name, which fails if anything at all is there (a file, a link, a dangling link); nothing
 * found there is ever adopted, written through or replaced. For a file handed to someone, in a
 * directory other accounts may write to (such as /tmp): unlike replaceFile, nothing is taken
 * from whatever is at the name. Throws EEXIST (the errno error) when the name is taken.
 */
export function createNewFile(file: string, content: string, options: CreateOptions = {}): void {
  // A killed earlier try (kill -9 between write and link) left its temp, holding the content;
  // only this account's own are taken away (the directory may be a shared /tmp).
  removeStaleTemps(file, process.geteuid?.());
  const data = Buffer.from(content, "utf8");
  const { temp, fd } = openTemp(file);
  try {
    fs.fchmodSync(fd, 0o600); // a umask such as 0277 would leave it unwritable; never wider
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    options.beforeLink?.(temp);
    if (!isExactly(fd, temp, data))
      throw new UnsafePathError(`${file}: the new content was changed before it was installed; nothing was written there`);
    fs.linkSync(temp, file);
    // Linked in: the name must be this very file (someone who can write the directory could
    // have swapped the temp name between the check and the link).
    const linked = lstatOrUndefined(file);
    const opened = fs.fstatSync(fd);
    if (!linked || linked.dev !== opened.dev || linked.ino !== opened.ino)
      throw new UnsafePathError(
        `${file}: another file was put in place of the one written; check what is there, it is not what this command wrote`,
      );
  } finally {
    fs.rmSync(temp, { force: true });
    fs.closeSync(fd);
  }
  syncDir(path.dirname(file));
}

/**
 * A temp file beside `file`, named for this writer (removeStaleTemps reads the pid back), born
 * 0600 (never readable by others, not even for an instant); O_EXCL|O_NOFOLLOW: a name planted
 * in advance, file or link, is an error, never opened.
 */
function openTemp(file: string, open: NonNullable<ReplaceOptions["open"]> = fs.openSync): { temp: string; fd: number } {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  return { temp, fd: open(temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600) };
}

function isExactly(fd: number, temp: string, data: Buffer): boolean {
  const opened = fs.fstatSync(fd);
  const named = lstatOrUndefined(temp);
  if (!named || named.dev !== opened.dev || named.ino !== opened.ino || opened.size !== data.length) return false;
  const back = Buffer.alloc(data.length);
  let done = 0;
  while (done < back.length) {
    const n = fs.readSync(fd, back, done, back.length - done, done);
    if (n === 0) return false;
    done += n;
  }
  return createHash("sha256").update(back).digest("hex") === createHash("sha256").update(data).digest("hex");
}

/** The file is the one found at the start (same device and inode, or still absent) and holds what the caller read. */
function stillAsRead(file: string, previous: fs.Stats | undefined, expected: string | undefined): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return previous === undefined && expected === undefined;
    if (code === "ELOOP") return false;
    throw e;
  }
  try {
    const now = fs.fstatSync(fd);
    if (!previous || now.dev !== previous.dev || now.ino !== previous.ino) return false;
    return fs.readFileSync(fd, "utf8") === expected;
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes a file if present; a missing file is not an error (delete is idempotent). */
export function removeFile(file: string): boolean {
  try {
    fs.unlinkSync(file);
    syncDir(path.dirname(file));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

export function readFileIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Temp files of writers that were killed mid-write (they may hold hashes): clean them up. */
function removeStaleTemps(file: string, onlyOwnedBy?: number): void {
  const dir = path.dirname(file);
  const pattern = new RegExp(`^\\.${escapeRegExp(path.basename(file))}(\\.bak)?\\.(\\d+)\\.[0-9a-f]{8}\\.tmp$`);
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const match = pattern.exec(name);
    if (!match) continue;
    const temp = path.join(dir, name);
    if (onlyOwnedBy !== undefined) {
      const st = lstatOrUndefined(temp);
      if (!st?.isFile() || st.uid !== onlyOwnedBy) continue;
    }
    if (writerGone(Number(match[2]), temp)) fs.rmSync(temp, { force: true });
  }
}

/**
 * The temp file's writer is no longer running: no process has its pid, or the one that has it
 * started after the temp file's content was written (a pid that recurred: the runner's steps start
 * in a fresh PID namespace each run). A second's margin for the clocks compared. A writer at work
 * in this PID namespace is never taken for gone; one in another run's namespace can be, and then
 * finds its temp file gone and merges again (replaceFile).
 */
function writerGone(pid: number, temp: string): boolean {
  if (!processAlive(pid)) return true;
  const started = processStartTime(pid);
  const written = lstatOrUndefined(temp)?.mtimeMs;
  return started !== undefined && written !== undefined && started > written + 1000;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}
