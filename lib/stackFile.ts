/**
 * The everyday edits of a stack file (stacks/Pulumi.<stack>.yaml), as `user` commands make
 * them: add, rotate, suspend, resume, remove. The yaml Document API edits the tree, so the
 * admin's comments and the order of entries stay; the result is checked with the program's
 * own schema before anyone writes it. Pure.
 */
import { isMap, isScalar, parseDocument, type Document, YAMLMap } from "yaml";
import { ConfigError } from "../config/problems";
import { CONFIG_NAMESPACE, readNamespace, strayKeys } from "../config/rawConfig";
import { parseSettings, type Settings } from "../config/settings";

export type UserEdit =
  /** Without a role the user gets defaults.role (the check below refuses it when there is none). */
  | { kind: "add"; name: string; role?: string; delivery?: string }
  | { kind: "rotate"; name: string }
  | { kind: "suspend"; name: string }
  | { kind: "resume"; name: string }
  | { kind: "remove"; name: string };

export class StackFileError extends Error {}

const USERS = ["config", `${CONFIG_NAMESPACE}:users`];

/** The stack file after the edit, checked whole; throws StackFileError or ConfigError, changing nothing. */
export function editStackFile(text: string, edit: UserEdit): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new StackFileError(`not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
  const users = usersNode(doc, edit.kind === "add");
  const existing = users.get(edit.name, true);
  if (edit.kind === "add") {
    if (users.has(edit.name)) throw new StackFileError(`users.${edit.name} already exists`);
    users.set(
      doc.createNode(edit.name),
      doc.createNode({ ...(edit.role ? { role: edit.role } : {}), ...(edit.delivery ? { delivery: edit.delivery } : {}) }),
    );
  } else {
    if (!users.has(edit.name)) throw new StackFileError(`users.${edit.name}: no such user (users: ${namesOf(users).join(", ") || "none"})`);
    const user = isMap(existing) ? existing : new YAMLMap();
    if (!isMap(existing)) users.set(edit.name, user);
    if (edit.kind === "rotate") user.set("rotation", numberAt(user, "rotation") + 1);
    if (edit.kind === "suspend") user.set("suspended", true);
    if (edit.kind === "resume") user.delete("suspended");
    if (edit.kind === "remove") users.delete(edit.name);
  }
  const next = keepOutsideUsers(text, doc.toString());
  settingsOf(next); // the same checks as the program: a bad edit is refused before it is written
  return next;
}

/**
 * Stack config as the program would see it (secure values stand as "[secret]"), validated the
 * program's way: Pulumi hands every top-level value over as text (objects as JSON), which
 * readNamespace turns back, so a quoted number here passes or fails exactly as under the engine.
 */
export function settingsOf(text: string): Settings {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new StackFileError(`not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
  const config = (doc.toJS()?.config ?? {}) as Record<string, unknown>;
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    const plain = withoutSecure(value);
    raw[key] = typeof plain === "string" ? plain : JSON.stringify(plain);
  }
  return parseSettings(readNamespace(raw), strayKeys(Object.keys(raw).filter((key) => key.includes(":"))));
}

function withoutSecure(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecure);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "secure") return "[secret]";
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutSecure(v)]));
  }
  return value;
}

/**
 * The edited file with everything outside the users section exactly as it was: the yaml
 * library re-renders a whole document in its own style (flow lists padded, indentation,
 * long lines), and an edit of one user must show as that user's lines in review.
 */
function keepOutsideUsers(original: string, rendered: string): string {
  const before = parseDocument(original).getIn(USERS, true);
  const after = parseDocument(rendered).getIn(USERS, true);
  if (!isMap(before) || !isMap(after) || !before.range || !after.range) return rendered;
  return original.slice(0, before.range[0]) + rendered.slice(after.range[0], after.range[2]) + original.slice(before.range[2]);
}

function usersNode(doc: Document, create: boolean): YAMLMap {
  const node = doc.getIn(USERS, true);
  if (isMap(node)) return node;
  if (!create) throw new StackFileError("the stack file declares no users");
  const users = new YAMLMap();
  doc.setIn(USERS, users);
  return users;
}

function namesOf(users: YAMLMap): string[] {
  return users.items.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : String(pair.key)));
}

function numberAt(map: YAMLMap, key: string): number {
  const value = map.get(key);
  return typeof value === "number" ? value : 0;
}

/**
 * The lines an edit changed, as a unified diff with `context` lines around each change (the
 * stack file is short, so a plain longest-common-subsequence table is cheap).
 */
export function lineDiff(before: string, after: string, label: string, context = 2): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const ops: Array<{ op: " " | "-" | "+"; line: string; ai: number; bi: number }> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({ op: " ", line: a[i++], ai: i, bi: ++j });
    else if (j < b.length && (i >= a.length || lcs[i][j + 1] >= lcs[i + 1][j])) ops.push({ op: "+", line: b[j++], ai: i, bi: j });
    else ops.push({ op: "-", line: a[i++], ai: i, bi: j });
  }
  const changed = ops.map((o, k) => (o.op !== " " ? k : -1)).filter((k) => k >= 0);
  if (changed.length === 0) return [];
  const out = [`--- ${label}`, `+++ ${label}`];
  let k = 0;
  while (k < changed.length) {
    const start = Math.max(0, changed[k] - context);
    let end = changed[k];
    while (k < changed.length && changed[k] <= end + 2 * context + 1) end = changed[k++];
    const hunk = ops.slice(start, Math.min(ops.length, end + context + 1));
    const oldLines = hunk.filter((o) => o.op !== "+").length;
    const newLines = hunk.filter((o) => o.op !== "-").length;
    const first = ops[start];
    const oldStart = first.op === "+" ? first.ai + 1 : first.ai;
    const newStart = first.op === "-" ? first.bi + 1 : first.bi;
    out.push(`@@ -${oldStart},${oldLines} +${newStart},${newLines} @@`, ...hunk.map((o) => `${o.op}${o.line}`));
  }
  return out;
}

export { ConfigError };
