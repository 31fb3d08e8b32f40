/**
 * Replaces a file so that a reader, a crash or a kill at any instant sees either the old
 * content or the new one, never a mix: write a temp file in the same directory, fsync it,
 * rename it over the target, fsync the directory. A new file is created 0600 because it holds
 * keys or hashes; an existing file keeps its mode bits (less any for others) and its owner.
 * Just before the rename the file is read again: if someone changed it since the caller read
 * it, nothing is replaced and the caller merges again.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { processAlive } from "./processAlive";

export interface ReplaceOptions {
  /** What the file must still hold just before the rename (`undefined`: it must not exist). */
  expected?: string;
  /** Skip the check (files nobody else edits, such as this project's own records). */
  unchecked?: boolean;
  /** Keep the old file's mode bits as they are, others' too (files without secrets, e.g. a stack file). */
  keepMode?: boolean;
  /** Called with the temp file's path once it is complete, just before the check and rename (tests). */
  beforeRename?: (temp: string) => void;
}

export type ReplaceResult = "written" | "changed-meanwhile";

export function replaceFile(file: string, content: string, options: ReplaceOptions = {}): ReplaceResult {
  removeStaleTemps(file);
  const dir = path.dirname(file);
  const previous = statOrUndefined(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    // A server reading its config through its group keeps working; others never can read it.
    fs.fchmodSync(fd, previous ? previous.mode & (options.keepMode ? 0o7777 : 0o770) : 0o600);
    if (previous && process.getuid?.() === 0) fs.fchownSync(fd, previous.uid, previous.gid);
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    options.beforeRename?.(temp);
    if (!options.unchecked && readFileIfExists(file) !== options.expected) {
      fs.rmSync(temp, { force: true });
      return "changed-meanwhile";
    }
    fs.renameSync(temp, file);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw e;
  }
  syncDir(dir);
  return "written";
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
function removeStaleTemps(file: string): void {
  const dir = path.dirname(file);
  const pattern = new RegExp(`^\\.${escapeRegExp(path.basename(file))}(\\.bak)?\\.(\\d+)\\.[0-9a-f]{8}\\.tmp$`);
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const match = pattern.exec(name);
    if (match && !processAlive(Number(match[2]))) fs.rmSync(path.join(dir, name), { force: true });
  }
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

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}
