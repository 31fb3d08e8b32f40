/**
 * The user lines of the access plan (lib/accessPlan.ts): who gets a new key, is revoked,
 * suspended, restored, changes role, access, delivery or vault collections, or has a key
 * rotated and why; and what those lines already explain, so a target line does not say it
 * twice. Pure.
 *
 *   + dave (analyst): new key            - erin: access revoked         ~ bob: key rotated (rotation 1 -> 2)
 */
import { type Access, resolveAccess, type Role } from "../config/roles";
import type { Delivery } from "../config/settings";
import type { PreviousUser } from "../program/outputs";
import type { KeyPlan } from "./keyPlan";

export interface PlannedUser {
  name: string;
  role: string;
  access: Access;
  delivery: Delivery;
  suspended: boolean;
  /** A Bitwarden user's vault collections. */
  collectionIds?: readonly string[];
}

export interface UsersInput {
  users: readonly PlannedUser[];
  keys: ReadonlyMap<string, KeyPlan>;
  previousUsers: ReadonlyMap<string, PreviousUser>;
}

/** Users whose change the user lines already say: a target line about them would say it twice. */
export interface Explained {
  removal: Set<string>;
  addition: Set<string>;
  access: Set<string>;
}

export interface UserChanges {
  /** Sorted by user name; each user's lines in the order they happen. */
  lines: string[];
  explained: Explained;
  /** Vault collections that hold several users' items (said last in the plan). */
  shared: string[];
}

export function planUserChanges(input: UsersInput): UserChanges {
  const declared = new Set(input.users.map((u) => u.name));
  const userLines = new Map<string, string[]>();
  const say = (name: string, line: string) => userLines.set(name, [...(userLines.get(name) ?? []), line]);
  const explained: Explained = { removal: new Set<string>(), addition: new Set<string>(), access: new Set<string>() };

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
          `+ ${user.name}: key goes to the vault, collections ${bracket(user.collectionIds)} (an existing item of the user's name is used only if it is in these collections, and then cleared first)`,
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
  const shared = [...holders]
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
  const lines = [...userLines.keys()].sort().flatMap((n) => userLines.get(n)!);
  return { lines, explained, shared };
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

function rotationReason(key: KeyPlan): string {
  if (key.age) return `${key.age.days} days old, max ${key.age.max}`;
  if (key.change === "age") return "maximum age reached";
  if (key.rotation) return `rotation ${key.rotation.from} -> ${key.rotation.to}`;
  return "rotate-all";
}
