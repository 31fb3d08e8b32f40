/**
 * Replaces a file so that a reader, a crash or a kill at any instant sees either the old
 * content or the new one, never a mix: write a temp file in the same directory, fsync it,
 * rename it over the target, fsync the directory. Files are created 0600 because they hold
 * keys or hashes; an existing owner is kept when the process may set it.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { processAlive } from "./processAlive";

export interface WriteOptions {
  /** Keep the replaced version at `<file>.bak` (also 0600). */
  backup?: boolean;
}

export function writeFileAtomic(file: string, content: string, options: WriteOptions = {}): void {
  removeStaleTemps(file);
  const previous = statOrUndefined(file);
  if (options.backup && previous) {
    replaceWith(`${file}.bak`, fs.readFileSync(file), previous);
  }
  replaceWith(file, Buffer.from(content, "utf8"), previous);
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

function replaceWith(file: string, data: Buffer, owner: fs.Stats | undefined): void {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    fs.fchmodSync(fd, 0o600); // the umask cannot widen it, but make the intent explicit
    if (owner && process.getuid?.() === 0) fs.fchownSync(fd, owner.uid, owner.gid);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(temp, file);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw e;
  }
  syncDir(dir);
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
