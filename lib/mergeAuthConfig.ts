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
import { isCollection, isMap, isNode, isPair, isScalar, isSeq, parseDocument, type Document, type Pair, type YAMLMap } from "yaml";
import type { ApiKeyEntry } from "./authSection";
import { AdminError } from "./adminError";

/**
 * What a server config may be (README "Limits"). A real FetchML config is a few KiB; one
 * entry is about 250 bytes, so 4 MiB holds some 16,000 users. Beyond these, a file is
 * refused before it costs memory or time: a 50 MB file took 2 GB and minutes to merge, and
 * an alias chain ("billion laughs") expands a few lines into gigabytes.
 */
export const SERVER_CONFIG_LIMITS = {
  /** Bytes; checked from the file's size before it is read whole. */
  bytes: 4 * 1024 * 1024,
  /** The `yaml` library's own maxAliasCount (its default): how far aliases may expand. */
  aliases: 100,
  /** Collections nested in each other (FetchML's own go five deep: auth.api_keys.<user>.permissions). */
  depth: 64,
} as const;

/** The refusal for a file over the size limit (from its size, before reading it, or from its text). */
export function serverConfigTooLarge(label: string, bytes: number): string {
  return (
    `${label}: ${bytes} bytes, more than the ${SERVER_CONFIG_LIMITS.bytes} (4 MiB) a FetchML server config may have here; ` +
    "refused before reading it, the file was left untouched"
  );
}

export class AuthConfigError extends AdminError {
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
  const { keys } = locateApiKeys(doc, text, label);
  for (const pair of keys?.items ?? []) entries.set(String(pair.key.value), toPlain(doc, pair.value));
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

/**
 * Parses the file within SERVER_CONFIG_LIMITS; every refusal names the file, line and column,
 * never the text (it holds hashes). The readers (preview) and the steps (up) both come here,
 * so what the preview accepts, up accepts.
 */
export function parseServerConfig(text: string, label: string): Document.Parsed {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > SERVER_CONFIG_LIMITS.bytes) throw new AuthConfigError(serverConfigTooLarge(label, bytes));
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const where = doc.errors
      .map((e) => (e.linePos ? `line ${e.linePos[0].line} column ${e.linePos[0].col} (${e.code})` : e.code))
      .join("; ");
    throw new AuthConfigError(`${label}: not valid YAML: ${where}; the file was left untouched`);
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw refuseAt(label, text, doc.contents, "the top level is not a mapping (FetchML reads `key: value` lines)");
  }
  const deep = tooDeep(doc.contents);
  if (deep) {
    throw refuseAt(label, text, deep, `nested more than ${SERVER_CONFIG_LIMITS.depth} levels deep (a FetchML config needs about 5)`);
  }
  try {
    doc.toJS({ maxAliasCount: SERVER_CONFIG_LIMITS.aliases });
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    const what = /unresolved/i.test(e.message)
      ? "an alias (*name) refers to no anchor (&name) before it"
      : `its aliases (*name) expand to more than ${SERVER_CONFIG_LIMITS.aliases} copies (an alias bomb?); write the values out`;
    throw refuseAt(label, text, aliasCulprit(doc, doc.contents), what);
  }
  return doc;
}

/** Where auth and auth.api_keys are, checked to be what the editor can splice (block mappings of plain names). */
interface ApiKeysLocation {
  authPair?: NamedPair;
  auth?: YAMLMap<ScalarNode, unknown>;
  keysPair?: NamedPair;
  /** Absent, null or an empty map: no entries. */
  keys?: YAMLMap<ScalarNode, unknown>;
}

/**
 * The one place that decides which shapes of `auth` and `auth.api_keys` are accepted: the
 * readers (preview) and the editor (up) both use it, so a file the editor would refuse is
 * refused at preview already, with its line and column and what to write instead.
 */
function locateApiKeys(doc: Document.Parsed, source: string, label: string): ApiKeysLocation {
  const root = doc.contents as YAMLMap | null;
  const authPair = root ? findPair(root, "auth") : undefined;
  if (!authPair || isNullScalar(authPair.value)) return { authPair };
  const auth = authPair.value;
  if (!isMap(auth) || auth.flow || auth.items.length === 0) {
    throw refuseAt(
      label,
      source,
      auth,
      `auth must be a block mapping, not ${shapeOf(auth)}: write "auth:" on its own line, then "enabled: true" and "api_keys:" indented below it`,
    );
  }
  const keysPair = findPair(auth, "api_keys");
  const location = { authPair, auth: auth as YAMLMap<ScalarNode, unknown>, keysPair };
  if (!keysPair || isNullScalar(keysPair.value)) return location;
  const keys = keysPair.value;
  if (isMap(keys) && keys.items.length === 0) return location;
  if (!isMap(keys) || keys.flow) {
    throw refuseAt(
      label,
      source,
      keys,
      `auth.api_keys must be a block mapping (user name to entry), not ${shapeOf(keys)}: write each user as "<name>:" on its own line ` +
        "under api_keys, with hash, admin, roles and permissions indented below it",
    );
  }
  for (const pair of keys.items) {
    if (!isScalar(pair.key)) throw refuseAt(label, source, pair.key, "an entry of auth.api_keys is not named by a plain user name");
  }
  return { ...location, keys: keys as YAMLMap<ScalarNode, unknown> };
}

function shapeOf(node: unknown): string {
  if (isSeq(node)) return node.flow ? "a list ([...])" : 'a list ("- " items)';
  if (isMap(node)) return node.flow ? "a mapping written inline ({...})" : "an empty mapping";
  if (isScalar(node)) return "a single value";
  return "not a mapping";
}

/** An AuthConfigError naming the line and column where `node` starts. */
function refuseAt(label: string, source: string, node: unknown, what: string): AuthConfigError {
  const offset = (node as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
  const { line, col } = lineColumn(source, offset);
  return new AuthConfigError(`${label}: line ${line} column ${col}: ${what}; the file was left untouched`);
}

function lineColumn(source: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = source.indexOf("\n"); i !== -1 && i < offset; i = source.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

/** The first collection nested deeper than the limit (walked with a stack of its own, not recursion). */
function tooDeep(root: unknown): unknown {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!isCollection(node)) continue;
    if (depth > SERVER_CONFIG_LIMITS.depth) return node;
    for (const item of [...node.items].reverse()) {
      if (isPair(item)) stack.push([item.value, depth + 1], [item.key, depth + 1]);
      else stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Where the library's alias limit was hit: the innermost node whose own expansion it
 * refuses (only run on a refused file, within the depth limit, each try bounded by the limit).
 */
function aliasCulprit(doc: Document.Parsed, node: unknown): unknown {
  if (!isCollection(node)) return node;
  for (const item of node.items) {
    for (const child of isPair(item) ? [item.key, item.value] : [item]) {
      if (!isNode(child)) continue;
      try {
        child.toJS(doc, { maxAliasCount: SERVER_CONFIG_LIMITS.aliases });
      } catch (e) {
        if (e instanceof ReferenceError) return aliasCulprit(doc, child);
      }
    }
  }
  return node;
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
  const { authPair, auth, keysPair, keys } = locateApiKeys(doc, source, label);

  if (!auth) {
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
  const authIndent = column(source, (auth.items[0].key as ScalarNode).range[0]);

  if (!keys) {
    if (newNames.length === 0) return { result, edits };
    result.added.push(...newNames);
    const lines = [`${" ".repeat(authIndent)}api_keys:`, ...renderEntries(edit.upsert, newNames, authIndent * 2, authIndent)];
    const anchor = keysPair ?? auth.items[auth.items.length - 1];
    const start = keysPair ? lineStart(source, keysPair.key!.range[0]) : lineEndIncl(source, valueEnd(anchor));
    const end = lineEndIncl(source, valueEnd(anchor));
    edits.push({ start, end, text: ensureNewlineBefore(source, start) + lines.join("\n") + "\n" });
    return { result, edits };
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
      if (!sameEntry(toPlain(doc, pair.value), wanted)) {
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
    const start = lineStart(source, keysPair!.key.range[0]);
    const end = lineEndIncl(source, valueEnd(keysPair!));
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
type NamedPair = Pair<ScalarNode, unknown> & { key: ScalarNode };

function findPair(map: YAMLMap<unknown, unknown>, key: string): NamedPair | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key) as NamedPair | undefined;
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

/** A node's value as FetchML reads it (aliases resolved, within the limit). */
function toPlain(doc: Document.Parsed, node: unknown): unknown {
  return isNode(node) ? node.toJS(doc, { maxAliasCount: SERVER_CONFIG_LIMITS.aliases }) : node;
}

function sameEntry(current: unknown, wanted: ApiKeyEntry): boolean {
  return isDeepStrictEqual(current, wanted);
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
  const limits = { maxAliasCount: SERVER_CONFIG_LIMITS.aliases };
  const oldJs = asRecord(parseDocument(before).toJS(limits));
  const newJs = asRecord(next.toJS(limits));
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
