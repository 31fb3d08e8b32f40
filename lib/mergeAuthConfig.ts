/**
 * Edits `auth.api_keys` inside a FetchML server config without disturbing anything else.
 *
 * Why text splicing rather than `Document.toString()`: re-serialising a whole document
 * normalises indentation, spacing and flow collections elsewhere in the admin's file. Here
 * `yaml`'s Document API is used to parse and to locate the entries (node ranges), and only
 * the lines of entries that change are rewritten, so every other byte stays as it was.
 * The result is parsed again and checked (verifyEdit) before anyone writes it. What a file may
 * be, and where its api_keys are, is lib/serverConfig.ts; the lines and the splicing, lib/yamlSplice.ts.
 */
import { isDeepStrictEqual } from "node:util";
import type { Document, Pair } from "yaml";
import type { ApiKeyEntry } from "./authSection";
import {
  apiKeysOf,
  AuthConfigError,
  locateApiKeys,
  parseServerConfig,
  type ScalarNode,
  SERVER_CONFIG_LIMITS,
  toPlain,
} from "./serverConfig";
import {
  applyEdits,
  column,
  ensureNewlineBefore,
  indentStep,
  lineEndIncl,
  lineStart,
  renderEntries,
  type TextEdit,
  valueEnd,
} from "./yamlSplice";

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

export function editAuthConfig(text: string | undefined, edit: AuthEdit, label: string): AuthEditResult {
  const source = text ?? "";
  const doc = parseServerConfig(source, label);
  const planned = planEdits(source, doc, edit, label);
  const result = { ...planned.result, text: applyEdits(source, planned.edits) };
  result.changed = result.text !== source;
  if (result.changed) verifyEdit({ text: source, doc }, result.text, edit, label);
  return result;
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

function sameEntry(current: unknown, wanted: ApiKeyEntry): boolean {
  return isDeepStrictEqual(current, wanted);
}

/**
 * The safety net under the splicing: the new text must parse within the server config's
 * limits, hold exactly the intended api_keys, and equal the old document everywhere else.
 * Otherwise nothing is written. Each text is parsed once (at 500 users a parse is a tenth of
 * a second or more, and this runs in every write step).
 */
function verifyEdit(before: { text: string; doc: Document.Parsed }, after: string, edit: AuthEdit, label: string): void {
  const fail = (why: string) => {
    throw new AuthConfigError(`${label}: internal check failed (${why}); the file was left untouched`);
  };
  // Refused as the file itself would be (a merge can push it over the size limit).
  const next = parseServerConfig(after, label);
  const limits = { maxAliasCount: SERVER_CONFIG_LIMITS.aliases };
  const oldJs = asRecord(before.doc.toJS(limits));
  const newJs = asRecord(next.toJS(limits));
  const expected = new Map<string, unknown>();
  for (const [name, entry] of apiKeysOf(before.doc, before.text, label)) {
    if (!edit.upsert.has(name) && !edit.remove(name)) expected.set(name, entry);
  }
  for (const [name, entry] of edit.upsert) expected.set(name, entry);
  if (!isDeepStrictEqual(apiKeysOf(next, after, label), expected)) {
    fail("api_keys differ from the plan");
  }
  // Builds new objects and mutates none: a YAML alias makes one object appear in several places
  // (`legacy_auth: *au`, `<<: *au`), and deleting api_keys from a shared one would hide a change
  // to every copy. An empty `auth:` (null) holds no settings, like an absent one.
  const strip = (js: Record<string, unknown>, created: boolean): Record<string, unknown> => {
    const { auth, ...rest } = js;
    if (auth === null || auth === undefined) return rest;
    if (typeof auth !== "object" || Array.isArray(auth)) return { ...rest, auth };
    const section = { ...(auth as Record<string, unknown>) };
    delete section.api_keys;
    if (created) delete section.enabled;
    return Object.keys(section).length === 0 ? rest : { ...rest, auth: section };
  };
  const created = !oldJs.auth;
  if (!isDeepStrictEqual(strip(oldJs, false), strip(newJs, created))) fail("settings outside auth.api_keys changed");
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
