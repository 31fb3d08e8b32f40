/**
 * The vault step on its own: `bin/fetchml-keys-step vault-write|vault-remove` with a request on
 * stdin, the real `bw` against the project's Bitwarden test server, no engine. What the engine
 * would keep (its stdout) is handed back as the next run's PULUMI_COMMAND_STDOUT.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedHash } from "../support/oracle";
import type { VaultRequest } from "../../steps/vault";
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
  stack: "organization/fetchml-keys/vault-step-test",
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

  it("leaves an item of the user's name in another collection as it is (a new item gets the key); one in the user's collection is cleared and used", async () => {
    // Another member's item of dan's name, in a collection every member reads, with their URI,
    // notes and a field (made here with the admin's own bw: the vault sees the same item); and
    // an old item of erin's (the old helper script's) in erin's own collection, with notes.
    const planted = await vault.bw.createItem({
      organizationId: vault.org.id,
      collectionIds: [vault.org.collections.everyone],
      type: 1,
      name: "FetchML API dan",
      notes: "ping me when it is set",
      login: { username: "dan", password: "planted", uris: [{ uri: "https://evil.example/collect", match: null }] },
      fields: [{ name: "callback", value: "https://evil.example/hook", type: 0 }],
    });
    const old = await vault.bw.createItem({
      organizationId: vault.org.id,
      collectionIds: [vault.org.collections.FetchML],
      type: 1,
      name: "FetchML API erin",
      notes: "made by create_bitwarden_fetchml_item.sh",
      login: { username: "erin", password: "hand-made-key" },
      fields: [{ name: "api_key_hash", value: expectedHash("hand-made-key"), type: 1 }],
    });
    const from = vault.server.cipherStates.length;
    const run = await step("vault-write", request([user("dan", "key-dan-1"), user("erin", "key-erin-1")]));
    expect(run.code, run.stderr).toBe(0);
    const ids = items(run.stdout);
    // dan's: the planted item was never written, and the key went into a new item of his collection.
    expect(ids.dan.id).not.toBe(planted.id);
    expect(vault.server.cipherStates.slice(from).filter((s) => s.id === planted.id)).toEqual([]);
    expect(vault.server.ciphers.get(planted.id)!.collectionIds).toEqual([vault.org.collections.everyone]);
    expectSameSecret(vault.server.decryptCipher(planted.id).password, "planted", "the planted item");
    expect(vault.server.ciphers.get(ids.dan.id)!.collectionIds).toEqual([vault.org.collections.FetchML]);
    expectSameSecret(vault.server.decryptCipher(ids.dan.id).password, "key-dan-1", "dan's new item");
    expect(run.stderr).toContain(
      `an item named "FetchML API dan" (${planted.id}, collections ${vault.org.collections.everyone}) is outside dan's collections (${vault.org.collections.FetchML}): it is left as it is, and dan's key goes into a new item`,
    );
    // erin's: the old item in her collection is used, and cleared in the same edit that writes the key.
    expect(ids.erin.id).toBe(old.id);
    const withKey = vault.server.cipherStates
      .slice(from)
      .filter((s) => s.id === old.id)
      .map((s) => vault.server.decryptState(s))
      .filter((d) => d.password === "key-erin-1");
    expect(withKey.length).toBeGreaterThan(0);
    for (const d of withKey) expect(d.notes ?? "").not.toContain("create_bitwarden_fetchml_item");
    expect(run.stderr).toContain('removed from "FetchML API erin" what this tool did not write: notes');
    expect(run.stdout + run.stderr).not.toMatch(/key-dan-1|key-erin-1/);
  });

  it("refuses to run with a session that does not open the vault, and says what to run", async () => {
    const run = await runStep("vault-write", request([user("carol", "key-carol-1")]), {
      env: { ...vault.env, BW_SESSION: "not-a-session" },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("the Bitwarden vault is not unlocked for this run");
  });
});
