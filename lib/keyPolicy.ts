/**
 * Key rotation policy, pure: when a key is too old, the emergency "rotate everyone" switch,
 * and the warnings a preview prints. Rotation happens through the key's `rotation` keeper,
 * whose text stays exactly the user's counter until a policy adds to it, so turning the
 * policy on rotates nothing by itself.
 */

const DAY_MS = 86_400_000;

/** What the last successful run recorded about a user's key (public stack output). */
export interface PreviousKey {
  issuedAt?: string;
  autoRotations?: number;
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

/** Lines for keys past or near their maximum age, e.g. "! frank: key is 95 days old (max 90)". */
export function expiryWarning(
  name: string,
  previous: PreviousKey | undefined,
  maxKeyAgeDays: number | undefined,
  warnDays: number,
  now: Date,
): string | undefined {
  if (maxKeyAgeDays === undefined || !previous?.issuedAt) return undefined;
  const age = keyAgeDays(previous.issuedAt, now);
  if (age >= maxKeyAgeDays) return `! ${name}: key is ${Math.floor(age)} days old (max ${maxKeyAgeDays}); rotating it now`;
  const left = maxKeyAgeDays - age;
  if (left <= warnDays) return `! ${name}: key expires in ${Math.ceil(left)} days (${Math.floor(age)} of max ${maxKeyAgeDays}); the first up after that rotates it`;
  return undefined;
}

/** Injectable clock: FETCHML_KEYS_NOW (RFC 3339) for tests, else the real time. */
export function now(env: NodeJS.ProcessEnv = process.env): Date {
  const injected = env.FETCHML_KEYS_NOW;
  if (injected && !Number.isNaN(Date.parse(injected))) return new Date(injected);
  return new Date();
}
