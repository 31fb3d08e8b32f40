/**
 * Where stack config comes from: the stack file of a stack, and the `<namespace>:<key>` strings
 * Pulumi hands over, turned into the plain object the schema (config/settings.ts) checks.
 */
import { isScalar, LineCounter, parse as parseYaml, parseDocument, visit } from "yaml";
import { escapeUnprintable } from "../lib/printable";
import { z } from "zod";
import { parseJsonOr } from "../lib/json";
import { ConfigError, formatPath, unwrap } from "./problems";
import { stackConfigSchema } from "./settings";

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

/** The one kind of setting that is a secret: an SSH deploy key (`servers[N].privateKey`). */
function secretBelongsAt(path: readonly PropertyKey[]): boolean {
  return path.length === 3 && path[0] === "servers" && typeof path[1] === "number" && path[2] === "privateKey";
}

/**
 * Settings holding a secret where none belongs, as config paths. A `secure:` value is not bound
 * to its key: a pull request that copies the deploy key's ciphertext to `authConfigPath` gets it
 * decrypted as a path, and a message quoting part of it (its directory, its first characters)
 * prints that part of the key, which Pulumi's filter (the whole value only) does not catch.
 * Read from the stack file's own `secure:` leaves (exact, nested ones included) and from the
 * top-level keys the engine marks secret (config from anywhere else).
 */
export function misplacedSecrets(
  stackText: string | undefined,
  secretKeys: readonly string[],
  namespace = CONFIG_NAMESPACE,
): PropertyKey[][] {
  const found = new Map<string, PropertyKey[]>();
  const note = (path: PropertyKey[]) => {
    if (!secretBelongsAt(path)) found.set(formatPath(path), path);
  };
  const config = stackConfigOf(stackText);
  // servers holds the deploy keys: its nested secrets are checked in the stack file, or, where
  // they come from elsewhere, cannot be checked at all.
  for (const key of secretKeys) {
    if (!key.startsWith(`${namespace}:`)) continue;
    if (key !== `${namespace}:servers` || !(key in config)) note([key.slice(namespace.length + 1)]);
  }
  const walk = (node: unknown, path: PropertyKey[]): void => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, [...path, i]));
    else if (node !== null && typeof node === "object") {
      const entries = Object.entries(node);
      if (entries.length === 1 && entries[0][0] === "secure") note(path);
      else for (const [k, v] of entries) walk(v, [...path, k]);
    }
  };
  for (const [fullKey, value] of Object.entries(config)) {
    if (fullKey.startsWith(`${namespace}:`)) walk(value, [fullKey.slice(namespace.length + 1)]);
  }
  return [...found.values()];
}

/**
 * The stack file's `config:` map (none where there is no stack file). A file this parser cannot
 * read whole (a second document after `---`, which the engine ignores; aliases past the
 * parser's limit) is refused: read as empty, it would hide every secret in it from the check.
 * So is one this parser would read otherwise than the engine's (YAML 1.1, go-yaml): a merge key
 * (`<<`, which the engine applies and this parser keeps as a key, so `{secure: X, <<: {}}` is a
 * secret there and a two-key map here), an explicit tag, or a line break other than \n (go-yaml
 * ends a comment at U+2028; the yaml package does not). A stack file needs none of them.
 */
function stackConfigOf(stackText: string | undefined): Record<string, unknown> {
  if (stackText === undefined) return {};
  const unread = readOtherwise(stackText);
  if (unread.length > 0) throw new ConfigError(unread);
  let doc: unknown;
  try {
    doc = parseYaml(stackText);
  } catch (e) {
    const code = (e as { code?: string }).code ?? (e as Error).name;
    throw new ConfigError([
      `the stack file cannot be read whole to check where its secrets are (${code}): write it as one YAML document, with no more than a few aliases`,
    ]);
  }
  const config = doc !== null && typeof doc === "object" ? (doc as Record<string, unknown>).config : undefined;
  return config !== null && typeof config === "object" ? (config as Record<string, unknown>) : {};
}

/** Each merge key, explicit tag and line break other than \n in the stack file, with its line and column (never a value). */
function readOtherwise(stackText: string): string[] {
  const lines = new LineCounter();
  const found: string[] = [];
  // A line break to the engine's reader (U+0085, U+2028 and U+2029 end a line there, in a
  // comment too) that the yaml package keeps inside a comment or a value.
  const breakAt = stackText.search(/[\u0085\u2028\u2029]/);
  if (breakAt >= 0) {
    const before = stackText.slice(0, breakAt);
    const where = `line ${before.split("\n").length}, column ${breakAt - before.lastIndexOf("\n")}`;
    found.push(`the stack file has a line break other than \\n (${escapeUnprintable(stackText[breakAt])}) at ${where}`);
  }
  const at = (node: { range?: [number, number, number] | null }) => {
    const { line, col } = lines.linePos(node.range?.[0] ?? 0);
    return `line ${line}, column ${col}`;
  };
  visit(parseDocument(stackText, { lineCounter: lines }), {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === "<<") found.push(`the stack file has a merge key (<<) at ${at(pair.key)}`);
    },
    Node(_, node) {
      if (node.tag) found.push(`the stack file has an explicit tag (${escapeUnprintable(node.tag)}) at ${at(node)}`);
    },
  });
  return found.map(
    (problem) =>
      `${problem}: the engine reads it otherwise than the check of where secrets may be, which would then miss one; write the values out in full, without it`,
  );
}

/** What is said about a misplaced secret: where, never any of its value. */
export function misplacedSecretProblem(path: PropertyKey[]): string {
  return (
    `${formatPath(path)}: is a secret (secure:), and only servers[].privateKey may be one; its value is not shown. ` +
    `A secret here is decrypted and used as plain text: whoever put it there may have copied another setting's ciphertext. ` +
    `Set it again as plain text (pulumi config set, without --secret)`
  );
}
