/**
 * random:index/randomPassword:RandomPassword as pulumi-random 4.21 behaves (its schema marks
 * every input replace-on-change): every input change replaces, no diff at all
 * when inputs equal the state, `result` secret, id "none", CSPRNG with uniform choice.
 */
import { randomInt } from "node:crypto";
import type * as provider from "@pulumi/pulumi/provider";
import { changedKeys, containsUnknown, isSecretValue, secret, unwrap } from "../shared/properties";

export const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";
const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";
const CLASSES = {
  lower: "abcdefghijklmnopqrstuvwxyz",
  upper: "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
  numeric: "0123456789",
} as const;

/** The inputs; all replace on change. */
export const INPUTS = [
  "length",
  "lower",
  "upper",
  "numeric",
  "number",
  "special",
  "minLower",
  "minUpper",
  "minNumeric",
  "minSpecial",
  "overrideSpecial",
  "keepers",
] as const;

type Props = Record<string, unknown>;

/** Fills the provider's defaults and reports invalid inputs, as the real check does. */
export function check(news: Props): provider.CheckResult {
  const inputs: Props = { ...news };
  for (const flag of ["lower", "upper", "special"]) inputs[flag] ??= true;
  // `number` is the deprecated alias of `numeric`; the real provider keeps both in step.
  inputs.numeric ??= inputs.number ?? true;
  inputs.number ??= inputs.numeric;
  for (const min of ["minLower", "minUpper", "minNumeric", "minSpecial"]) inputs[min] ??= 0;
  const failures: provider.CheckFailure[] = [];
  const length = unwrap(inputs.length);
  if (length === undefined) failures.push({ property: "length", reason: "Missing required argument: length" });
  else if (!containsUnknown(inputs.length)) {
    const mins = ["minLower", "minUpper", "minNumeric", "minSpecial"].map((m) => unwrap(inputs[m]));
    const sum = mins.reduce((a: number, b) => a + (typeof b === "number" ? b : 0), 0);
    if (typeof length !== "number" || !Number.isInteger(length) || length < 1) {
      failures.push({ property: "length", reason: "length must be an integer of at least 1" });
    } else if (sum > length) {
      failures.push({ property: "length", reason: `length (${length}) must be >= the sum of min* counts (${sum})` });
    }
  }
  return { inputs, failures };
}

export function diff(olds: Props, news: Props): provider.DiffResult {
  const replaces = changedKeys(INPUTS, olds, news).filter((key) => {
    if (key === "overrideSpecial") return (unwrap(olds[key]) ?? "") !== (unwrap(news[key]) ?? "") || containsUnknown(news[key]);
    // keepers: replace only when the new keepers are not null (RequiresReplaceIfValuesNotNull).
    if (key === "keepers") return unwrap(news[key]) != null;
    return true;
  });
  const changed = changedKeys(INPUTS, olds, news).length > 0;
  return { changes: changed, replaces, deleteBeforeReplace: false };
}

export function create(inputs: Props): provider.CreateResult {
  const result = generate(unwrap(inputs));
  return { id: "none", outs: { ...inputs, result: secret(result) } };
}

/** An update happens only for input changes that do not replace (keepers set to null). */
export function update(olds: Props, news: Props): provider.UpdateResult {
  return { outs: { ...news, result: isSecretValue(olds.result) ? olds.result : secret(olds.result) } };
}

/** Import: the id is the password itself. A refresh keeps the state as it is. */
export function read(id: string, props: Props): provider.ReadResult {
  if (props && props.result !== undefined) return { id, props, inputs: pick(props) };
  const inputs = check({ length: id.length }).inputs as Props;
  return { id: "none", props: { ...inputs, result: secret(id) }, inputs };
}

function pick(props: Props): Props {
  return Object.fromEntries(INPUTS.filter((k) => props[k] !== undefined).map((k) => [k, props[k]]));
}

/** The inputs generation reads (after check, secrets unwrapped). */
export interface PasswordSpec {
  length: number;
  lower?: boolean;
  upper?: boolean;
  numeric?: boolean;
  number?: boolean;
  special?: boolean;
  minLower?: number;
  minUpper?: number;
  minNumeric?: number;
  minSpecial?: number;
  overrideSpecial?: string;
}

export function generate(p: PasswordSpec): string {
  const special = p.overrideSpecial ? String(p.overrideSpecial) : DEFAULT_SPECIAL;
  const pools: Array<[boolean, string, number]> = [
    [p.lower !== false, CLASSES.lower, p.minLower ?? 0],
    [p.upper !== false, CLASSES.upper, p.minUpper ?? 0],
    [(p.numeric ?? p.number) !== false, CLASSES.numeric, p.minNumeric ?? 0],
    [p.special !== false, special, p.minSpecial ?? 0],
  ];
  const all = pools
    .filter(([on]) => on)
    .map(([, chars]) => chars)
    .join("");
  if (all.length === 0) throw new Error("at least one character class must be enabled");
  const chars: string[] = [];
  for (const [on, pool, min] of pools) {
    if (!on) continue;
    for (let i = 0; i < min; i++) chars.push(pool[randomInt(pool.length)]);
  }
  while (chars.length < p.length) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}
