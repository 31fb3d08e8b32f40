/**
 * Edits `auth.api_keys` inside a FetchML server config without disturbing anything else.
 *
 * Why text splicing rather than `Document.toString()`: re-serialising a whole document
 * normalises indentation, spacing and flow collections elsewhere in the admin's file. Here
 * `yaml`'s Document API is used to parse and to locate the entries (node ranges), and only
 * the lines of entries that change are rewritten, so every other byte stays as it was.
 * The result is parsed again and checked (verifyEdit) before anyone writes it.
 */
import { isDeepStrictEqual } from "node:util";
import { isMap, isScalar, parseDocument, type Document, type Pair, type YAMLMap } from "yaml";
import type { ApiKeyEntry } from "./authSection";

export class AuthConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthConfigError";
  }
}

export interface AuthEditResult {
  text: string;
  changed: boolean;
  added: string[];
  updated: string[];
  removed: string[];
}

export interface AuthEdit {
  /** Entries to create or bring up to date. A Map: usernames such as `constructor` are plain keys. */
  upsert: ReadonlyMap<string, ApiKeyEntry>;
  /** Which of the other entries already in the file to delete. */
  remove: (name: string) => boolean;
}

/** The run's plan: declared users in, everything else out except preserved entries. */
export function mergeAuthConfig(
  text: string | undefined,
  entries: ReadonlyMap<string, ApiKeyEntry>,
  preserve: readonly string[],
  label = "auth config",
): AuthEditResult {
  const kept = new Set(preserve);
  return editAuthConfig(text, { upsert: entries, remove: (name) => !kept.has(name) }, label);
}

/** Takes out exactly these entries (revocation, destroy); adds nothing. */
export function removeAuthEntries(text: string, names: Iterable<string>, label = "auth config"): AuthEditResult {
  const gone = new Set(names);
  return editAuthConfig(text, { upsert: new Map(), remove: (name) => gone.has(name) }, label);
}

/**
 * The entries of `auth.api_keys` as plain values, in file order (for readers: what is on a
 * target now). An absent file or section is no entries.
 */
export function readApiKeys(text: string | undefined, label: string): Map<string, unknown> {
  const entries = new Map<string, unknown>();
  if (text === undefined) return entries;
  const doc = parseServerConfig(text, label);
  const auth = doc.contents ? findPair(doc.contents as YAMLMap, "auth")?.value : undefined;
  const keys = isMap(auth) ? findPair(auth, "api_keys")?.value : undefined;
  if (!isMap(keys)) return entries;
  for (const pair of keys.items) {
    if (isScalar(pair.key)) entries.set(String(pair.key.value), toPlain(pair.value));
  }
  return entries;
}

export function editAuthConfig(text: string | undefined, edit: AuthEdit, label: string): AuthEditResult {
  const source = text ?? "";
  const doc = parseServerConfig(source, label);
  const planned = planEdits(source, doc, edit, label);
  const result = { ...planned.result, text: applyEdits(source, planned.edits) };
  result.changed = result.text !== source;
  if (result.changed) verifyEdit(source, result.text, edit, label);
  return result;
}

/** Parses the file; errors name line and column only, never the text (it holds hashes). */
export function parseServerConfig(text: string, label: string): Document.Parsed {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const where = doc.errors
      .map((e) => (e.linePos ? `line ${e.linePos[0].line} column ${e.linePos[0].col} (${e.code})` : e.code))
      .join("; ");
    throw new AuthConfigError(`${label}: not valid YAML: ${where}; the file was left untouched`);
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new AuthConfigError(`${label}: the top level is not a mapping; the file was left untouched`);
  }
  return doc;
}

interface TextEdit {
  start: number;
  end: number;
  text: string;
}

function planEdits(source: string, doc: Document.Parsed, edit: AuthEdit, label: string) {
  const result: AuthEditResult = { text: source, changed: false, added: [], updated: [], removed: [] };
  const edits: TextEdit[] = [];
  const newNames = [...edit.upsert.keys()].sort();
  const root = doc.contents as YAMLMap | null;
  const authPair = root ? findPair(root, "auth") : undefined;

  if (!authPair || isNullScalar(authPair.value)) {
    // No auth section yet: a new one, enabled, at the end of the file.
    if (newNames.length === 0) return { result, edits };
    result.added.push(...newNames);
    const prefix = source.length > 0 && !source.endsWith("\n") ? "\n" : "";
    const body = ["auth:", "  enabled: true", "  api_keys:", ...renderEntries(edit.upsert, newNames, 4)];
    const start = authPair ? lineStart(source, authPair.key.range[0]) : source.length;
    const end = authPair ? lineEndIncl(source, valueEnd(authPair)) : source.length;
    edits.push({ start, end, text: prefix + body.join("\n") + "\n" });
    return { result, edits };
  }
  const auth = authPair.value;
  if (!isMap(auth) || auth.flow) {
    throw new AuthConfigError(`${label}: auth must be a block mapping (key: value lines); the file was left untouched`);
  }
  const authIndent = column(source, (auth.items[0].key as ScalarNode).range[0]);
  const keysPair = findPair(auth, "api_keys");

  if (!keysPair || isNullScalar(keysPair.value) || (isMap(keysPair.value) && keysPair.value.items.length === 0)) {
    if (newNames.length === 0) return { result, edits };
    result.added.push(...newNames);
    const lines = [`${" ".repeat(authIndent)}api_keys:`, ...renderEntries(edit.upsert, newNames, authIndent * 2, authIndent)];
    const anchor = keysPair ?? auth.items[auth.items.length - 1];
    const start = keysPair ? lineStart(source, keysPair.key!.range[0]) : lineEndIncl(source, valueEnd(anchor));
    const end = lineEndIncl(source, valueEnd(anchor));
    edits.push({ start, end, text: ensureNewlineBefore(source, start) + lines.join("\n") + "\n" });
    return { result, edits };
  }
  const keys = keysPair.value;
  if (!isMap(keys) || keys.flow) {
    throw new AuthConfigError(`${label}: auth.api_keys must be a block mapping (one user per line); the file was left untouched`);
  }
  const entryIndent = column(source, (keys.items[0].key as ScalarNode).range[0]);
  const step = indentStep(source, keys.items[0].value, entryIndent) ?? entryIndent - authIndent;
  const existing = new Set<string>();
  let survivors = 0;
  for (const pair of keys.items as Pair<ScalarNode, unknown>[]) {
    const name = String(pair.key.value);
    existing.add(name);
    const start = lineStart(source, pair.key.range[0]);
    const end = lineEndIncl(source, valueEnd(pair));
    const wanted = edit.upsert.get(name);
    if (wanted) {
      survivors++;
      if (!sameEntry(toPlain(pair.value), wanted)) {
        result.updated.push(name);
        edits.push({ start, end, text: renderEntries(edit.upsert, [name], entryIndent, step).join("\n") + "\n" });
      }
    } else if (edit.remove(name)) {
      result.removed.push(name);
      edits.push({ start, end, text: "" });
    } else {
      survivors++;
    }
  }
  const toAdd = newNames.filter((name) => !existing.has(name));
  result.added.push(...toAdd);
  if (survivors + toAdd.length === 0) {
    // Every entry goes: leave an explicit empty map rather than a dangling `api_keys:`.
    const start = lineStart(source, keysPair.key!.range[0]);
    const end = lineEndIncl(source, valueEnd(keysPair));
    return { result, edits: [{ start, end, text: `${" ".repeat(authIndent)}api_keys: {}\n` }] };
  }
  if (toAdd.length > 0) {
    const at = lineEndIncl(source, valueEnd(keys.items[keys.items.length - 1]));
    edits.push({
      start: at,
      end: at,
      text: ensureNewlineBefore(source, at) + renderEntries(edit.upsert, toAdd, entryIndent, step).join("\n") + "\n",
    });
  }
  return { result, edits };
}

type ScalarNode = { value: unknown; range: [number, number, number] };

function findPair(map: YAMLMap<unknown, unknown>, key: string): (Pair<ScalarNode, unknown> & { key: ScalarNode }) | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key) as (Pair<ScalarNode, unknown> & { key: ScalarNode }) | undefined;
}

function isNullScalar(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

function valueEnd(pair: Pair<unknown, unknown>): number {
  const value = pair.value as { range?: [number, number, number] } | null;
  const key = pair.key as ScalarNode;
  const end = value?.range ? value.range[1] : key.range[1];
  return Math.max(key.range[1], end - 1);
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf("\n", pos - 1) + 1;
}

/** Index just past the newline ending the line that holds `pos` (or the text's end). */
function lineEndIncl(text: string, pos: number): number {
  const nl = text.indexOf("\n", pos);
  return nl === -1 ? text.length : nl + 1;
}

function column(text: string, pos: number): number {
  return pos - lineStart(text, pos);
}

function ensureNewlineBefore(text: string, pos: number): string {
  return pos > 0 && text[pos - 1] !== "\n" ? "\n" : "";
}

function applyEdits(text: string, edits: TextEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  }
  return out;
}

/** YAML 1.1 readers (and some 1.2 ones) take these bare words for booleans or null. */
const AMBIGUOUS = /^(y|yes|n|no|true|false|on|off|null)$/i;

function key(name: string): string {
  return AMBIGUOUS.test(name) ? JSON.stringify(name) : name;
}

/**
 * One entry as block YAML at the given indent. Every value is from a restricted alphabet
 * (validated usernames, role labels, permission names, hex), so quoting is predictable.
 */
function renderEntries(entries: ReadonlyMap<string, ApiKeyEntry>, names: string[], indent: number, step = 2): string[] {
  const pad = " ".repeat(indent);
  const inner = pad + " ".repeat(step);
  const innermost = inner + " ".repeat(step);
  return names.flatMap((name) => {
    const entry = entries.get(name)!;
    return [
      `${pad}${key(name)}:`,
      `${inner}hash: "${entry.hash}"`,
      `${inner}admin: ${entry.admin}`,
      `${inner}roles: [${entry.roles.map((r) => JSON.stringify(r)).join(", ")}]`,
      `${inner}permissions:`,
      ...Object.entries(entry.permissions).map(([perm, allowed]) => `${innermost}${JSON.stringify(perm)}: ${allowed}`),
    ];
  });
}

/** The file's own indentation step, read from an existing entry's body when it has one. */
function indentStep(source: string, value: unknown, entryIndent: number): number | undefined {
  if (!isMap(value) || value.flow || value.items.length === 0) return undefined;
  const step = column(source, (value.items[0].key as ScalarNode).range[0]) - entryIndent;
  return step > 0 ? step : undefined;
}

function toPlain(node: unknown): unknown {
  return node && typeof node === "object" && "toJSON" in node ? (node as { toJSON(): unknown }).toJSON() : node;
}

function sameEntry(current: unknown, wanted: ApiKeyEntry): boolean {
  return isDeepStrictEqual(current, wanted);
}

/** Objects with their keys sorted (own properties only): one byte form for equal content (digests). */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * The safety net under the splicing: the new text must parse, hold exactly the intended
 * api_keys, and equal the old document everywhere else. Otherwise nothing is written.
 */
function verifyEdit(before: string, after: string, edit: AuthEdit, label: string): void {
  const fail = (why: string) => {
    throw new AuthConfigError(`${label}: internal check failed (${why}); the file was left untouched`);
  };
  const next = parseDocument(after, { uniqueKeys: true });
  if (next.errors.length > 0) fail("edited text does not parse");
  const oldJs = asRecord(parseDocument(before).toJS());
  const newJs = asRecord(next.toJS());
  const expected = new Map<string, unknown>();
  for (const [name, entry] of readApiKeys(before, label)) {
    if (!edit.upsert.has(name) && !edit.remove(name)) expected.set(name, entry);
  }
  for (const [name, entry] of edit.upsert) expected.set(name, entry);
  if (!isDeepStrictEqual(readApiKeys(after, label), expected)) {
    fail("api_keys differ from the plan");
  }
  const strip = (js: Record<string, unknown>, created: boolean) => {
    const copy = structuredClone(js);
    const auth = copy.auth;
    if (auth && typeof auth === "object" && !Array.isArray(auth)) {
      const section = auth as Record<string, unknown>;
      delete section.api_keys;
      if (created) delete section.enabled;
      if (Object.keys(section).length === 0) delete copy.auth;
    }
    return copy;
  };
  const created = !oldJs.auth;
  if (!isDeepStrictEqual(strip(oldJs, false), strip(newJs, created))) fail("settings outside auth.api_keys changed");
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
