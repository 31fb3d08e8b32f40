import { describe, expect, it } from "vitest";
import {
  newItem,
  planVault as planVaultMap,
  updatedItem,
  type VaultItem,
  type VaultRecord,
  type VaultUser,
} from "../../../steps/vaultPlan";

/** The plan takes the last run's records as a Map; tests write them as objects. */
const planVault = (desired: VaultUser[], previous: Record<string, VaultRecord>, existing: VaultItem[], org: string, stack?: string) =>
  planVaultMap(desired, new Map(Object.entries(previous)), existing, org, stack);

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

  it("names what an item in the user's collections holds that this tool did not write, and does not keep it beside the key", () => {
    const planted = item("x9", user("dan"), {
      notes: "ping me",
      login: { username: "dan", password: "key-dan", uris: [{ uri: "https://evil.example/collect" }] } as VaultItem["login"],
      fields: [
        { name: "api_key_hash", value: "hash-key-dan", type: 1 },
        { name: "callback", value: "https://evil.example/hook", type: 0 },
      ],
    });
    // Even with the right key already in it, the item is not "as wanted": it is cleared.
    expect(planVault([user("dan")], {}, [planted], ORG).actions).toMatchObject([
      {
        kind: "update",
        adopted: true,
        moveCollections: false,
        removes: ['URI "https://evil.example/collect"', "notes", 'custom field "callback"'],
      },
    ]);
  });

  it("never takes over an item another stack wrote, even in the user's own collections: it stays, named, and the key goes into a new item (F1c)", () => {
    // Two stacks with one itemPrefix and one collection: stack prod's item holds its live key.
    const prods = { id: "s1", ...(newItem(user("alice", "prod-key"), ORG, "organization/fetchml-keys/prod") as object) } as VaultItem;
    const plan = planVault([user("alice")], {}, [prods], ORG, "organization/fetchml-keys/dev");
    expect(plan.actions).toEqual([{ kind: "create", user: user("alice") }]);
    expect(plan.warnings).toEqual([
      'an item named "FetchML API alice" (s1) was written by stack "organization/fetchml-keys/prod": it is left as it is, ' +
        "and alice's key goes into a new item. Give each stack its own bitwarden.itemPrefix",
    ]);
    // Its own, and one no stack wrote (the old helper script's, 1.0.0's), are still taken.
    const own = { id: "d1", ...(newItem(user("alice", "old"), ORG, "organization/fetchml-keys/dev") as object) } as VaultItem;
    expect(planVault([user("alice")], {}, [prods, own], ORG, "organization/fetchml-keys/dev").actions).toMatchObject([
      { kind: "update", adopted: true, item: { id: "d1" } },
    ]);
    expect(planVault([user("alice")], {}, [item("h1", user("alice", "hand"))], ORG, "organization/fetchml-keys/dev").actions).toMatchObject(
      [{ kind: "update", adopted: true, item: { id: "h1" } }],
    );
  });

  it("names the stack in what it writes, leaves 1.0.0's items (no stack field) as they are while the key stays, and never writes into its own item once it names another stack", () => {
    const dev = "organization/fetchml-keys/dev";
    expect(newItem(user("alice"), ORG, dev)).toMatchObject({
      fields: [
        { name: "api_key_hash", value: "hash-key-alice", type: 1 },
        { name: "fetchml_keys_stack", value: dev, type: 0 },
      ],
    });
    const record = { alice: { id: "a1", fingerprint: "fp-key-alice" } };
    expect(planVault([user("alice")], record, [item("a1", user("alice"))], ORG, dev).actions.map((a) => a.kind)).toEqual(["keep"]);
    // A recorded item that now names another stack (an edit by whoever can write the collection,
    // or that stack's adoption of it) is that stack's: left, named, the key in another item
    // (attack48 S2: else the two stacks wrote their keys over each other's, run after run).
    const relabelled = { id: "a1", ...(newItem(user("alice"), ORG, "organization/fetchml-keys/prod") as object) } as VaultItem;
    const plan = planVault([user("alice")], record, [relabelled], ORG, dev);
    expect(plan.actions).toEqual([{ kind: "create", user: user("alice"), recordedWriter: "organization/fetchml-keys/prod" }]);
    expect(plan.warnings).toEqual([
      'item a1, which the last run wrote for alice, now says stack "organization/fetchml-keys/prod" wrote it: it is left as it is, ' +
        "and alice's key goes into another item. Give each stack its own bitwarden.itemPrefix",
    ]);
    expect((updatedItem(item("h1", user("alice", "hand")), user("alice"), dev) as { fields: unknown }).fields).toEqual([
      { name: "api_key_hash", value: "hash-key-alice", type: 1 },
      { name: "fetchml_keys_stack", value: dev, type: 0 },
    ]);
  });

  it("ends a takeover where it began: once another stack has written its name into this stack's item, this stack leaves it (attack48 S2)", () => {
    // Two stacks, one prefix and one collection. An org member strips stack A's field from its
    // item; stack B adopts it (no field: as 1.0.0's items are). Then neither may write over the
    // other's key again (on bdb8036 A and B wrote into x1 in turn, every run).
    const A = "organization/fetchml-keys/lab";
    const B = "organization/fetchml-keys/other";
    const alice = (key: string): VaultUser => ({ ...user("alice", key) });
    let x1 = { id: "x1", ...(newItem(alice("ka"), ORG, A) as object) } as VaultItem;
    x1 = { ...x1, fields: (x1.fields ?? []).filter((f) => f.name !== "fetchml_keys_stack") };
    const byB = planVaultMap([alice("kb")], new Map(), [x1], ORG, B);
    expect(byB.actions).toMatchObject([{ kind: "update", adopted: true, item: { id: "x1" } }]);
    x1 = { id: "x1", ...(updatedItem(x1, alice("kb"), B) as object) } as VaultItem;
    const byA = planVaultMap([alice("ka")], new Map([["alice", { id: "x1", fingerprint: "fp-ka" }]]), [x1], ORG, A);
    expect(byA.actions).toEqual([{ kind: "create", user: alice("ka"), recordedWriter: B }]);
    const byBAgain = planVaultMap([alice("kb")], new Map([["alice", { id: "x1", fingerprint: "fp-kb" }]]), [x1], ORG, B);
    expect(byBAgain.actions.map((a) => a.kind)).toEqual(["keep"]);
  });

  it("never takes over an item of the user's name outside the user's collections: it stays, named, and the key goes into a new item (attack46 F1)", () => {
    // Another stack's item (same prefix, its own collection, its live key), one a member planted
    // where everyone reads, one in this user's collection and another, one in no collection.
    const otherStack = item("s1", user("alice", "other-stack-key"), { collectionIds: ["prod-only"] });
    const planted = item("p1", user("alice", "planted"), { collectionIds: ["everyone"], attachments: [{ id: "a", fileName: "x" }] });
    const straddling = item("b1", user("alice", "both"), { collectionIds: [COL, "everyone"] });
    const nowhere = item("n1", user("alice", "nowhere"), { collectionIds: [] });
    const plan = planVault([user("alice")], {}, [otherStack, planted, straddling, nowhere], ORG);
    expect(plan.actions).toEqual([{ kind: "create", user: user("alice") }]);
    expect(plan.refusals).toEqual([]);
    expect(plan.warnings).toEqual([
      expect.stringContaining(
        `an item named "FetchML API alice" (s1, collections prod-only) is outside alice's collections (${COL}): it is left as it is, and alice's key goes into a new item`,
      ),
      expect.stringContaining("(p1, collections everyone)"),
      expect.stringContaining(`(b1, collections ${COL}, everyone)`),
      expect.stringContaining("(n1, collections none)"),
    ]);
    expect(plan.warnings[0]).toContain("give each stack its own bitwarden.itemPrefix");
    // Beside one inside the user's collections, that one is used and the others are still left.
    const inside = item("i1", user("alice", "old-script"));
    const withInside = planVault([user("alice")], {}, [otherStack, inside], ORG);
    expect(withInside.actions).toMatchObject([{ kind: "update", adopted: true, item: { id: "i1" } }]);
    expect(withInside.warnings).toEqual([expect.stringContaining("alice's key goes into item i1")]);
  });

  it("moves the item it wrote last run back to the configured collections when someone moved it", () => {
    const moved = item("a1", user("alice"), { collectionIds: ["everyone"] });
    expect(planVault([user("alice")], { alice: { id: "a1", fingerprint: "fp-key-alice" } }, [moved], ORG).actions).toMatchObject([
      { kind: "update", adopted: false, moveCollections: true, item: { id: "a1" } },
    ]);
  });

  it("refuses, naming the item and its collections, an item with attachments (an edit cannot remove them)", () => {
    const planted = item("x9", user("dan"), { attachments: [{ id: "a", fileName: "x" }] });
    const plan = planVault([user("dan")], {}, [planted], ORG);
    expect(plan.actions).toEqual([]);
    expect(plan.refusals).toEqual([expect.stringContaining(`item "FetchML API dan" (x9, collections ${COL}) has 1 attachment(s)`)]);
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

  it("writes an adopted item whole: the key, the hash and our notes, nothing of what it held before", () => {
    const old = item("x", user("erin"), {
      notes: "ping me",
      login: {
        username: "erin",
        password: "planted",
        uris: [{ uri: "https://evil.example/x" }],
        totp: "otpauth://x",
      } as VaultItem["login"],
      fields: [
        { name: "team", value: "ml", type: 0 },
        { name: "api_key_hash", value: "old", type: 0 },
      ],
    });
    const next = updatedItem(old, user("erin", "new")) as Record<string, any>;
    expect(next.notes).not.toBe("ping me");
    expect(next.login).toEqual({ username: "erin", password: "new", uris: [], totp: null, fido2Credentials: [] });
    expect(next.fields).toEqual([{ name: "api_key_hash", value: "hash-new", type: 1 }]);
    expect(next.collectionIds).toEqual([COL]);
  });
});
