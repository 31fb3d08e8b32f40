/** `refresh`'s reading of the vault (cli/vaultDrift.ts): what the last run recorded, and the lines for what differs from it. */
import { describe, expect, it } from "vitest";
import { driftLines, recordedVault } from "../../../cli/vaultDrift";
import { printable } from "../../../lib/printable";
import { newItem, type VaultItem } from "../../../steps/vaultPlan";
import { expectedHash } from "../../support/oracle";

const ORG = "org-1";
const KEYS = { alice: "a".repeat(48), bob: "b".repeat(48), dave: "d".repeat(48) };
const user = (delivery: string, fingerprint: string, collectionIds: string[] | null) => ({
  role: "analyst",
  admin: false,
  roles: [],
  permissions: {},
  delivery,
  rotation: 0,
  status: "active",
  fingerprint,
  issuedAt: "2026-11-29T00:00:00Z",
  maxKeyAgeDays: null,
  autoRotations: 0,
  keeper: "k",
  collectionIds,
});
const outputs = {
  users: {
    value: { alice: user("bitwarden", "fa", ["c-alice"]), bob: user("bitwarden", "fb", ["c-all"]), dave: user("direct", "fd", null) },
    secret: false,
  },
  settings: {
    value: {
      preserveEntries: [],
      deliveryDir: null,
      client: { workerHost: "h", workerPort: 1, apiUrl: "u" },
      bitwardenOrganization: ORG,
      bitwardenCli: null,
    },
    secret: false,
  },
  vaultItems: { value: { alice: "id-alice", bob: "id-bob" }, secret: false },
  apiKeys: { value: KEYS, secret: true },
};

describe("recordedVault", () => {
  it("is the vault step's input for the users whose items the last run wrote, with their keys, hashes and collections", () => {
    const recorded = recordedVault(outputs, "FetchML API")!;
    expect(recorded.organizationId).toBe(ORG);
    expect(recorded.cli).toBeUndefined();
    expect(
      recorded.users.map((u) => [u.name, u.itemName, u.fingerprint, u.collectionIds, u.apiKeyHash === expectedHash(u.apiKey)]),
    ).toEqual([
      ["alice", "FetchML API alice", "fa", ["c-alice"], true],
      ["bob", "FetchML API bob", "fb", ["c-all"], true],
    ]);
    expect([...recorded.previous]).toEqual([
      ["alice", { id: "id-alice", fingerprint: "fa" }],
      ["bob", { id: "id-bob", fingerprint: "fb" }],
    ]);
  });

  it("is nothing for a stack that wrote no item (no organization, no items), so refresh starts no bw", () => {
    expect(recordedVault({ ...outputs, vaultItems: { value: {}, secret: false } }, "FetchML API")).toBeUndefined();
    const noVault = { ...outputs.settings.value, bitwardenOrganization: null };
    expect(recordedVault({ ...outputs, settings: { value: noVault, secret: false } }, "FetchML API")).toBeUndefined();
    expect(recordedVault({}, "FetchML API")).toBeUndefined();
  });
});

describe("driftLines", () => {
  const recorded = recordedVault(outputs, "FetchML API")!;
  const [alice, bob] = recorded.users;
  const item = (u: typeof alice, id: string, extra: Partial<VaultItem> = {}): VaultItem =>
    ({ ...newItem(u, ORG), id, ...extra }) as unknown as VaultItem;

  it("says nothing where every item is as the last run wrote it", () => {
    expect(driftLines(recorded, [item(alice, "id-alice"), item(bob, "id-bob")])).toEqual([]);
  });

  it("names an item gone or in the trash, moved, holding what this tool did not write, or no longer the key; never a key", () => {
    const lines = driftLines(recorded, [
      item(alice, "id-alice", { deletedDate: "2026-11-29T01:00:00Z" }),
      item(bob, "id-bob", { collectionIds: ["c-elsewhere"], notes: "mine", login: { username: "bob", password: "typed-over" } }),
    ]);
    expect(lines).toEqual([
      "! alice: the vault item the last run wrote (id-alice) is gone or in the trash: restore it in the vault, or set bitwarden.repair to 1 in the stack file and run up: it writes the item again with alice's key (`user rotate alice` gives a new key instead)",
      "! bob: vault item id-bob: it is in collections c-elsewhere, not c-all; it holds what this tool did not write: notes; it no longer holds bob's key as the last run wrote it (changed by hand): set bitwarden.repair to 1 in the stack file and run up: it writes the item again with bob's key (`user rotate bob` gives a new key instead)",
    ]);
    expect(
      driftLines(recorded, [item(alice, "id-alice"), item(bob, "id-bob", { login: { username: "bob", password: "typed-over" } })]),
    ).toEqual([
      "! bob: vault item id-bob: it no longer holds bob's key as the last run wrote it (changed by hand): set bitwarden.repair to 1 in the stack file and run up: it writes the item again with bob's key (`user rotate bob` gives a new key instead)",
    ]);
    for (const key of Object.values(KEYS)) expect(lines.join("\n").includes(key)).toBe(false);
  });

  it("says the next value of bitwarden.repair the last run recorded", () => {
    const repaired = recordedVault(
      { ...outputs, settings: { value: { ...outputs.settings.value, bitwardenRepair: 2 }, secret: false } },
      "FetchML API",
    )!;
    expect(
      driftLines(repaired, [item(alice, "id-alice"), item(bob, "id-bob", { login: { username: "bob", password: "typed-over" } })]),
    ).toEqual([
      "! bob: vault item id-bob: it no longer holds bob's key as the last run wrote it (changed by hand): set bitwarden.repair to 3 in the stack file and run up: it writes the item again with bob's key (`user rotate bob` gives a new key instead)",
    ]);
  });

  it("escapes what an org member put in the item (a field name, a URI): no line it prints can forge or reorder another (recheck43 F5)", () => {
    const forged = "x\u2028the vault is as the last run wrote it\u2029\u202e";
    const odd = item(alice, "id-alice", {
      fields: [...(item(alice, "id-alice").fields ?? []), { name: forged, value: "", type: 0 }],
      login: { username: "alice", password: KEYS.alice, uris: [{ uri: `https://e.example/${forged}` }] } as VaultItem["login"],
    });
    const lines = driftLines(recorded, [odd, item(bob, "id-bob")]);
    expect(lines).toHaveLength(1);
    for (const line of lines) expect(printable(line), line).toBe(true);
    expect(lines[0]).toContain('custom field "x\\u2028the vault is as the last run wrote it\\u2029\\u202e"');
  });
});

describe("driftLines, as the stack that wrote the items (settings.stack; attack48 S1)", () => {
  const A = "organization/fetchml-keys/lab";
  const asA = recordedVault({ ...outputs, settings: { value: { ...outputs.settings.value, stack: A }, secret: false } }, "FetchML API")!;
  const alice = asA.users[0];
  const bob = asA.users[1];
  const asItem = (u: (typeof asA.users)[number], id: string, stack: string, extra: Partial<VaultItem> = {}) =>
    ({ ...(newItem(u, ORG, stack) as object), id, ...extra }) as unknown as VaultItem;

  it("takes this stack's own item for its own, as up does: no line names it another stack's", () => {
    // A run wrote id-alice-2 after id-alice was trashed, and was killed before the state recorded it.
    const existing = [
      asItem(alice, "id-alice", A, { deletedDate: "2026-11-30T00:00:00Z" }),
      asItem(alice, "id-alice-2", A),
      asItem(bob, "id-bob", A),
    ];
    const lines = driftLines(asA, existing);
    // up keeps id-alice-2 as it is (and records it): nothing to say.
    expect(lines).toEqual([]);
  });

  it("names this stack's item that now says another stack wrote it", () => {
    const lines = driftLines(asA, [asItem(alice, "id-alice", "organization/fetchml-keys/other"), asItem(bob, "id-bob", A)]);
    expect(lines).toEqual([
      expect.stringContaining(
        '! item id-alice, which the last run wrote for alice, now says stack "organization/fetchml-keys/other" wrote it',
      ),
      "! alice: the vault item the last run wrote (id-alice) names another stack now: up writes alice's key into a new item",
    ]);
  });

  it("says the last run's item names another stack, not that it is gone, when up takes over another item of the user's name", () => {
    // id-alice now names another stack; id-alice-old (an older key, no stack field, as 1.0.0
    // wrote) is in alice's collection, and up would write alice's key into it.
    const old = asItem({ ...alice, apiKey: "o".repeat(48) }, "id-alice-old", A);
    const lines = driftLines(asA, [
      asItem(alice, "id-alice", "organization/fetchml-keys/other"),
      { ...old, fields: (old.fields ?? []).filter((f) => f.name !== "fetchml_keys_stack") },
      asItem(bob, "id-bob", A),
    ]);
    expect(lines).toContainEqual(
      expect.stringContaining(
        "! alice: vault item id-alice-old: the item the last run wrote (id-alice) names another stack now, and id-alice-old has the user's item name",
      ),
    );
    expect(lines.join("\n")).not.toContain("gone or in the trash");
  });

  it("names which of this tool's fields an org member changed, where name and login are as written (attack49)", () => {
    const stackFields = (i: VaultItem) => (i.fields ?? []).filter((f) => f.name === "fetchml_keys_stack");
    const edits: Array<[(i: VaultItem) => VaultItem, string]> = [
      [
        (i) => ({ ...i, fields: [...(i.fields ?? []), { ...stackFields(i)[0], value: "organization/fetchml-keys/other" }] }),
        "its fetchml_keys_stack field is not one text field naming this stack",
      ],
      [
        (i) => ({ ...i, fields: (i.fields ?? []).map((f) => (f.name === "fetchml_keys_stack" ? { ...f, type: 1 } : f)) }),
        "its fetchml_keys_stack field is not one text field naming this stack",
      ],
      [
        (i) => ({ ...i, fields: (i.fields ?? []).map((f) => (f.name === "api_key_hash" ? { ...f, type: 0 } : f)) }),
        "its api_key_hash field is not one hidden field",
      ],
      [(i) => ({ ...i, name: "FetchML API alice (old)" }), "its name is not the one this tool gives it"],
    ];
    for (const [edit, said] of edits) {
      const lines = driftLines(asA, [edit(asItem(alice, "id-alice", A)), asItem(bob, "id-bob", A)]);
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^! alice: vault item id-alice: ${said}: set bitwarden.repair`))]);
    }
  });
});
