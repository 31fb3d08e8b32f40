/**
 * A path only root and this user can redirect, checked the way sshd's StrictModes checks a
 * home directory: every directory consulted while resolving it (links followed, each link's
 * own directory included) must belong to root or to this user and be writable by no one else.
 * The directory that holds the file must be closed outright (the file, its record and its temp
 * files are created there); one further up may be a sticky directory such as /tmp, provided the
 * entry this path passes through belongs to root or this user (others cannot rename it there).
 *
 * Why: a run writes as whoever runs it, often root. If another account could change a directory
 * on the way, it could swap the file (or a parent) for a link while the run goes on, and the
 * run would write the hashes into a file of that account's choosing. Once every directory on
 * the way is closed to others, nothing another account does can change where a write lands.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { AdminError } from "./adminError";
import { parseJsonOr } from "./json";

export class UnsafePathError extends AdminError {}

/** Links followed before giving up, as the kernel does (ELOOP). */
const MAX_LINKS = 40;

/**
 * Throws UnsafePathError naming the first directory another account could change, its owner
 * and what to run. Stops quietly where the path does not exist (callers report that).
 */
export function assertSafePath(file: string, label: string, uid = process.geteuid?.() ?? 0, owners = ownersFromEnvironment()): void {
  for (const step of stepsOnTheWay(file, label)) checkDirectory(step, uid, label, owners);
}

/** Who vouches for the directories on the way to a path, and what else passes (openOnTheWay). */
export interface WayRule {
  /** The accounts whose directories no one else can change. */
  trusted: (uid: number) => boolean;
  /** The directory that holds the file may be a shared sticky one (createNewFile takes over no name). */
  stickyHolder?: boolean;
  /** A directory its group may write passes when that group is its owner's own, with only trusted accounts in it (untrustedGroup). */
  groupMayWrite?: boolean;
  /**
   * An owner this user namespace hides (only an ordinary admin's isolated run) passes: such a run
   * makes files only where that admin could anyway. Otherwise it is refused.
   */
  passHidden?: boolean;
  owners?: KnownOwners;
}

/**
 * The first directory on the way to `file` (links followed, each link's own directory included:
 * the walk assertSafePath makes) through which an account the rule does not trust could change
 * where the path leads, as "<dir> belongs to ..." or "<dir> is writable by ...", or undefined.
 * A directory others may write passes only when sticky, and the entry the path takes in it is a
 * trusted account's (or, with stickyHolder, it is the file's own directory).
 */
export function openOnTheWay(file: string, rule: WayRule): string | undefined {
  const owners = rule.owners ?? ownersFromEnvironment();
  for (const { dir, stat, entryPath, entry, holdsTarget } of stepsOnTheWay(file, file)) {
    const owner = ownerOf(dir, stat, owners);
    if (!owner) {
      if (rule.passHidden) continue;
      return `${dir} shows as owned by uid ${stat.uid} here (this run's user namespace hides its real owner)`;
    }
    if (!rule.trusted(owner.uid)) return `${dir} belongs to ${userName(owner.uid)}`;
    const groupProblem = stat.mode & 0o020 ? (rule.groupMayWrite ? untrustedGroup(owner, rule.trusted) : "") : undefined;
    if ((stat.mode & 0o002) === 0 && groupProblem === undefined) continue;
    const entryUid = entry && ownerOf(entryPath, entry, owners)?.uid;
    if (stat.mode & 0o1000 && (holdsTarget ? rule.stickyHolder : entryUid !== undefined && rule.trusted(entryUid))) continue;
    const who = stat.mode & 0o002 ? "every account" : `group ${groupName(owner.gid)}${groupProblem}`;
    return `${dir} is writable by ${who} (mode ${(stat.mode & 0o7777).toString(8)})`;
  }
  return undefined;
}

/**
 * For a NEW file that createNewFile makes (a key handed over): openOnTheWay for root and this
 * user, the file's own directory allowed to be a shared sticky one such as /tmp.
 */
export function newFileProblem(file: string, uid = process.geteuid?.() ?? 0, owners = ownersFromEnvironment()): string | undefined {
  return openOnTheWay(file, { trusted: (owner) => owner === 0 || owner === uid, stickyHolder: true, passHidden: true, owners });
}

/** One directory the path is resolved through, and the entry looked up in it (undefined: missing). */
interface Step {
  dir: string;
  stat: fs.Stats;
  /** The entry looked up in `dir`, by its path there. */
  entryPath: string;
  entry: fs.Stats | undefined;
  /** The file itself is created or replaced in this directory (no sticky exception). */
  holdsTarget: boolean;
}

/** The directories a path is resolved through, links followed (each link's own directory included). */
function* stepsOnTheWay(file: string, label: string): Generator<Step> {
  const pending = path.resolve(file).split("/").filter(Boolean);
  let dir = "/";
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === ".") continue;
    if (name === "..") {
      dir = path.dirname(dir);
      continue;
    }
    const entryPath = path.join(dir, name);
    const entry = lstatOrUndefined(entryPath);
    // The directory holding the file (or a link's target) admits no sticky exception; nor does
    // one whose entry is missing (another account could create it between check and use).
    yield { dir, stat: fs.statSync(dir), entryPath, entry, holdsTarget: pending.length === 0 };
    if (!entry) return;
    if (entry.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new UnsafePathError(`${label}: too many symbolic links on the way to ${file}`);
      const target = fs.readlinkSync(entryPath);
      if (path.isAbsolute(target)) dir = "/";
      pending.unshift(...target.split("/").filter(Boolean));
      continue;
    }
    if (pending.length > 0 && !entry.isDirectory()) return; // not a directory: the caller's error
    dir = entryPath;
  }
}

function checkDirectory({ dir, stat, entryPath, entry, holdsTarget }: Step, uid: number, label: string, owners: KnownOwners): void {
  const owner = ownerOf(dir, stat, owners);
  if (!owner) throw new UnsafePathError(`${label}: ${unmappedOwnerProblem(dir)}`);
  const entryUid = entry && ownerOf(entryPath, entry, owners)?.uid;
  if (entry && entryUid === undefined && (stat.mode & 0o022) !== 0) throw new UnsafePathError(`${label}: ${unmappedOwnerProblem(dir)}`);
  const problem = directoryProblem({ path: dir, uid: owner.uid, gid: owner.gid, mode: stat.mode }, entryUid, holdsTarget, uid, {
    user: userName,
    group: groupName,
  });
  if (problem) throw new UnsafePathError(`${label}: ${problem}`);
}

/**
 * The real owners of directories (and entries), as seen outside this run's user namespace,
 * where an ordinary user's isolated run cannot see them: scripts/isolated.sh looks them up
 * before it enters (ownersOnTheWay, through cli/owners.ts) for every path the stacks here name,
 * and passes them in FETCHML_KEYS_OWNERS. Each owner holds only for the same inode at the same
 * path: an inode number freed meanwhile (a file the run replaced) and given to another
 * account's new directory elsewhere vouches for nothing. Only this account sets its own
 * environment, so no other account can vouch for anything here.
 */
export type KnownOwners = Map<string, { uid: number; gid: number }>;

export const OWNERS_VARIABLE = "FETCHML_KEYS_OWNERS";

/** FETCHML_KEYS_OWNERS: what the lookup outside found, checked where it is read. */
const ownersSchema = z.array(
  z.object({ path: z.string(), dev: z.number().int(), ino: z.number().int(), uid: z.number().int(), gid: z.number().int() }),
);
type OwnerRecord = z.infer<typeof ownersSchema>[number];

const ownerKey = (at: string, stat: { dev: number; ino: number }) => `${stat.dev}:${stat.ino}:${at}`;

/**
 * Root, this user, or a system account (uid below 1000: a service's own, such as postgres), and a
 * directory its owner's own group may write (untrustedGroup): whose files may hold what a run
 * trusts (a CA certificate, a program it starts, a database socket). An owner an ordinary
 * admin's user namespace hides vouches for nothing.
 */
export function systemRule(uid = process.geteuid?.() ?? 0): WayRule {
  return { trusted: (owner) => owner === 0 || owner === uid || (owner < 1000 && owner !== 65534), groupMayWrite: true };
}

/**
 * The directories of a PATH (as `entry: why`) where another account could put a program that a
 * command found by name would then run as this user: one it may change by systemRule, one not
 * there yet that it could create, one it owns that is closed to this user now (it can open it
 * later), and an empty or relative entry (the current directory). Each entry is checked as the
 * kernel resolves it (links first, then `..`); each once, in PATH order.
 */
export function searchPathProblems(searchPath: string | undefined, rule: WayRule = systemRule()): string[] {
  const problems: string[] = [];
  for (const entry of new Set((searchPath ?? "").split(":"))) {
    if (!path.isAbsolute(entry)) {
      problems.push(
        `${JSON.stringify(entry)}: ${entry === "" || entry === "." ? "the current directory" : "under the current directory"}, wherever the run is`,
      );
      continue;
    }
    const resolved = resolvedEntry(entry, rule);
    if ("problem" in resolved) {
      if (resolved.problem) problems.push(`${entry}: ${resolved.problem}`);
      continue;
    }
    // A name in the directory, so the directory itself is the one that holds it (no sticky exception).
    const open = openOnTheWay(path.join(resolved.dir, "fetchml-keys-probe"), rule);
    if (open) problems.push(`${entry}: ${open}`);
  }
  return problems;
}

/** A PATH entry as the kernel resolves it, or why not (`problem` undefined: nothing can be started from it by this user, ever). */
function resolvedEntry(entry: string, rule: WayRule): { dir: string } | { problem: string | undefined } {
  try {
    return { dir: fs.realpathSync(entry) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      // Not there yet: the way to it decides. A `..` cannot be resolved as text (a link before it leads elsewhere).
      if (entry.split("/").includes("..")) return { problem: "has a `..` and does not resolve now, so where it leads cannot be checked" };
      return { dir: entry };
    }
    if (code !== "EACCES") throw e;
  }
  // A directory on the way is closed to this user: whoever owns it can open it later.
  const owners = rule.owners ?? ownersFromEnvironment();
  let at = "/";
  for (const name of path.resolve(entry).split("/").filter(Boolean)) {
    const next = path.join(at, name);
    try {
      fs.lstatSync(next);
    } catch {
      const owner = ownerOf(at, fs.lstatSync(at), owners);
      if (owner && rule.trusted(owner.uid)) return { problem: undefined };
      return {
        problem: owner ? `${at} belongs to ${userName(owner.uid)}, closed to you now: its owner can open it` : unmappedOwnerProblem(at),
      };
    }
    at = next;
  }
  return { problem: undefined };
}

/**
 * Why another account could replace this file, or undefined: its own owner and mode (writable
 * by nobody but its owner), then every directory on the way (openOnTheWay). A file that is not
 * there: undefined (whatever uses it fails, and says so).
 */
export function replaceableFile(file: string, rule: WayRule): string | undefined {
  let s: fs.Stats;
  try {
    s = fs.statSync(file);
  } catch {
    return undefined;
  }
  const owner = realOwner(file);
  if (!owner) return `${file} shows as owned by uid ${s.uid} here (this run's user namespace hides its real owner)`;
  if (!rule.trusted(owner.uid)) return `${file} belongs to ${userName(owner.uid)}`;
  if (s.mode & 0o022) return `${file} is writable by others, mode ${(s.mode & 0o7777).toString(8)}`;
  return openOnTheWay(file, rule);
}

/** A file's real owner (links followed), or undefined when this user namespace hides it and nobody looked it up outside. */
export function realOwner(file: string): { uid: number; gid: number } | undefined {
  const real = fs.realpathSync(file);
  return ownerOf(real, fs.lstatSync(real), ownersFromEnvironment());
}

/** The owner of a file, or undefined when this user namespace hides it and nobody looked it up outside. */
function ownerOf(at: string, stat: fs.Stats, owners: KnownOwners): { uid: number; gid: number } | undefined {
  if (!unmappedOwner(stat.uid)) return { uid: stat.uid, gid: stat.gid };
  return owners.get(ownerKey(at, stat));
}

/** Every directory and entry on the way to each file, with its owner: what FETCHML_KEYS_OWNERS holds. */
export function ownersOnTheWay(files: string[]): string {
  const seen = new Map<string, OwnerRecord>();
  const note = (at: string, s: fs.Stats) => seen.set(ownerKey(at, s), { path: at, dev: s.dev, ino: s.ino, uid: s.uid, gid: s.gid });
  for (const file of files) {
    try {
      for (const { dir, stat, entryPath, entry } of stepsOnTheWay(file, file)) {
        note(dir, stat);
        if (entry) note(entryPath, entry);
      }
    } catch {
      // A path that cannot be walked here is refused inside, where it is checked for real.
    }
  }
  return JSON.stringify([...seen.values()]);
}

export function ownersFromEnvironment(env: NodeJS.ProcessEnv = process.env): KnownOwners {
  const owners: KnownOwners = new Map();
  const parsed = ownersSchema.safeParse(parseJsonOr(env[OWNERS_VARIABLE] ?? "[]", undefined));
  // Unreadable: nothing is vouched for, and every hidden owner is refused with the reason.
  for (const r of parsed.success ? parsed.data : []) owners.set(ownerKey(r.path, r), { uid: r.uid, gid: r.gid });
  return owners;
}

export interface DirectoryFacts {
  path: string;
  uid: number;
  gid: number;
  mode: number;
}

/**
 * The rule itself, for a directory on the way to a file (here, or on a server over SSH): what
 * is wrong with it and what to change, or undefined. `entryUid`: the owner of the entry the
 * path passes through in it; `holdsTarget`: the file itself is created or replaced in it.
 */
export function directoryProblem(
  dir: DirectoryFacts,
  entryUid: number | undefined,
  holdsTarget: boolean,
  uid: number,
  names: { user: (uid: number) => string; group: (gid: number) => string },
): string | undefined {
  const trusted = (owner: number) => owner === 0 || owner === uid;
  if (!trusted(dir.uid)) {
    return (
      `${dir.path} belongs to ${names.user(dir.uid)}, not to ${uid === 0 ? "root" : `root or this user (uid ${uid})`}: ` +
      `that account could swap the file for a link while a run writes it. Make it ${uid === 0 ? "root's" : "yours or root's"} ` +
      `(chown ${uid === 0 ? "root" : uid} ${dir.path}; the server only needs to read the file) or run as that account`
    );
  }
  if ((dir.mode & 0o022) === 0) return undefined;
  const sticky = (dir.mode & 0o1000) !== 0;
  if (sticky && !holdsTarget && entryUid !== undefined && trusted(entryUid)) return undefined;
  const who = dir.mode & 0o002 ? "every account" : `group ${names.group(dir.gid)}`;
  const writable = `${dir.path} is writable by ${who} (mode ${(dir.mode & 0o7777).toString(8)})`;
  // A shared directory such as /tmp is meant to be writable: the fix is a directory of one's own in it.
  if (sticky)
    return (
      `${writable}, shared: another account could put its own file or link in it first. Keep the file in a ` +
      `directory of ${uid === 0 ? "root's" : "yours"} made there beforehand (mkdir -m 755 ${path.join(dir.path, "fetchml")}), ` +
      `not directly in ${dir.path}, and leave ${dir.path}'s mode as it is`
    );
  return `${writable}: another account could swap the file for a link while a run writes it. Close it: chmod go-w ${dir.path}`;
}

/**
 * An owner this process cannot see. In a user namespace that maps only some ids (an ordinary
 * user's isolated run maps just its own), root and every other account read alike as the
 * overflow uid: such a directory is neither known to be root's nor known to be someone else's.
 */
export function unmappedOwner(owner: number): boolean {
  if (owner !== readNumber("/proc/sys/kernel/overflowuid", 65534)) return false;
  return !uidMap().some(([inside, , count]) => owner >= inside && owner < inside + count);
}

function unmappedOwnerProblem(dir: string): string {
  return (
    `${dir} shows as owned by uid ${readNumber("/proc/sys/kernel/overflowuid", 65534)} here: this run is in a user namespace ` +
    "that maps only your own uid (an isolated run as an ordinary user), where root's files and every other account's look " +
    "alike. Real owners are looked up before a run enters it, for the local paths the stack files here name, when it is " +
    "started by bin/fetchml-keys, npm run or bin/fetchml-keys-isolated (scripts/isolated.sh); this path was not. Start it " +
    "one of those ways, with the path in the stack file"
  );
}

let uidMapCache: Array<[number, number, number]> | undefined;
function uidMap(): Array<[number, number, number]> {
  uidMapCache ??= (readText("/proc/self/uid_map") ?? "0 0 4294967295")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number, number]);
  return uidMapCache;
}

function readNumber(file: string, fallback: number): number {
  const n = Number(readText(file)?.trim());
  return Number.isInteger(n) ? n : fallback;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Missing, or not a path at all (a name too long): the caller's error to report.
    if (code === "ENOENT" || code === "ENOTDIR" || code === "ENAMETOOLONG") return undefined;
    throw e;
  }
}

/** "name (uid N)" for messages, or "uid N" for an id without a name. */
export function userName(uid: number): string {
  const name = lookup("/etc/passwd", uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

export function groupName(gid: number): string {
  const name = lookup("/etc/group", gid);
  return name ? `${name} (gid ${gid})` : `gid ${gid}`;
}

const ACCOUNT_FILES = { passwd: "/etc/passwd", group: "/etc/group" };

/**
 * Why a directory's group may not be trusted to write it, as words to append to "group <name>",
 * or undefined when it may: the group must be the directory owner's own (its primary group in
 * /etc/passwd, as postgres's is for /var/run/postgresql) and every account in it trusted: those
 * whose primary group it is, and those /etc/group lists. Only the owner's own group: accounts
 * from a directory service whose primary group some other group is cannot be listed here.
 */
export function untrustedGroup(
  owner: { uid: number; gid: number },
  trusted: (uid: number) => boolean,
  files = ACCOUNT_FILES,
): string | undefined {
  const accounts = rows(files.passwd);
  const account = accounts.find((a) => a[2] === String(owner.uid));
  if (account?.[3] !== String(owner.gid)) return `, not the group of ${account?.[0] ?? "uid"} (uid ${owner.uid})`;
  // Its members: those whose primary group it is (sshd's nogroup is nobody's too), and those
  // /etc/group lists.
  const primary = accounts.filter((a) => a[3] === String(owner.gid)).map((a) => a[0]);
  const group = rows(files.group).find((g) => g[2] === String(owner.gid));
  for (const name of [...primary, ...(group?.[3] ?? "").split(",").filter(Boolean)]) {
    const uid = accounts.find((a) => a[0] === name)?.[2];
    if (uid === undefined) return `, which ${name} (not in ${files.passwd}) is in`;
    if (!trusted(Number(uid))) return `, which ${name} (uid ${uid}) is in`;
  }
  return undefined;
}

/** The name of an id in /etc/passwd or /etc/group (for messages only). */
function lookup(file: string, id: number): string | undefined {
  return rows(file).find((r) => r[2] === String(id))?.[0];
}

/** The lines of /etc/passwd or /etc/group, split into fields (none when unreadable). */
function rows(file: string): string[][] {
  try {
    return fs
      .readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(":"));
  } catch {
    return [];
  }
}
