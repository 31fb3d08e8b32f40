/**
 * Decides what one vault run does, from what stack config wants, what the last run wrote,
 * and what the vault holds now. Pure, so every rule is tested without `bw`. An item that
 * already matches costs no call; an item of the right name made by hand (the old helper
 * script) is adopted rather than duplicated; items are found by the id the last run stored,
 * never deleted by name (a replacement is created before the old one is deleted).
 *
 * An item holding a key is exactly what this tool writes: its collections are the configured
 * ones and nothing else (no URIs, notes or fields of someone else's beside the key). An item of
 * the user's name found outside those collections (another stack's of the same prefix, or one a
 * member pre-created in a collection they read) is never taken over: it stays as it is, named
 * in a warning, and the key goes into a new item; so is one another stack wrote (its
 * STACK_FIELD names that stack: two stacks with one prefix and one collection). One found
 * inside them is overwritten whole;
 * the item this tool wrote last run and that someone moved is moved back first, so that no state
 * of it holds the key together with a foreign collection. What is removed is named;
 * attachments (which an edit cannot remove) refuse the run.
 */
import { z } from "zod";
import { apiKeyHash } from "../lib/authSection";
import { quoted } from "../lib/printable";
import { plainName } from "./protocol";

export const HASH_FIELD = "api_key_hash";
/** The stack that wrote an item (org/project/stack), a plain-text field beside the hash: whose item it is. */
export const STACK_FIELD = "fetchml_keys_stack";

/** One Bitwarden user in vault-write's request (steps/vault.ts): the key, its hash, and where its item goes. */
export const vaultUser = z.strictObject({
  name: plainName,
  itemName: plainName,
  apiKey: z.string().min(1),
  apiKeyHash,
  fingerprint: z.string(),
  collectionIds: z.array(z.string()).min(1),
});
export type VaultUser = z.infer<typeof vaultUser>;

/** The item a user's key is in, as vault-write prints it (public: an id and a fingerprint). */
export const vaultRecord = z.strictObject({ id: z.string(), fingerprint: z.string() });
export type VaultRecord = z.infer<typeof vaultRecord>;

/** An item as `bw` returns it (decrypted). */
export interface VaultItem {
  id: string;
  name: string;
  organizationId: string | null;
  collectionIds?: string[];
  deletedDate?: string | null;
  login?: { username?: string | null; password?: string | null } | null;
  fields?: Array<{ name?: string | null; value?: string | null; type?: number }> | null;
  [key: string]: unknown;
}

/**
 * `recordedWriter`, on a create or update: the last run's item for the user is still there but
 * names this other stack as its writer now, so it is left as it is and the key goes elsewhere.
 */
export type VaultAction =
  | { kind: "create"; user: VaultUser; recordedWriter?: string }
  | {
      kind: "update";
      user: VaultUser;
      item: VaultItem;
      adopted: boolean;
      recordedWriter?: string;
      moveCollections: boolean;
      /** What the item holds that this tool did not write (removed by the update), in words. */
      removes: string[];
    }
  | { kind: "keep"; user: VaultUser; item: VaultItem }
  | { kind: "remove"; name: string; id: string };

export interface VaultPlan {
  actions: VaultAction[];
  warnings: string[];
  /** Why no item may be written this run (an item this tool cannot make clean). */
  refusals: string[];
}

/** The notes of every item this tool writes. */
export const ITEM_NOTES = "Issued by fetchml-keys. The password is your FetchML API key: put it in ~/.ml/config.toml as api_key.";

/**
 * `stack`: the stack this run writes for; undefined when not known (the runner's `refresh`, a
 * 1.0.0 request), when no item another stack wrote is adopted, and this stack's own item (by its
 * record) keeps whatever stack it names.
 */
export function planVault(
  desired: readonly VaultUser[],
  previous: ReadonlyMap<string, VaultRecord>,
  existing: readonly VaultItem[],
  organizationId: string,
  stack?: string,
): VaultPlan {
  const live = existing.filter((i) => i.organizationId === organizationId && !i.deletedDate);
  const actions: VaultAction[] = [];
  const warnings: string[] = [];
  const refusals: string[] = [];
  for (const user of desired) {
    const stored = previous.get(user.name);
    const recorded = stored && live.find((i) => i.id === stored.id);
    // The item this stack wrote, unless it now says another stack wrote it (an edit by whoever can
    // write the collection, or that stack's adoption of it): then it is that stack's, and writing
    // over it again would hand each stack's key to the other's history, run after run.
    const byId = recorded && !anotherStacks(recorded, stack) ? recorded : undefined;
    const recordedWriter = recorded && !byId ? writerOf(recorded) : undefined;
    const left = recordedWriter === undefined ? {} : { recordedWriter };
    if (recorded && recordedWriter !== undefined) {
      warnings.push(
        `item ${recorded.id}, which the last run wrote for ${user.name}, now says stack ${quoted(recordedWriter)} wrote it: ` +
          `it is left as it is, and ${user.name}'s key goes into another item. Give each stack its own bitwarden.itemPrefix`,
      );
    }
    const byName = byId ? [] : live.filter((i) => i.name === user.itemName && i !== recorded);
    // Only an item already inside the user's collections is taken over: one elsewhere is
    // someone else's (another stack's, whose key in it may be live, or a member's), and moving
    // or writing over it would hand its content to this stack's readers and take it from theirs.
    const inside = byName.filter(
      (i) => (i.collectionIds ?? []).length > 0 && (i.collectionIds ?? []).every((c) => user.collectionIds.includes(c)),
    );
    // Nor one another stack wrote, even in the same collections: its key may be live on that
    // stack's servers, and would end in this item's password history for this stack's readers.
    const adoptable = inside.filter((i) => writerOf(i) === undefined || (stack !== undefined && writerOf(i) === stack));
    const item = byId ?? adoptable[0];
    for (const other of inside.filter((i) => !adoptable.includes(i))) {
      warnings.push(
        `an item named ${quoted(user.itemName)} (${other.id}) was written by stack ${quoted(writerOf(other) ?? "")}: it is left as it is, ` +
          `and ${user.name}'s key goes into ${item ? `item ${item.id}` : "a new item"}. Give each stack its own bitwarden.itemPrefix`,
      );
    }
    for (const other of byName.filter((i) => !inside.includes(i))) {
      warnings.push(
        `an item named ${quoted(user.itemName)} (${other.id}, collections ${list(other.collectionIds ?? [])}) is outside ${user.name}'s ` +
          `collections (${list(user.collectionIds)}): it is left as it is, and ${user.name}'s key goes into ${item ? `item ${item.id}` : "a new item"}. ` +
          "If another stack writes it, give each stack its own bitwarden.itemPrefix; if it is an old item of this user's, delete it",
      );
    }
    if (adoptable.length > 1) {
      warnings.push(`${adoptable.length} items are named "${user.itemName}"; using ${item!.id}, leaving the others alone`);
    }
    if (!item) {
      actions.push({ kind: "create", user, ...left });
      continue;
    }
    const attachments = Array.isArray(item.attachments) ? item.attachments.length : 0;
    if (attachments > 0) {
      refusals.push(
        `item ${quoted(item.name)} (${item.id}, collections ${list(item.collectionIds ?? [])}) has ${attachments} attachment(s) this tool ` +
          `did not write, and ${user.name}'s key will not be put beside them: delete the attachments or the item, then run up again`,
      );
      continue;
    }
    const removes = foreignContent(item);
    const moveCollections = !sameSet(item.collectionIds ?? [], user.collectionIds);
    // Kept only exactly as this tool writes it: nothing differs, the user's collections, nothing else.
    if (differences(item, user, stack).length === 0 && !moveCollections && removes.length === 0) {
      actions.push({ kind: "keep", user, item });
    } else {
      actions.push({ kind: "update", user, item, adopted: item.id !== stored?.id, ...left, moveCollections, removes });
    }
  }
  const wanted = new Set(desired.map((u) => u.name));
  for (const [name, record] of previous) {
    if (!wanted.has(name) && live.some((i) => i.id === record.id)) actions.push({ kind: "remove", name, id: record.id });
  }
  return { actions, warnings, refusals };
}

/**
 * What an item holds that this tool never writes, in words (URIs in full: they are where a
 * browser would fill the key in; notes and field values are not repeated, only named).
 */
export function foreignContent(item: VaultItem): string[] {
  const found: string[] = [];
  if (item.type !== undefined && item.type !== 1) found.push(`item type ${String(item.type)} (not a login)`);
  const login = (item.login ?? {}) as Record<string, unknown>;
  const uris = Array.isArray(login.uris) ? (login.uris as Array<{ uri?: string | null }>) : [];
  for (const u of uris) found.push(`URI ${quoted(String(u?.uri ?? "").slice(0, 120))}`);
  if (login.totp) found.push("a TOTP secret");
  if (Array.isArray(login.fido2Credentials) && login.fido2Credentials.length > 0) found.push("passkeys");
  if (item.notes && item.notes !== ITEM_NOTES) found.push("notes");
  for (const f of item.fields ?? [])
    if (f.name !== HASH_FIELD && f.name !== STACK_FIELD) found.push(`custom field ${quoted(f.name ?? "")}`);
  for (const part of ["card", "identity", "secureNote", "sshKey"]) if (item[part]) found.push(`${part} data`);
  return found;
}

function list(ids: readonly string[]): string {
  return ids.length > 0 ? ids.join(", ") : "none";
}

/** Whether an item names a stack other than `stack` as its writer (never, while `stack` is not known). */
function anotherStacks(item: VaultItem, stack: string | undefined): boolean {
  const writer = writerOf(item);
  return stack !== undefined && writer !== undefined && writer !== stack;
}

/** The stack an item's STACK_FIELD names; undefined when it has none (1.0.0's items, hand-made ones). */
function writerOf(item: VaultItem): string | undefined {
  return (item.fields ?? []).find((f) => f.name === STACK_FIELD)?.value ?? undefined;
}

/**
 * How an item differs from the one this stack writes for the user, in words (its collections and
 * what this tool never writes aside: an update's moveCollections and removes say those). An item
 * without a stack field (as 1.0.0 wrote them) does not differ for that: it gains one when its key
 * next changes, not in a run that changes no key.
 */
export function differences(item: VaultItem, user: VaultUser, stack: string | undefined): string[] {
  const fields = item.fields ?? [];
  const hashField = fields.filter((f) => f.name === HASH_FIELD);
  const stackField = fields.filter((f) => f.name === STACK_FIELD);
  const found: string[] = [];
  if (item.name !== user.itemName) found.push("its name is not the one this tool gives it");
  if (item.login?.username !== user.name) found.push(`its login name is not ${user.name}`);
  if (item.login?.password !== user.apiKey || hashField[0]?.value !== user.apiKeyHash)
    found.push(`it no longer holds ${user.name}'s key as the last run wrote it (changed by hand)`);
  if (hashField.length !== 1 || hashField[0].type !== 1) found.push(`its ${HASH_FIELD} field is not one hidden field`);
  if (stackField.length > 1 || stackField.some((f) => stack !== undefined && (f.value !== stack || f.type !== 0)))
    found.push(`its ${STACK_FIELD} field is not one text field naming this stack`);
  return found;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

/** A new item: login = user and key, the hash as a hidden field (type 1), the stack that wrote it (type 0), in the org. */
export function newItem(user: VaultUser, organizationId: string, stack?: string): Record<string, unknown> {
  return {
    organizationId,
    collectionIds: [...user.collectionIds],
    type: 1,
    name: user.itemName,
    notes: ITEM_NOTES,
    favorite: false,
    reprompt: 0,
    login: { username: user.name, password: user.apiKey, uris: [], totp: null },
    fields: [{ name: HASH_FIELD, value: user.apiKeyHash, type: 1 }, ...(stack ? [{ name: STACK_FIELD, value: stack, type: 0 }] : [])],
    secureNote: null,
    card: null,
    identity: null,
  };
}

/**
 * The existing item as this tool writes it, in one edit: the key, the hash, our notes, and
 * nothing this tool did not write (URIs, other fields, notes, TOTP: see foreignContent). Only
 * the vault's own bookkeeping (id, folder, favourite, password history) is kept. The
 * collections are the configured ones: `bw edit` merges the request's with the item's, and the
 * step has already moved the item there.
 */
export function updatedItem(item: VaultItem, user: VaultUser, stack?: string): Record<string, unknown> {
  return {
    ...item,
    ...newItem(user, item.organizationId ?? "", stack),
    organizationId: item.organizationId,
    favorite: item.favorite ?? false,
    login: { username: user.name, password: user.apiKey, uris: [], totp: null, fido2Credentials: [] },
    sshKey: null,
  };
}
