/**
 * How a stack config problem is said: its config path, the value as typed (a secret as
 * "[secret]"), and for an unknown key the keys allowed there. Turns zod's issues into these
 * lines; ConfigError carries all of them at once.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { escapeUnprintable } from "../lib/printable";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** `schema`: the one `root` was checked against, for the keys an unknown key's place accepts. */
export function describeIssue(issue: z.core.$ZodIssue, root: unknown, schema: z.ZodType): string[] {
  const path = formatPath(issue.path);
  const secretPath = issue.path.some((p) => String(p) === "privateKey");
  const value = secretPath && valueAt(root, issue.path) !== undefined ? SECRET : valueAt(root, issue.path);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => {
        const allowed = allowedKeysAt(schema, issue.path);
        const hint = allowed.length > 0 ? ` (expected one of: ${allowed.join(", ")})` : "";
        return `${formatPath([...issue.path, key])}: unknown key ${show(key)}${hint}`;
      });
    case "invalid_value":
      return [`${path}: unknown value ${show(value)} (expected ${issue.values.map(String).join(", ")})`];
    case "invalid_type":
      return value === undefined
        ? [`${path}: missing (expected ${issue.expected})`]
        : [`${path}: expected ${issue.expected}, got ${show(value)}`];
    case "too_small":
      return [`${path}: ${show(value)} is too small (minimum ${String(issue.minimum)})`];
    case "too_big":
      return [`${path}: ${show(value)} is too big (maximum ${String(issue.maximum)})`];
    default:
      return [`${path}: ${show(value)} ${issue.message}`];
  }
}

/** The keys a strict object at this config path accepts, for "did you mean" hints. */
function allowedKeysAt(root: z.ZodType, path: PropertyKey[]): string[] {
  let schema = root;
  for (const segment of path) {
    const def = unwrap(schema);
    if (def instanceof z.ZodObject) schema = def.shape[String(segment)];
    else if (def instanceof z.ZodRecord) schema = def.valueType as z.ZodType;
    else if (def instanceof z.ZodArray) schema = def.element as z.ZodType;
    else return [];
    if (!schema) return [];
  }
  const def = unwrap(schema);
  return def instanceof z.ZodObject ? Object.keys(def.shape) : [];
}

export function unwrap(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

export function formatPath(path: PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  return path
    .map((segment, i) => {
      if (typeof segment === "number") return `[${segment}]`;
      const text = String(segment);
      const plain = /^[A-Za-z0-9_-]+$/.test(text);
      const part = plain ? text : JSON.stringify(text);
      return i === 0 ? part : `.${part}`;
    })
    .join("")
    .replace(/\.\[/g, "[");
}

/** Stands for a secret's value in messages. */
const SECRET = Symbol("secret");

/** A value as it would be typed in config, cut short so a pasted blob cannot flood the log. */
export function show(value: unknown): string {
  if (value === SECRET) return "[secret]";
  // YAML reads 1e400 as Infinity and .nan as NaN; JSON would print both as null, which nobody typed.
  if (typeof value === "number" && !Number.isFinite(value))
    return Number.isNaN(value) ? "NaN (not a number)" : `${String(value)} (a number too large to use)`;
  // JSON escapes C0 controls; the rest of what could forge a line is escaped too. Inside a
  // list or map, an infinite number reads as typed rather than as JSON's null (a random mark,
  // which no typed string can foresee, stands for it until then).
  const mark = randomUUID();
  const json = JSON.stringify(value, (_, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? `${mark}${String(v)}` : v));
  const text = escapeUnprintable(json === undefined ? String(value) : json.replace(new RegExp(`"${mark}(-?Infinity|NaN)"`, "g"), "$1"));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
