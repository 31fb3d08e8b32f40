/**
 * The vault step on its own: `bin/fetchml-keys-step vault-write|vault-remove` with a request on
 * stdin, the real `bw` against the project's Bitwarden test server, no engine. What the engine
 * would keep (its stdout) is handed back as the next run's PULUMI_COMMAND_STDOUT.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedHash } from "../support/oracle";
import type { VaultRequest } from "../../steps/protocol";
import { startVault, type TestVault } from "../support/bitwarden/vault";
import { expectSameSecret } from "../support/secrets";
import { runStep } from "../support/steps";

let vault: TestVault;
const user = (name: string, apiKey: string) => ({
  name,
  itemName: `FetchML API ${name}`,
  apiKey,
  apiKeyHash: expectedHash(apiKey),
  fingerprint: `fp-${apiKey.slice(0, 4)}`,
  collectionIds: [vault.org.collections.FetchML],
});
const request = (users: ReturnType<typeof user>[], onRevoke: VaultRequest["onRevoke"] = "trash"): VaultRequest => ({
  organizationId: vault.org.id,
  itemPrefix: "FetchML API",
  onRevoke,
  users,
});
const step = (name: "vault-write" | "vault-remove", body: VaultRequest, previousStdout?: string) =>
  runStep(name, body, { previousStdout, env: vault.env });
const items = (stdout: string) => Object.fromEntries(JSON.parse(stdout).items) as Record<string, { id: string }>;

beforeAll(async () => {
  vault = await startVault(["FetchML", "everyone"]);
}, 120_000);
afterAll(async () => {
  await vault?.stop();
});

describe("the vault step, run directly", () => {
  let last = "";
  it("creates one item per user, with the key, the hidden hash field and the collection", async () => {
    const run = await step("vault-write", request([user("alice", "key-alice-1"), user("bob", "key-bob-1")]));
    expect(run.code, run.stderr).toBe(0);
    last = run.stdout;
    const ids = items(last);
    const alice = vault.server.decryptCipher(ids.alice.id);
    expectSameSecret(alice.password, "key-alice-1", "alice's item");
    expect(run.stderr).toContain('created item "FetchML API alice" for alice');
    expect(run.stdout + run.stderr).not.toContain("key-alice-1");
  });

  it("writes nothing when every item is as wanted, and edits in place the one whose key changed", async () => {
    const before = new Map([...vault.server.ciphers.values()].map((c) => [c.id, c.revisionDate]));
    const same = await step("vault-write", request([user("alice", "key-alice-1"), user("bob", "key-bob-1")]), last);
    expect(same.stderr).not.toMatch(/created|updated/);
    const rotated = await step("vault-write", request([user("alice", "key-alice-1"), user("bob", "key-bob-2")]), same.stdout);
    expect(rotated.stderr).toContain('updated item "FetchML API bob" for bob');
    expect(items(rotated.stdout)).toEqual(items(last));
    const ids = items(rotated.stdout);
    expect(vault.server.ciphers.get(ids.alice.id)!.revisionDate).toBe(before.get(ids.alice.id));
    expectSameSecret(vault.server.decryptCipher(ids.bob.id).password, "key-bob-2", "bob's item");
    last = rotated.stdout;
  });

  it("trashes the item of a user no longer delivered, and vault-remove applies the revoke policy to the rest", async () => {
    const ids = items(last);
    const run = await step("vault-write", request([user("alice", "key-alice-1")]), last);
    expect(run.stderr).toContain("moved bob's item to the trash");
    expect(vault.server.ciphers.get(ids.bob.id)!.deletedDate).not.toBeNull();
    const removed = await step("vault-remove", request([user("alice", "key-alice-1")], "delete"), run.stdout);
    expect(removed.stderr).toContain("deleted alice's item permanently");
    expect(vault.server.ciphers.has(ids.alice.id)).toBe(false);
  });

  it("adopts an item someone else made in another collection only once moved and cleared: its key never sits beside theirs", async () => {
    // Another member's item of dan's name, in a collection every member reads, with their URI,
    // notes and a field (made here with the admin's own bw: the vault sees the same item).
    const planted = await vault.bw.createItem({
      organizationId: vault.org.id,
      collectionIds: [vault.org.collections.everyone],
      type: 1,
      name: "FetchML API dan",
      notes: "ping me when it is set",
      login: { username: "dan", password: "planted", uris: [{ uri: "https://evil.example/collect", match: null }] },
      fields: [{ name: "callback", value: "https://evil.example/hook", type: 0 }],
    });
    const from = vault.server.cipherStates.length;
    const run = await step("vault-write", request([user("dan", "key-dan-1")]));
    expect(run.code, run.stderr).toBe(0);
    expect(items(run.stdout).dan.id).toBe(planted.id);
    // Every state the item was in during the run, decrypted here: where it holds dan's key,
    // it is in dan's collection only, with no URI, notes or field of the other member's.
    const states = vault.server.cipherStates.slice(from).filter((s) => s.id === planted.id);
    const withKey = states.map((s) => ({ s, d: vault.server.decryptState(s) })).filter(({ d }) => d.password === "key-dan-1");
    expect(withKey.length, states.map((s) => s.request).join(", ")).toBeGreaterThan(0);
    for (const { s, d } of withKey) {
      expect({ collections: s.collectionIds, uris: d.uris, fields: Object.keys(d.fields) }).toEqual({
        collections: [vault.org.collections.FetchML],
        uris: [],
        fields: ["api_key_hash"],
      });
      expect(d.notes ?? "").not.toContain("ping me");
      expect(d.fields.api_key_hash === expectedHash("key-dan-1")).toBe(true);
    }
    expect(vault.server.ciphers.get(planted.id)!.collectionIds).toEqual([vault.org.collections.FetchML]);
    // The up's output names what was moved and removed (never the key).
    expect(run.stderr).toContain(`from collections ${vault.org.collections.everyone} to ${vault.org.collections.FetchML}`);
    expect(run.stderr).toContain('URI "https://evil.example/collect", notes, custom field "callback"');
    expect(run.stdout + run.stderr).not.toContain("key-dan-1");
  });

  it("refuses to run with a session that does not open the vault, and says what to run", async () => {
    const run = await runStep("vault-write", request([user("carol", "key-carol-1")]), {
      env: { ...vault.env, BW_SESSION: "not-a-session" },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("the Bitwarden vault is not unlocked for this run");
  });
});
