/**
 * Reading and writing one auth config and its record, the same way for the program (which
 * only reads, at preview and at up) and for the steps (which write). Implementations:
 * local.ts (this machine) and ssh.ts (a FetchML server over SSH); open.ts picks one. This
 * module is what they share, so it imports neither.
 */
import { AdminError } from "../lib/adminError";

/** A target that cannot be used as it is (unreachable, a wrong host key, a path that is not a file): said to the admin as it is. */
export class TargetError extends AdminError {}

/** The two files of a target as they are now (`undefined`: absent). */
export interface TargetFiles {
  config?: string;
  record?: string;
  /**
   * Where the file is, whichever way it is reached: the machine's boot id and the file's
   * device and inode (for a file not made yet, its directory's and its name). A local target
   * and a server that is this very machine then compare equal (two names for one file).
   */
  place?: string;
  /** The config file's permission bits, when it is there: a write keeps them, less any for others. */
  mode?: number;
}

/** Whether a config file's mode gives other accounts any access to it (and so to every hash): a write takes that away. */
export function openToOthers(mode: number | undefined): boolean {
  return mode !== undefined && (mode & 0o007) !== 0;
}

/** The mode a write leaves an existing config file with, for messages: the owner's and group's bits (lib/atomicFile.ts, ssh.ts keep those). */
export function closedMode(mode: number): string {
  return (mode & 0o770).toString(8);
}

/** `place` from what `stat` says: "<boot id>:<dev>:<ino>", or for a missing file its directory's and "/<name>". */
export function placeOf(bootId: string, dev: number | string, ino: number | string, missingName?: string): string {
  return `${bootId.trim()}:${dev}:${ino}${missingName === undefined ? "" : `/${missingName}`}`;
}

export interface TargetIO {
  /** For messages: the target as configured. Never holds a secret. */
  readonly label: string;
  /** What the target really is, however it is spelled: the real path, and the host key over SSH. */
  identity(): Promise<string>;
  read(): Promise<TargetFiles>;
  /**
   * Replaces the config atomically, unless it no longer holds `expected` (someone changed it
   * since it was read): then nothing is written and the caller reads and merges again.
   */
  writeConfig(text: string, expected: string | undefined): Promise<"written" | "changed-meanwhile">;
  /** Writes (or with `undefined`, removes) the record. */
  writeRecord(text: string | undefined): Promise<void>;
  /** Runs the reload command, if any. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A reload that failed after the file was replaced: the file stays (it is what stack config
 * says), the target's record keeps the reload owed, and the next up runs it. One wording for
 * every target, so the runner can say what to run.
 */
export function reloadFailed(label: string, code: number | null, output: string): string {
  return `${label}: the new file is in place, but its reload command failed (exit ${code}): ${output}; the reload is owed until an up runs it again`;
}
