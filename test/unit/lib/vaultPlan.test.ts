import { describe, expect, it } from "vitest";
import { newItem, planVault as planVaultMap, updatedItem, type VaultItem, type VaultRecord, type VaultUser } from "../../../lib/vaultPlan";

/** The plan takes the last run's records as a Map; tests write them as objects. */
const planVault = (desired: VaultUser[], previous: Record<string, VaultRecord>, existing: VaultItem[], org: string) =>
  planVaultMap(desired, new Map(Object.entries(previous)), existing, org);

const ORG = "11111111-1111-1111-1111-111111111111";
const COL = "22222222-2222-2222-2222-222222222222";
const user = (name: string, key = `key-${name}`): VaultUser => ({
  name,
  itemName: `FetchML API ${name}`,
  apiKey: key,
  apiKeyHash: `hash-${key}`,
  fingerprint: `fp-${key}`,
  collectionIds: [COL],
});
const item = (id: string, u: VaultUser, extra: Partial<VaultItem> = {}): VaultItem =>
  ({
    id,
    ...(newItem(u, ORG) as object),
    ...extra,
  }) as VaultItem;

describe("planVault", () => {
  it("creates items for new users", () => {
    expect(planVault([user("alice")], {}, [], ORG).actions).toEqual([{ kind: "create", user: user("alice") }]);
  });

  it("costs no call when the item already holds the key, hash, name and collections", () => {
    const plan = planVault([user("alice")], { alice: { id: "a1", fingerprint: "fp-key-alice" } }, [item("a1", user("alice"))], ORG);
    expect(plan.actions.map((a) => a.kind)).toEqual(["keep"]);
  });

  it("edits the stored item (by id) when the key rotated", () => {
    const plan = planVault([user("alice", "new")], { alice: { id: "a1", fingerprint: "fp-key-alice" } }, [item("a1", user("alice"))], ORG);
    expect(plan.actions).toMatchObject([{ kind: "update", adopted: false, moveCollections: false, item: { id: "a1" } }]);
  });

  it("finds the item by stored id even if someone renamed it, and renames it back", () => {
    const renamed = item("a1", user("alice"), { name: "alice old" });
    const plan = planVault([user("alice")], { alice: { id: "a1", fingerprint: "fp-key-alice" } }, [renamed], ORG);
    expect(plan.actions).toMatchObject([{ kind: "update", item: { id: "a1" } }]);
    expect(updatedItem(renamed, user("alice")).name).toBe("FetchML API alice");
  });

  it("adopts an existing item of the same name in the organization instead of duplicating it", () => {
    const old = item("x9", user("erin", "hand-made"));
    const plan = planVault([user("erin")], {}, [old], ORG);
    expect(plan.actions).toMatchObject([{ kind: "update", adopted: true, item: { id: "x9" } }]);
  });

  it("ignores items in other organizations and in the trash", () => {
    const elsewhere = item("o1", user("erin"), { organizationId: "33333333-3333-3333-3333-333333333333" });
    const trashed = item("t1", user("erin"), { deletedDate: "2026-01-01T00:00:00Z" });
    expect(planVault([user("erin")], {}, [elsewhere, trashed], ORG).actions.map((a) => a.kind)).toEqual(["create"]);
  });

  it("recreates an item someone deleted from the vault", () => {
    expect(planVault([user("alice")], { alice: { id: "gone", fingerprint: "fp-key-alice" } }, [], ORG).actions.map((a) => a.kind)).toEqual([
      "create",
    ]);
  });

  it("warns about several items of one name and uses one of them", () => {
    const plan = planVault([user("erin")], {}, [item("e1", user("erin", "a")), item("e2", user("erin", "b"))], ORG);
    expect(plan.warnings).toEqual([expect.stringContaining('2 items are named "FetchML API erin"')]);
    expect(plan.actions).toHaveLength(1);
  });

  it("moves an item to the configured collections", () => {
    const other = item("a1", user("alice"), { collectionIds: ["44444444-4444-4444-4444-444444444444"] });
    expect(planVault([user("alice")], { alice: { id: "a1", fingerprint: "fp-key-alice" } }, [other], ORG).actions).toMatchObject([
      { kind: "update", moveCollections: true },
    ]);
  });

  it("removes, by stored id, the items of users no longer declared", () => {
    const plan = planVault([], { carol: { id: "c1", fingerprint: "x" } }, [item("c1", user("carol"))], ORG);
    expect(plan.actions).toEqual([{ kind: "remove", name: "carol", id: "c1" }]);
  });

  it("never removes by name: an item it did not write is left alone", () => {
    expect(planVault([], {}, [item("c1", user("carol"))], ORG).actions).toEqual([]);
  });
});

describe("item bodies", () => {
  it("puts the key in the password and the hash in a hidden field, in the organization", () => {
    expect(newItem(user("alice"), ORG)).toMatchObject({
      organizationId: ORG,
      collectionIds: [COL],
      type: 1,
      name: "FetchML API alice",
      login: { username: "alice", password: "key-alice" },
      fields: [{ name: "api_key_hash", value: "hash-key-alice", type: 1 }],
    });
  });

  it("keeps an adopted item's other fields and notes", () => {
    const old = item("x", user("erin"), {
      notes: "keep me",
      fields: [
        { name: "team", value: "ml", type: 0 },
        { name: "api_key_hash", value: "old", type: 0 },
      ],
    });
    const next = updatedItem(old, user("erin", "new"));
    expect(next.notes).toBe("keep me");
    expect(next.fields).toEqual([
      { name: "team", value: "ml", type: 0 },
      { name: "api_key_hash", value: "hash-new", type: 1 },
    ]);
  });
});
