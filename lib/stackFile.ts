/**
 * The everyday edits of a stack file (stacks/Pulumi.<stack>.yaml), as `user` commands make
 * them: add, rotate, suspend, resume, remove. The yaml Document API edits the tree, so the
 * admin's comments and the order of entries stay; the result is checked with the program's
 * own schema before anyone writes it. Pure.
 */
import { isMap, isScalar, parseDocument, type Document, YAMLMap } from "yaml";
import { CONFIG_NAMESPACE, ConfigError, parseSettings, type Settings } from "../config/settings";

export type UserEdit =
  | { kind: "add"; name: string; role: string; delivery?: string }
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
    users.set(doc.createNode(edit.name), doc.createNode({ role: edit.role, ...(edit.delivery ? { delivery: edit.delivery } : {}) }));
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

/** Stack config as the program would see it (secure values stand as "[secret]"), validated. */
export function settingsOf(text: string): Settings {
  const config = (parseDocument(text).toJS()?.config ?? {}) as Record<string, unknown>;
  const ours: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith(`${CONFIG_NAMESPACE}:`)) ours[key.slice(CONFIG_NAMESPACE.length + 1)] = withoutSecure(value);
  }
  return parseSettings(ours);
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

export { ConfigError };
