/**
 * What an up will change, in plain lines, from stack config, the last run's record and what
 * is on each target now (its reading). Pure, so every rule is tested without an engine. The
 * program prints these lines in every preview and up, the runner's `summary` collects them,
 * and the guard refuses a run that would take access from too many of a target's current key
 * holders, counting entries nobody declared too.
 *
 *   + dave (analyst): new key            - erin: access revoked         ~ bob: key rotated (rotation 1 -> 2)
 *   - legacy_admin: entry on /etc/fetchml/api.yaml is not declared by this stack (admin): up removes it
 */
import { isDeepStrictEqual } from "node:util";
import { type Access, resolveAccess, type Role } from "../config/roles";
import type { Delivery } from "../config/schema";
import type { AuthTarget } from "../config/targets";
import type { EntryFacts, TargetReading } from "../targets/read";
import { type ApiKeyEntry, entryDigest } from "./authSection";
import { type PreviousTarget, type PreviousUser, recordedResourceName, type SettingsOutput } from "../program/outputs";
import type { KeyPlan } from "./keyPlan";
import { nextGeneration } from "./targetRecord";

export interface PlannedUser {
  name: string;
  role: string;
  access: Access;
  delivery: Delivery;
  suspended: boolean;
  /** A Bitwarden user's vault collections. */
  collectionIds?: readonly string[];
}

/** A target from stack config (config/targets.ts; its three names: targets/spec.ts) and what is on it now. */
export interface TargetInput extends Pick<AuthTarget, "resourceName"> {
  reading: TargetReading;
  /** The command run after each change of the file, and where it runs ("on this machine", "on fetchml@10.0.0.5"). */
  reload?: { command?: string; where: string };
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

export interface AccessPlanInput {
  stack: string;
  users: readonly PlannedUser[];
  keys: ReadonlyMap<string, KeyPlan>;
  previousUsers: ReadonlyMap<string, PreviousUser>;
  targets: readonly TargetInput[];
  previousTargets: readonly PreviousTarget[];
  preserve: readonly string[];
  /** Largest share (0..1) of a target's key holders one run may revoke. */
  maxRevokedShare: number;
  /** This run's stack-wide settings, and the last run's (absent when it recorded none). */
  settings?: SettingsOutput;
  previousSettings?: SettingsOutput;
}

export interface AccessPlan {
  /** Sorted lines: users first (by name), then targets. */
  lines: string[];
  targets: Map<string, TargetPlan>;
  /** Why this run must not go ahead (another stack's file, two targets that are one). */
  conflicts: string[];
  /** The refusal when too many would lose access (unless the admin allows it). */
  massRevocation?: string;
}

export function planAccess(input: AccessPlanInput): AccessPlan {
  const declared = new Map(input.users.map((u) => [u.name, u]));
  const preserved = new Set(input.preserve);
  const userLines = new Map<string, string[]>();
  const say = (name: string, line: string) => userLines.set(name, [...(userLines.get(name) ?? []), line]);
  /** What the user lines already explain, so a target line does not say it twice. */
  const explained = { removal: new Set<string>(), addition: new Set<string>(), access: new Set<string>() };

  for (const user of input.users) {
    const prev = input.previousUsers.get(user.name);
    const key = input.keys.get(user.name)!;
    if (!prev || key.change === "new") {
      say(user.name, `+ ${user.name} (${describeAccess(user)}): new key${user.suspended ? ", suspended (no access until resumed)" : ""}`);
      explained.addition.add(user.name);
      explained.access.add(user.name);
      if (user.delivery === "bitwarden" && user.collectionIds?.length) {
        say(
          user.name,
          `+ ${user.name}: key goes to the vault, collections ${bracket(user.collectionIds)} (an existing item of the user's name is moved there and cleared first)`,
        );
      }
    } else {
      const wasSuspended = prev.status === "suspended";
      if (user.suspended && !wasSuspended) {
        say(user.name, `- ${user.name}: suspended (key kept)`);
        explained.removal.add(user.name);
      } else if (!user.suspended && wasSuspended) {
        say(user.name, `+ ${user.name}: access restored`);
        explained.addition.add(user.name);
      }
      const note = user.suspended ? " (suspended: no access until resumed)" : "";
      if (prev.role !== undefined && prev.role !== user.role) {
        say(user.name, `~ ${user.name}: ${prev.role} -> ${user.role}${note}`);
        explained.access.add(user.name);
      } else {
        const detail = accessDetail(prev, user.access);
        if (detail) {
          say(user.name, `~ ${user.name}: ${detail}${note}`);
          explained.access.add(user.name);
        }
      }
      if (prev.delivery !== undefined && prev.delivery !== user.delivery)
        say(user.name, `~ ${user.name}: delivery ${prev.delivery} -> ${user.delivery}`);
      const collections = user.collectionIds ?? [];
      if (prev.collectionIds !== undefined && !sameSet(prev.collectionIds ?? [], collections) && collections.length > 0) {
        say(
          user.name,
          `~ ${user.name}: vault collections ${bracket(prev.collectionIds ?? [])} -> ${bracket(collections)}: whoever can read ${bracket(collections)} can read ${user.name}'s key`,
        );
      }
      if (key.change) say(user.name, `~ ${user.name}: key rotated (${rotationReason(key)})`);
    }
    if (key.warning) say(user.name, key.warning);
  }
  // One collection holding several users' items: each of them reads the others' keys.
  const holders = new Map<string, string[]>();
  for (const user of input.users)
    for (const id of user.delivery === "bitwarden" ? (user.collectionIds ?? []) : [])
      holders.set(id, [...(holders.get(id) ?? []), user.name]);
  const sharedLines = [...holders]
    .filter(([, names]) => names.length > 1)
    .map(
      ([id, names]) =>
        `! vault collection ${id} holds the items of ${names.join(", ")}: whoever can read it reads all their keys ` +
        "(give each user a collection of their own: users.<name>.bitwarden.collectionIds)",
    );
  for (const [name, prev] of input.previousUsers) {
    if (declared.has(name) || !prev?.fingerprint) continue;
    say(name, `- ${name}: access revoked`);
    explained.removal.add(name);
  }

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
    if (reading.identity) {
      const twin = seen.get(reading.identity);
      if (twin) conflicts.push(`${reading.label} and ${twin} are the same file; name it once`);
      seen.set(reading.identity, reading.label);
    }
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
          (reload?.command ? `, then runs ${JSON.stringify(reload.command)} ${reload.where}` : ""),
      );
    }
    const before = prevTarget?.reloadCommand;
    if (prevTarget && before !== undefined && (before ?? undefined) !== reload?.command) {
      targetLines.push(
        `~ ${reading.label}: reload command ${before === null ? "(none)" : JSON.stringify(before)} -> ` +
          `${reload?.command ? JSON.stringify(reload.command) : "(none)"}${reload?.command ? `: runs ${reload.where} after each change of the file` : ""}`,
      );
    }
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

  const settingLines = settingsLines(input);
  const lines = [...[...userLines.keys()].sort().flatMap((n) => userLines.get(n)!), ...targetLines, ...settingLines, ...sharedLines];
  const plan: AccessPlan = { lines, targets, conflicts };
  if (refusals.length > 0) {
    plan.massRevocation =
      `refusing to take access from more than ${percent(input.maxRevokedShare)} of a target's key holders: ${refusals.join("; ")}. ` +
      "Nothing was changed. If this is intended, run again with --allow-mass-revocation (FETCHML_KEYS_ALLOW_MASS_REVOCATION=1)";
  }
  return plan;
}

/**
 * What changes stack-wide about where keys go and what users receive: entries that start or
 * stop being preserved (kept with their access, never checked), the vault organization, the
 * delivery directory, and the values in every user's ml config (the ml CLI sends the key to
 * apiUrl). Said only when the last run recorded its settings, so there is something to compare.
 */
function settingsLines(input: AccessPlanInput): string[] {
  const now = input.settings;
  const before = input.previousSettings;
  if (!now || !before) return [];
  const lines: string[] = [];
  const was = new Set(before.preserveEntries);
  const is = new Set(now.preserveEntries);
  for (const name of [...is].filter((n) => !was.has(n)).sort()) {
    const found = input.targets.filter((t) => t.reading.entries.has(name));
    lines.push(
      found.length > 0
        ? `! ${name}: now in preserveEntries: its entry stays, with its access, and is no longer checked, on ${found
            .map((t) => `${t.reading.label}${t.reading.entries.get(name)!.admin === true ? " (admin)" : ""}`)
            .join(", ")}`
        : `! ${name}: now in preserveEntries: an entry of that name is kept wherever it appears (none on the targets now)`,
    );
  }
  for (const name of [...was].filter((n) => !is.has(n)).sort())
    lines.push(`~ ${name}: no longer in preserveEntries: this stack manages (and removes) its entry`);
  if (before.bitwardenOrganization !== now.bitwardenOrganization) {
    lines.push(
      `~ vault organization ${before.bitwardenOrganization ?? "(none)"} -> ${now.bitwardenOrganization ?? "(none)"}: items are created in the new one, then removed from the old`,
    );
  }
  if (before.deliveryDir !== now.deliveryDir) {
    lines.push(
      `~ deliveryDir ${before.deliveryDir ?? "(none)"} -> ${now.deliveryDir ?? "(none)"}` +
        (now.deliveryDir ? `: direct users' ml configs (with their keys) are written there` : ": no more delivery files"),
    );
  }
  for (const field of ["apiUrl", "workerHost", "workerPort"] as const) {
    if (before.client[field] !== now.client[field]) {
      lines.push(
        `~ ml config ${field} ${JSON.stringify(before.client[field])} -> ${JSON.stringify(now.client[field])}: every user's ~/.ml/config.toml, ` +
          "where their ml CLI sends its key",
      );
    }
  }
  return lines;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

function bracket(ids: readonly string[]): string {
  return `[${ids.join(", ")}]`;
}

/** "analyst" for a plain preset; "analyst: jobs:create true" when stack config overrides it. */
function describeAccess(user: PlannedUser): string {
  const preset = resolveAccess(user.role as Role);
  const overrides = accessDetail({ admin: preset.admin, roles: preset.roles, permissions: preset.permissions }, user.access, false);
  return overrides ? `${user.role}: ${overrides}` : user.role;
}

function accessDetail(prev: PreviousUser, now: Access, arrows = true): string | undefined {
  const parts: string[] = [];
  const change = (from: unknown, to: unknown) => (arrows ? `${from} -> ${to}` : `${to}`);
  if (prev.admin !== undefined && prev.admin !== now.admin) parts.push(`admin ${change(prev.admin, now.admin)}`);
  if (prev.roles !== undefined && prev.roles.join(",") !== now.roles.join(","))
    parts.push(`roles ${change(`[${prev.roles}]`, `[${now.roles}]`)}`);
  if (prev.permissions !== undefined) {
    const perms = new Set([...Object.keys(prev.permissions), ...Object.keys(now.permissions)]);
    for (const perm of [...perms].sort()) {
      const from = Object.hasOwn(prev.permissions, perm) ? prev.permissions[perm] : undefined;
      const to = Object.hasOwn(now.permissions, perm) ? now.permissions[perm as keyof Access["permissions"]] : undefined;
      if (from !== to) parts.push(`${perm} ${change(from, to)}`);
    }
  }
  return parts.length > 0 ? parts.join(", ") : undefined;
}

/** The entry's public fields as on the target equal what stack config wants. */
function sameAccess(facts: EntryFacts, access: Access): boolean {
  return isDeepStrictEqual({ admin: facts.admin, roles: facts.roles, permissions: facts.permissions }, access);
}

function rotationReason(key: KeyPlan): string {
  if (key.age) return `${key.age.days} days old, max ${key.age.max}`;
  if (key.change === "age") return "maximum age reached";
  if (key.rotation) return `rotation ${key.rotation.from} -> ${key.rotation.to}`;
  return "rotate-all";
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/**
 * The target's record generation after this run's write: the same number while the target
 * is exactly what this stack wants (its entries, nothing else unpreserved, its record in
 * step, no reload owed), one more when it is not. The write step records it; so a hand edit
 * shows as a change until an up repairs it, and then never again. Null for a target not
 * reached now: its write step, once it reaches it, takes the one after the record's.
 */
export function targetGeneration(
  reading: TargetReading,
  wanted: ReadonlyMap<string, ApiKeyEntry>,
  preserve: readonly string[],
  stack: string,
  recordLost?: TargetPlan["recordLost"],
  clock: () => number = Date.now,
): number | null {
  if (reading.unreachable) return null;
  // The record this stack wrote last run is gone or broken: the generation must still change
  // (so the write step runs and rewrites it), so it follows on from what last run passed; when
  // last run did not reach the target either, seconds since 1970 differ from any generation counted to.
  if (recordLost) return nextGeneration(recordLost.generation ?? Math.floor(clock() / 1000));
  const record = reading.record;
  const generation = record?.generation ?? 0;
  const kept = new Set(preserve);
  const names = [...wanted.keys()].sort();
  const onTarget = [...reading.entries.keys()].filter((n) => !kept.has(n)).sort();
  const clean =
    record !== undefined &&
    record.stack === stack &&
    !record.reloadPending &&
    sameList([...record.managed].sort(), names) &&
    sameList(onTarget, names) &&
    names.every((n) => reading.entries.get(n)?.digest === entryDigest(wanted.get(n)));
  return clean ? generation : nextGeneration(generation);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
