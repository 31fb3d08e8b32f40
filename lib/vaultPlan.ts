/**
 * Decides what one vault run does, from what stack config wants, what the last run wrote,
 * and what the vault holds now. Pure, so every rule is tested without `bw`. An item that
 * already matches costs no call; an item of the right name made by hand (the old helper
 * script) is adopted rather than duplicated; items are found by the id the last run stored,
 * never deleted by name (a replacement is created before the old one is deleted).
 */

export const HASH_FIELD = "api_key_hash";

export type { VaultRecord, VaultUser } from "../steps/protocol";
import type { VaultRecord, VaultUser } from "../steps/protocol";

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

export type VaultAction =
  | { kind: "create"; user: VaultUser }
  | { kind: "update"; user: VaultUser; item: VaultItem; adopted: boolean; moveCollections: boolean }
  | { kind: "keep"; user: VaultUser; item: VaultItem }
  | { kind: "remove"; name: string; id: string };

export interface VaultPlan {
  actions: VaultAction[];
  warnings: string[];
}

export function planVault(
  desired: readonly VaultUser[],
  previous: ReadonlyMap<string, VaultRecord>,
  existing: readonly VaultItem[],
  organizationId: string,
): VaultPlan {
  const live = existing.filter((i) => i.organizationId === organizationId && !i.deletedDate);
  const actions: VaultAction[] = [];
  const warnings: string[] = [];
  for (const user of desired) {
    const stored = previous.get(user.name);
    const byId = stored && live.find((i) => i.id === stored.id);
    const byName = live.filter((i) => i.name === user.itemName);
    const item = byId ?? byName[0];
    if (!byId && byName.length > 1) {
      warnings.push(`${byName.length} items are named "${user.itemName}"; using ${item!.id}, leaving the others alone`);
    }
    if (!item) {
      actions.push({ kind: "create", user });
    } else if (matches(item, user)) {
      actions.push({ kind: "keep", user, item });
    } else {
      actions.push({
        kind: "update",
        user,
        item,
        adopted: item.id !== stored?.id,
        moveCollections: !sameSet(item.collectionIds ?? [], user.collectionIds),
      });
    }
  }
  const wanted = new Set(desired.map((u) => u.name));
  for (const [name, record] of previous) {
    if (!wanted.has(name) && live.some((i) => i.id === record.id)) actions.push({ kind: "remove", name, id: record.id });
  }
  return { actions, warnings };
}

/** The item exactly as it should be: the key, the hash field, the name, the collections. */
function matches(item: VaultItem, user: VaultUser): boolean {
  const hashField = (item.fields ?? []).filter((f) => f.name === HASH_FIELD);
  return (
    item.name === user.itemName &&
    item.login?.username === user.name &&
    item.login?.password === user.apiKey &&
    hashField.length === 1 &&
    hashField[0].value === user.apiKeyHash &&
    hashField[0].type === 1 &&
    sameSet(item.collectionIds ?? [], user.collectionIds)
  );
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

/** A new item: login = user and key, the hash as a hidden field (type 1), in the org. */
export function newItem(user: VaultUser, organizationId: string): Record<string, unknown> {
  return {
    organizationId,
    collectionIds: [...user.collectionIds],
    type: 1,
    name: user.itemName,
    notes: "Issued by fetchml-keys. The password is your FetchML API key: put it in ~/.ml/config.toml as api_key.",
    favorite: false,
    reprompt: 0,
    login: { username: user.name, password: user.apiKey, uris: [], totp: null },
    fields: [{ name: HASH_FIELD, value: user.apiKeyHash, type: 1 }],
    secureNote: null,
    card: null,
    identity: null,
  };
}

/** The existing item with our fields brought up to date and everything else kept. */
export function updatedItem(item: VaultItem, user: VaultUser): Record<string, unknown> {
  const others = (item.fields ?? []).filter((f) => f.name !== HASH_FIELD);
  return {
    ...item,
    name: user.itemName,
    login: { ...(item.login ?? {}), username: user.name, password: user.apiKey },
    fields: [...others, { name: HASH_FIELD, value: user.apiKeyHash, type: 1 }],
  };
}
