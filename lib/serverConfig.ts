/**
 * A FetchML server config as this program reads it: what it may be (size, nesting, aliases,
 * the shape of `auth` and `auth.api_keys`), refused with the file, line and column and never
 * the text (it holds hashes), and the api_keys entries in it. The readers (preview) and the
 * editor (up, lib/mergeAuthConfig.ts) both come here, so what the preview accepts, up accepts.
 */
import { type Document, isCollection, isMap, isNode, isPair, isScalar, isSeq, type Pair, parseDocument, visit, type YAMLMap } from "yaml";
import { AdminError } from "./adminError";
import { printable, quoteUnprintable, UNPRINTABLE_RULE } from "./printable";

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

/**
 * The entries of `auth.api_keys` as plain values, in file order (for readers: what is on a
 * target now). An absent file or section is no entries.
 */
export function readApiKeys(text: string | undefined, label: string): Map<string, unknown> {
  return text === undefined ? new Map() : apiKeysOf(parseServerConfig(text, label), text, label);
}

/** The same, from a document parseServerConfig already accepted (the editor parses each text once). */
export function apiKeysOf(doc: Document.Parsed, text: string, label: string): Map<string, unknown> {
  const entries = new Map<string, unknown>();
  const { keys } = locateApiKeys(doc, text, label);
  for (const pair of keys?.items ?? []) entries.set(String(pair.key.value), toPlain(doc, pair.value));
  return entries;
}

/** Parses the file within SERVER_CONFIG_LIMITS; every refusal names the file, line and column. */
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
export interface ApiKeysLocation {
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
export function locateApiKeys(doc: Document.Parsed, source: string, label: string): ApiKeysLocation {
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
  refuseCopied(doc, source, label, auth, "auth");
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
  refuseCopied(doc, source, label, keys, "auth.api_keys");
  for (const pair of keys.items) {
    if (!isScalar(pair.key)) throw refuseAt(label, source, pair.key, "an entry of auth.api_keys is not named by a plain user name");
    // Names are printed in the plan a reviewer reads (lib/printable.ts).
    const name = String(pair.key.value);
    if (!printable(name)) {
      throw refuseAt(
        label,
        source,
        pair.key,
        `the entry name ${quoteUnprintable(name)} ${UNPRINTABLE_RULE}, which could forge lines of the plan: rename the entry, or remove it`,
      );
    }
  }
  return { ...location, keys: keys as YAMLMap<ScalarNode, unknown> };
}

/**
 * A section the file copies elsewhere through an alias (`auth: &au` ... `legacy_auth: *au`):
 * every write would change the copy too, which the write's check refuses; refused here
 * already, so a preview says so with the place and the fix.
 */
function refuseCopied(doc: Document.Parsed, source: string, label: string, node: YAMLMap, name: string): void {
  const anchor = node.anchor;
  if (!anchor) return;
  let copy: unknown;
  visit(doc, {
    Alias(_, alias) {
      if (alias.source !== anchor) return undefined;
      copy = alias;
      return visit.BREAK;
    },
  });
  if (copy) {
    throw refuseAt(
      label,
      source,
      copy,
      `this alias (*${anchor}) copies ${name}, which every write changes: write the values it needs out here, ` +
        `and remove the anchor (&${anchor}) from ${name}`,
    );
  }
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

export type ScalarNode = { value: unknown; range: [number, number, number] };
type NamedPair = Pair<ScalarNode, unknown> & { key: ScalarNode };

function findPair(map: YAMLMap<unknown, unknown>, key: string): NamedPair | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key) as NamedPair | undefined;
}

function isNullScalar(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

/** A node's value as FetchML reads it (aliases resolved, within the limit). */
export function toPlain(doc: Document.Parsed, node: unknown): unknown {
  return isNode(node) ? node.toJS(doc, { maxAliasCount: SERVER_CONFIG_LIMITS.aliases }) : node;
}
