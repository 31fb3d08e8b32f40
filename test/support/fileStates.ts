/** A file's owner, group and mode over time, for the tests that prove a write never gives wider access than its result. */
import * as fs from "node:fs";
import * as path from "node:path";

/** The accounts of the non-root write tests: a writer whose primary group is shared (users, 100), and a service's account and group. */
export const WRITER = 4242;
export const SERVICE = 4243;
export const USERS = 100;

/** Files whose owner and group that writer cannot give a new file (with the groups it is in): every write to them must refuse. */
export const OWNER_NOT_KEPT = [
  { owner: SERVICE, group: SERVICE, mode: 0o660, groups: [USERS, SERVICE] }, // the service's file, writable through its group
  { owner: WRITER, group: SERVICE, mode: 0o640, groups: [USERS] }, // the writer's file, in a group it is not in
];

/** In `dir` (made traversable), a directory of the writer's holding server.yaml with "old\n": that file's path. */
export function writersServerFile(dir: string): string {
  fs.chmodSync(dir, 0o755);
  const srv = path.join(dir, "srv");
  fs.mkdirSync(srv);
  fs.chownSync(srv, WRITER, USERS);
  const file = path.join(srv, "server.yaml");
  fs.writeFileSync(file, "old\n");
  return file;
}

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
