/**
 * The one answer to "does this user's key change now, and why?", pure. It feeds the key's
 * keeper (the only input whose change replaces a key), the access summary, the expiry warnings
 * and the audit record. Rotation happens through the keeper, whose text stays exactly the
 * user's counter until rotate-all or the age policy adds to it, so turning the policy on
 * rotates nothing by itself.
 */

const DAY_MS = 86_400_000;

/** What the last successful run recorded about a user's key (the public `users` output). */
export interface PreviousKey {
  fingerprint?: string;
  issuedAt?: string;
  autoRotations?: number;
  rotation?: number;
  keeper?: string;
}

export interface KeyPolicyInput {
  name: string;
  rotation: number;
  maxKeyAgeDays?: number;
}

export type KeyChange = "new" | "rotation" | "rotate-all" | "age";

export interface KeyPlan {
  /** The key's keeper: a new value issues a new key. */
  keeper: string;
  /** Rotations the age policy has made, this run's included. */
  autoRotations: number;
  /** Why the key changes in this run, as far as stack config and the last run tell. */
  change?: KeyChange;
  /** A preview line about a key close to its maximum age ("! frank: key expires in 5 days ..."). */
  warning?: string;
  /** Why an age rotation happens: the key's age and the maximum, in whole days. */
  age?: { days: number; max: number };
  /** The last run's record of this user's key, if any. */
  previous?: PreviousKey;
}

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
    const plan: KeyPlan = { keeper, autoRotations: auto, previous: before };
    const change = keyChange(before, user.rotation, keeper, auto);
    if (change) plan.change = change;
    if (change === "age" && before?.issuedAt && user.maxKeyAgeDays)
      plan.age = { days: Math.floor(keyAgeDays(before.issuedAt, now)), max: user.maxKeyAgeDays };
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
