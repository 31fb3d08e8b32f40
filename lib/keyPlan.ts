/**
 * The one answer to "does this user's key change now, and why?", pure. It feeds the key's
 * keeper (the only input whose change replaces a key), the access summary, the expiry warnings
 * and the audit record. Rotation happens through the keeper, whose text stays exactly the
 * user's counter until rotate-all or the age policy adds to it, so turning the policy on
 * rotates nothing by itself.
 */

import { z } from "zod";
import type { UserRecord } from "../program/outputs";

const DAY_MS = 86_400_000;

/** What the last successful run recorded about a user's key: its `users` output record (program/outputs.ts). */
export type PreviousKey = Partial<Pick<UserRecord, "fingerprint" | "issuedAt" | "autoRotations" | "rotation" | "keeper">>;

export interface KeyPolicyInput {
  name: string;
  rotation: number;
  maxKeyAgeDays?: number;
}

export const keyChangeSchema = z.enum(["new", "rotation", "rotate-all", "age"]);
export type KeyChange = z.infer<typeof keyChangeSchema>;

/**
 * One user's key in this run. Every consumer reads these fields (the key's keeper, the plan
 * lines, the drift checks, the audit record); none re-derives them from the keeper's text or
 * the last run's record.
 */
export const keyPlanSchema = z.object({
  /** The key's keeper: a new value issues a new key. */
  keeper: z.string(),
  /** Rotations the age policy has made, this run's included. */
  autoRotations: z.int().min(0),
  /** Why the key changes in this run, as far as stack config and the last run tell (absent: it stays). */
  change: keyChangeSchema.optional(),
  /** For a `rotation` change: the user's counter at the last run and now. */
  rotation: z.object({ from: z.int(), to: z.int() }).optional(),
  /** For an `age` change: the key's age and the maximum, in whole days. */
  age: z.object({ days: z.int(), max: z.int() }).optional(),
  /** A preview line about a key close to its maximum age ("! frank: key expires in 5 days ..."). */
  warning: z.string().optional(),
  /** The last run's key: its public fingerprint and when it was issued (absent: none recorded). */
  fingerprint: z.string().optional(),
  issuedAt: z.string().optional(),
});
export type KeyPlan = z.infer<typeof keyPlanSchema>;

export function planKeys(
  users: readonly KeyPolicyInput[],
  rotateAll: number,
  previous: ReadonlyMap<string, PreviousKey>,
  now: Date,
  warnDays: number,
): Map<string, KeyPlan> {
  const plans = new Map<string, KeyPlan>();
  for (const user of users) {
    const before = previous.get(user.name);
    const auto = autoRotations(before, user.maxKeyAgeDays, now);
    const keeper = rotationKeeper(user.rotation, rotateAll, auto);
    const plan: KeyPlan = { keeper, autoRotations: auto };
    const change = keyChange(before, user.rotation, keeper, auto);
    if (change) plan.change = change;
    if (change === "rotation") plan.rotation = { from: before?.rotation ?? 0, to: user.rotation };
    if (change === "age" && before?.issuedAt && user.maxKeyAgeDays)
      plan.age = { days: Math.floor(keyAgeDays(before.issuedAt, now)), max: user.maxKeyAgeDays };
    if (before?.issuedAt) plan.issuedAt = before.issuedAt;
    if (before?.fingerprint) plan.fingerprint = before.fingerprint;
    const warning = expiryWarning(user.name, before, user.maxKeyAgeDays, warnDays, now);
    if (warning) plan.warning = warning;
    plans.set(user.name, plan);
  }
  return plans;
}

function keyChange(before: PreviousKey | undefined, rotation: number, keeper: string, auto: number): KeyChange | undefined {
  if (!before?.fingerprint) return "new";
  if (before.keeper === keeper) return undefined;
  if (auto > (before.autoRotations ?? 0)) return "age";
  if (rotation !== (before.rotation ?? 0)) return "rotation";
  return "rotate-all";
}

export function keyAgeDays(issuedAt: string, now: Date): number {
  return (now.getTime() - Date.parse(issuedAt)) / DAY_MS;
}

/**
 * Rotations the age policy has made so far, plus one when the current key has reached its
 * maximum age. Stable from one run to the next while the key is younger than that.
 */
export function autoRotations(previous: PreviousKey | undefined, maxKeyAgeDays: number | undefined, now: Date): number {
  const made = previous?.autoRotations ?? 0;
  if (maxKeyAgeDays === undefined || !previous?.issuedAt || Number.isNaN(Date.parse(previous.issuedAt))) return made;
  return keyAgeDays(previous.issuedAt, now) >= maxKeyAgeDays ? made + 1 : made;
}

/** The key's keeper: the user's counter alone unless rotate-all or the age policy added to it. */
export function rotationKeeper(rotation: number, rotateAll: number, auto: number): string {
  return rotateAll === 0 && auto === 0 ? String(rotation) : `${rotation}.${rotateAll}.${auto}`;
}

/** A line for a key close to its maximum age; a key past it is rotated (and said so) instead. */
export function expiryWarning(
  name: string,
  previous: PreviousKey | undefined,
  maxKeyAgeDays: number | undefined,
  warnDays: number,
  now: Date,
): string | undefined {
  if (maxKeyAgeDays === undefined || !previous?.issuedAt) return undefined;
  const age = keyAgeDays(previous.issuedAt, now);
  if (age >= maxKeyAgeDays) return undefined;
  const left = maxKeyAgeDays - age;
  if (left <= warnDays)
    return `! ${name}: key expires in ${Math.ceil(left)} days (${Math.floor(age)} of max ${maxKeyAgeDays}); the first up after that rotates it`;
  return undefined;
}

/**
 * When the key the run ends with was issued, for the audit record: the last run's time while it
 * is the same key (same fingerprint: a `--replace` the plan could not foresee changes it too),
 * else now.
 */
export function issuedAt(plan: KeyPlan, fingerprint: string, clock: Date): string {
  return plan.fingerprint === fingerprint && plan.issuedAt ? plan.issuedAt : isoSeconds(clock);
}

/** Injectable clock: FETCHML_KEYS_NOW (RFC 3339) for tests, else the real time. */
export function now(env: NodeJS.ProcessEnv = process.env): Date {
  const injected = env.FETCHML_KEYS_NOW;
  if (injected && !Number.isNaN(Date.parse(injected))) return new Date(injected);
  return new Date();
}

/** The clock as the audit record writes it: RFC 3339, UTC, whole seconds. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
