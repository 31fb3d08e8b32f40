/**
 * How property values look on the provider side of the gRPC boundary (the Node provider
 * server hands over raw structs): secrets arrive wrapped in a signature object and
 * preview-time unknowns as a sentinel string. Both offline plugins diff with these helpers.
 */

import { isDeepStrictEqual } from "node:util";

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function secret<T>(value: T): unknown {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/** The plain value, with every secret wrapper (at any depth) removed. Untyped: it is whatever the engine sent. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function unwrap(v: unknown): any {
  if (isSecretValue(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  }
  return v;
}

/** True when the value is, or contains, a preview-time unknown. */
export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (isSecretValue(v)) return containsUnknown(v.value);
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (typeof v === "object" && v !== null) return Object.values(v).some(containsUnknown);
  return false;
}

/** Deep equality of plain values, after unwrapping secrets (a secret-ness change alone is no change). */
export function sameValue(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(unwrap(a), unwrap(b));
}

/** The names among `keys` whose value differs between old state and new inputs. */
export function changedKeys(keys: readonly string[], olds: Record<string, unknown>, news: Record<string, unknown>): string[] {
  return keys.filter((k) => containsUnknown(news[k]) || !sameValue(olds[k] ?? null, news[k] ?? null));
}

/** The version of the npm SDK this plugin stands in for: the version the engine asks for. */
export function sdkVersion(pkg: string): string {
  return require(`${pkg}/package.json`).version;
}

/** The resource type in a URN (`urn:pulumi:<stack>::<project>::<parents$>type::<name>`). */
export function urnType(urn: string): string {
  const chain = urn.split("::")[2] ?? "";
  return chain.slice(chain.lastIndexOf("$") + 1);
}
