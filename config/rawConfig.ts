/**
 * Where stack config comes from: the stack file of a stack, and the `<namespace>:<key>` strings
 * Pulumi hands over, turned into the plain object the schema (config/schema.ts) checks.
 */
import { z } from "zod";
import { parseJsonOr } from "../lib/json";
import { unwrap } from "./problems";
import { stackConfigSchema } from "./schema";

export const CONFIG_NAMESPACE = "fetchml-keys";

/**
 * Pulumi hands config over as strings keyed `<namespace>:<key>`; objects and arrays arrive
 * as JSON. Other namespaces (provider settings) are not ours and are left alone.
 */
export function readNamespace(raw: Record<string, string>, namespace = CONFIG_NAMESPACE): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(raw)) {
    if (!fullKey.startsWith(`${namespace}:`)) continue;
    const key = fullKey.slice(namespace.length + 1);
    const structured = /^\s*[[{]/.test(value) || (SCALAR_KEYS.has(key) && /^(-?\d+(\.\d+)?|true|false)$/.test(value));
    // Text that is not JSON stays text: the schema then names it as a wrong value.
    out[key] = structured ? parseJsonOr(value, value) : value;
  }
  return out;
}

/** Top-level keys that are numbers or booleans (Pulumi hands every scalar over as text). */
const SCALAR_KEYS = new Set(
  Object.entries(stackConfigSchema.shape)
    .filter(([, schema]) => {
      const inner = unwrap(schema as z.ZodType);
      return inner instanceof z.ZodNumber || inner instanceof z.ZodBoolean;
    })
    .map(([key]) => key),
);

/** Namespaces a key in this project's stack files may have: ours, Pulumi's own, its providers'. */
const KNOWN_NAMESPACES = new Set([CONFIG_NAMESPACE, "pulumi", "random", "command"]);

/**
 * Stack config keys (`<namespace>:<key>`) in no namespace this project reads: a typo such as
 * `fetchml-key:users` would otherwise only show as `users: missing`, not naming the line to fix.
 */
export function strayKeys(keys: readonly string[]): string[] {
  return keys
    .filter((key) => !KNOWN_NAMESPACES.has(key.split(":")[0]))
    .map(
      (key) =>
        `${key}: unknown key (this project's settings are ${CONFIG_NAMESPACE}:<name>, e.g. ${CONFIG_NAMESPACE}:${key.split(":").slice(1).join(":") || "users"})`,
    );
}

/** The stack file of a stack, relative to the project root (Pulumi.yaml's stackConfigDir). */
export function stackFileName(stack: string): string {
  return `stacks/Pulumi.${stack}.yaml`;
}
