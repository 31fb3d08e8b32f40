/**
 * The target lines of the access plan (lib/accessPlan.ts) and each target's plan: entries an
 * up removes, drift (missing, differing or unchecked entries, a lost record, a reload owed, a
 * file other accounts can read),
 * moves and new targets, reasons not to go ahead (another stack's file, two targets that are
 * one), and the guard that refuses a run taking access from too many of a target's current
 * key holders, counting entries nobody declared too. Pure.
 *
 *   - legacy_admin: entry on /etc/fetchml/api.yaml is not declared by this stack (admin): up removes it
 */
import { isDeepStrictEqual } from "node:util";
import type { Access } from "../config/roles";
import type { AuthTarget } from "../config/targets";
import { type PreviousTarget, recordedResourceName } from "../program/outputs";
import { closedMode, openToOthers } from "../targets/io";
import type { EntryFacts, TargetReading } from "../targets/read";
import { labelLogin } from "../targets/spec";
import type { Explained, PlannedUser } from "./accessPlanUsers";
import type { KeyPlan } from "./keyPlan";
import { quoted } from "./printable";
import { UNFINISHED_REPLACEMENT } from "./targetRecord";

/** A target from stack config (config/targets.ts; its three names: targets/spec.ts) and what is on it now. */
export interface TargetInput extends Pick<AuthTarget, "resourceName"> {
  reading: TargetReading;
  /** The command run after each change of the file, and where it runs ("on this machine", "on fetchml@10.0.0.5"). */
  reload?: { command?: string; where: string };
  /** The user and group each write gives the file (a server's `owner`, `group`); null: kept as found. */
  ownership?: { owner: string | null; group: string | null };
}

export interface TargetPlan {
  resourceName: string;
  label: string;
  /** What the target is: its reading, else the last run's record of it. */
  identity?: string;
  /** Entries that leave the target (not preserved, not an active declared user). */
  removals: string[];
  /** Entries on the target now that this stack may remove (everything not preserved). */
  present: string[];
  generation: number;
  reloadPending: boolean;
  /**
   * The record is missing or unusable on a target this stack wrote last run: drift, repaired by
   * the next write. `generation` is what that run passed its write step, when known.
   */
  recordLost?: { generation?: number | null };
  /** Active users whose entry should already be right (present, same access, key unchanged). */
  verify: string[];
}

export interface TargetsInput {
  stack: string;
  users: readonly PlannedUser[];
  keys: ReadonlyMap<string, KeyPlan>;
  targets: readonly TargetInput[];
  previousTargets: readonly PreviousTarget[];
  preserve: readonly string[];
  /** Largest share (0..1) of a target's key holders one run may revoke. */
  maxRevokedShare: number;
}

export interface TargetChanges {
  /** In target order, then the targets the last run had and this one does not. */
  lines: string[];
  targets: Map<string, TargetPlan>;
  /** Why this run must not go ahead (another stack's file, two targets that are one). */
  conflicts: string[];
  /** The refusal when too many would lose access (unless the admin allows it). */
  massRevocation?: string;
}

/** `explained`: what the user lines already say (lib/accessPlanUsers.ts), so it is not said again. */
export function planTargets(input: TargetsInput, explained: Explained): TargetChanges {
  const declared = new Map(input.users.map((u) => [u.name, u]));
  const preserved = new Set(input.preserve);
  const activeNames = input.users.filter((u) => !u.suspended).map((u) => u.name);
  const targetLines: string[] = [];
  const conflicts: string[] = [];
  const refusals: string[] = [];
  const targets = new Map<string, TargetPlan>();
  const previousByName = new Map(input.previousTargets.map((t) => [recordedResourceName(t), t]));
  const seen = new Map<string, string>();

  for (const targetInput of input.targets) {
    const { resourceName, reading } = targetInput;
    const prevTarget = previousByName.get(resourceName);
    const identity = reading.identity ?? prevTarget?.identity;
    // One file named twice: spelled two ways, or reached both here and over SSH on this machine.
    const twin = [reading.identity, reading.place].map((key) => key && seen.get(key)).find(Boolean);
    if (twin) conflicts.push(`${reading.label} and ${twin} are the same file; name it once`);
    for (const key of [reading.identity, reading.place]) if (key) seen.set(key, reading.label);
    // This stack wrote this very target last run: its record must be there and readable.
    const managedLastRun = prevTarget !== undefined && reading.identity !== undefined && prevTarget.identity === reading.identity;
    const recordLost = managedLastRun && !reading.record;
    if (reading.recordProblem && !managedLastRun)
      conflicts.push(`${reading.label}: its record (the .<file>.fetchml-keys beside it): ${reading.recordProblem}`);
    if (reading.record && reading.record.stack !== input.stack) {
      conflicts.push(
        `${reading.label} is managed by stack ${reading.record.stack}; this stack (${input.stack}) will not touch it. ` +
          "Remove it from one of the two stacks (or destroy the other stack first)",
      );
    }
    const present = [...reading.entries.keys()].filter((n) => !preserved.has(n));
    const removals = present.filter((n) => !activeNames.includes(n));
    const plan: TargetPlan = {
      resourceName,
      label: reading.label,
      identity,
      removals,
      present,
      generation: reading.record?.generation ?? 0,
      reloadPending: reading.record?.reloadPending ?? false,
      verify: [],
      ...(recordLost ? { recordLost: { generation: prevTarget.generation } } : {}),
    };
    targets.set(resourceName, plan);
    if (prevTarget && reading.identity && prevTarget.identity !== reading.identity) {
      targetLines.push(
        `~ ${resourceName}: moves from ${prevTarget.label} to ${reading.label}: entries are written there first, then taken off ${prevTarget.label}`,
      );
      // Whatever still reads the old file loses every entry: a typo'd path must not pass silently.
      if (prevTarget.managed.length > 0 && 1 > input.maxRevokedShare) {
        refusals.push(
          `${prevTarget.managed.length} of ${prevTarget.managed.length} on ${prevTarget.label} (100%, the target moves): ${prevTarget.managed.join(", ")}`,
        );
      }
    }
    if (reading.identity && !reading.exists) targetLines.push(`+ ${reading.label}: does not exist yet: up creates it`);
    const reload = targetInput.reload;
    // A target the last run did not have gets every active user's hash (and its reload command runs).
    if (!prevTarget && input.previousTargets.length > 0) {
      targetLines.push(
        `+ ${reading.label}: new target: up writes the hashes of ${activeNames.length > 0 ? activeNames.join(", ") : "nobody"} there` +
          (reload?.command ? `, then runs ${quoted(reload.command)} ${reload.where}` : ""),
      );
    }
    const before = prevTarget?.reloadCommand;
    if (prevTarget && before !== undefined && (before ?? undefined) !== reload?.command) {
      targetLines.push(
        `~ ${reading.label}: reload command ${before === null ? "(none)" : quoted(before)} -> ` +
          `${reload?.command ? quoted(reload.command) : "(none)"}${reload?.command ? `: runs ${reload.where} after each change of the file` : ""}`,
      );
    }
    // The login decides as whom the reload command and every write run there.
    const login = labelLogin(reading.label);
    const loginBefore = prevTarget && labelLogin(prevTarget.label);
    if (login && loginBefore && login !== loginBefore)
      targetLines.push(
        `~ ${reading.label}: logs in as ${login} (was ${loginBefore}): the reload command and every write there run as ${login}`,
      );
    // Another address (or name) with the same host key and file: the same server to this tool,
    // but a machine cloned from it answers with that key too, and would get every hash.
    const addressBefore =
      loginBefore && prevTarget.identity === reading.identity && prevTarget.label.replace(`(${loginBefore}@`, `(${login}@`);
    if (addressBefore && addressBefore !== reading.label)
      targetLines.push(
        `~ ${reading.label}: was reached as ${prevTarget.label}; the same host key and file answer at the new address, so up ` +
          "writes every hash there as to the same server (a machine cloned from it answers with the same host key: make sure it is that server)",
      );
    const ownership = ownershipLine(reading.label, targetInput.ownership, prevTarget);
    if (ownership) targetLines.push(ownership);
    if (reading.unreachable) {
      targetLines.push(
        `! ${reading.label}: cannot be read now (${reading.unreachable}); what up changes there is known only when it connects`,
      );
      continue;
    }
    for (const entry of removals) {
      if (explained.removal.has(entry)) continue;
      const facts = reading.entries.get(entry)!;
      const why = declared.get(entry)?.suspended
        ? "although the user is suspended"
        : `is not declared by this stack${facts.admin === true ? " (admin)" : ""}`;
      targetLines.push(
        `- ${entry}: entry on ${reading.label} ${why}: up removes it${declared.has(entry) ? "" : "; list it in preserveEntries to keep it"}`,
      );
    }
    if (recordLost) {
      const why = reading.recordProblem ? `unusable (${reading.recordProblem.split(";")[0]})` : "missing";
      targetLines.push(`! ${reading.label}: its record (the .<file>.fetchml-keys beside it) is ${why}: up rewrites it`);
    }
    if (reading.record?.stack === input.stack && reading.record.replaced !== undefined) {
      targetLines.push(
        `! ${reading.label}: its record says a replacement of its write step ${UNFINISHED_REPLACEMENT}: up rewrites it, so that destroy and moves take this stack's entries off it`,
      );
    }
    // Drift exists only where this stack wrote before; a target it takes on gets every entry anyway.
    const managedHere = reading.record?.stack === input.stack || recordLost;
    for (const user of managedHere ? input.users : []) {
      if (user.suspended) continue;
      const facts = reading.entries.get(user.name);
      if (!facts) {
        if (!explained.addition.has(user.name)) targetLines.push(`+ ${user.name}: entry missing on ${reading.label}: up restores it`);
      } else if (!explained.access.has(user.name) && !sameAccess(facts, user.access)) {
        targetLines.push(`~ ${user.name}: entry on ${reading.label} differs from stack config: up restores it`);
      } else if (!input.keys.get(user.name)?.change && !explained.addition.has(user.name) && !explained.access.has(user.name)) {
        plan.verify.push(user.name);
      }
    }
    if (openToOthers(reading.mode))
      targetLines.push(
        `! ${reading.label}: its mode ${reading.mode!.toString(8)} lets every account on its machine read it, and so every hash: up takes that away (mode ${closedMode(reading.mode!)})`,
      );
    if (plan.reloadPending)
      targetLines.push(`! ${reading.label}: a reload is still owed (the last one failed or was cut short): up runs it`);
    if (present.length > 0 && removals.length / present.length > input.maxRevokedShare) {
      refusals.push(
        `${removals.length} of ${present.length} on ${reading.label} (${percent(removals.length / present.length)}): ${removals.join(", ")}`,
      );
    }
  }
  const current = new Set(input.targets.map((t) => t.resourceName));
  for (const old of input.previousTargets) {
    if (current.has(recordedResourceName(old))) continue;
    targetLines.push(
      `- ${old.label}: no longer in stack config: up takes ${old.managed.length} entries off it${old.managed.length ? ` (${old.managed.join(", ")})` : ""}`,
    );
    if (old.managed.length > 0 && 1 > input.maxRevokedShare)
      refusals.push(`${old.managed.length} of ${old.managed.length} on ${old.label} (100%): ${old.managed.join(", ")}`);
  }

  const changes: TargetChanges = { lines: targetLines, targets, conflicts };
  if (refusals.length > 0) {
    changes.massRevocation =
      `refusing to take access from more than ${percent(input.maxRevokedShare)} of a target's key holders: ${refusals.join("; ")}. ` +
      "Nothing was changed. If this is intended, run again with --allow-mass-revocation (FETCHML_KEYS_ALLOW_MASS_REVOCATION=1)";
  }
  return changes;
}

/**
 * Who the file is given to on each write decides who reads the hashes (its mode is kept: a
 * group may read a 0640 file). A change, old -> new; and where there is nothing to compare
 * with (a first run, a new target, a record from 1.0.0, which did not record it), the
 * ownership this run sets, if any.
 */
function ownershipLine(label: string, now: TargetInput["ownership"], before: PreviousTarget | undefined): string | undefined {
  const is = showOwnership(now?.owner ?? null, now?.group ?? null);
  const why = `each write gives the file to ${is}, its mode kept: whoever that lets read it reads the hashes`;
  if (before?.owner === undefined || before.group === undefined) {
    if (now?.owner == null) return undefined;
    return `+ ${label}: owner ${is}${before ? " (not recorded by the last run)" : ""}: ${why}`;
  }
  const was = showOwnership(before.owner, before.group);
  if (was === is) return undefined;
  return now?.owner == null
    ? `~ ${label}: owner ${was} -> (kept as found): writes no longer change it`
    : `~ ${label}: owner ${was} -> ${is}: ${why}`;
}

function showOwnership(owner: string | null, group: string | null): string {
  return owner === null ? "(kept as found)" : group === null ? owner : `${owner}:${group}`;
}

/** The entry's public fields as on the target equal what stack config wants. */
function sameAccess(facts: EntryFacts, access: Access): boolean {
  return isDeepStrictEqual({ admin: facts.admin, roles: facts.roles, permissions: facts.permissions }, access);
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}
