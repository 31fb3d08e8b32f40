/** A file's owner, group and mode over time, for the tests that prove a write never gives wider access than its result. */
import * as fs from "node:fs";

/** A file's owner, group, mode bits (and size, where recorded), as the tests compare them. */
export interface FileState {
  op?: string;
  uid: number;
  gid: number;
  mode: number;
  size?: number;
}

/**
 * The states that give someone access the final file does not: each recorded state must be
 * private to its writer (or the final owner), or the final owner and group with no wider mode.
 */
export function neverWider(states: FileState[], final: FileState, writer: number): FileState[] {
  return states.filter((s) => {
    const privateToOne = (s.mode & 0o077) === 0 && (s.uid === writer || s.uid === final.uid);
    const asFinal = s.uid === final.uid && s.gid === final.gid && (s.mode & ~final.mode & 0o777) === 0;
    return !privateToOne && !asFinal;
  });
}

export function stateOf(file: string): FileState {
  const s = fs.statSync(file);
  return { uid: s.uid, gid: s.gid, mode: s.mode & 0o7777 };
}
