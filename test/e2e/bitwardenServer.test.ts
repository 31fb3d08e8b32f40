/**
 * The Bitwarden test server against the real `bw` CLI: every command the delivery will
 * use, with results read back through `bw` itself (so through the client's own decryption).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BwCli } from "../support/bitwarden/bwCli";
import { BitwardenTestServer, type SeededAccount, type SeededOrganization } from "../support/bitwarden/server";

let server: BitwardenTestServer;
let account: SeededAccount;
let organization: SeededOrganization;
let bw: BwCli;
let itemId: string;

const item = (collectionId: string, password: string) => ({
  organizationId: organization.id,
  collectionIds: [collectionId],
  type: 1,
  name: "FetchML API alice",
  notes: null,
  favorite: false,
  reprompt: 0,
  login: { username: "alice", password, uris: [], totp: null },
  fields: [{ name: "api_key_hash", value: "f".repeat(64), type: 1 }],
  secureNote: null,
  card: null,
  identity: null,
});

beforeAll(async () => {
  server = await BitwardenTestServer.start();
  ({ account, organization } = server.seed({ collections: ["FetchML", "alice-only"] }));
  bw = new BwCli(server.url, server.caFile);
  await bw.configure();
});
afterAll(async () => {
  bw?.cleanup();
  await server?.stop();
});

describe("the Bitwarden test server with the real bw CLI", () => {
  it("logs in with a password and lists the organization's collections", async () => {
    await bw.loginWithPassword(account.email, account.password);
    expect(bw.session).toMatch(/^\S{40,}$/);
    const collections = JSON.parse(await bw.ok(["list", "org-collections", "--organizationid", organization.id]));
    expect(collections.map((c: { name: string }) => c.name).sort()).toEqual(["FetchML", "alice-only"]);
  });

  it("creates an organization item in a collection that comes back identical", async () => {
    const created = await bw.createItem(item(organization.collections["alice-only"], "key-one"));
    itemId = created.id;
    expect(itemId).toMatch(/^[0-9a-f-]{36}$/);
    const got = JSON.parse(await bw.ok(["get", "item", itemId]));
    expect(got).toMatchObject({
      name: "FetchML API alice",
      organizationId: organization.id,
      collectionIds: [organization.collections["alice-only"]],
      login: { username: "alice", password: "key-one" },
      fields: [{ name: "api_key_hash", value: "f".repeat(64), type: 1 }],
    });
    // What the server stores is ciphertext under the organization key, not the key.
    expect(JSON.stringify([...server.ciphers.values()])).not.toContain("key-one");
    expect(server.decryptCipher(itemId).password).toBe("key-one");
  });

  it("edits the item in place: same id, new password, old one in the history, no duplicate", async () => {
    const current = JSON.parse(await bw.ok(["get", "item", itemId]));
    current.login.password = "key-two";
    const edited = await bw.editItem(itemId, current);
    expect(edited.id).toBe(itemId);
    const found = JSON.parse(await bw.ok(["list", "items", "--search", "FetchML API alice"]));
    expect(found).toHaveLength(1);
    expect(found[0].login.password).toBe("key-two");
    expect(found[0].passwordHistory.map((h: { password: string }) => h.password)).toEqual(["key-one"]);
  });

  it("trashes, lists as deleted, restores, and permanently deletes", async () => {
    await bw.ok(["delete", "item", itemId]);
    const trash = JSON.parse(await bw.ok(["list", "items", "--trash"]));
    expect(trash.map((i: { id: string }) => i.id)).toEqual([itemId]);
    expect(trash[0].deletedDate).toMatch(/Z$/);
    await bw.ok(["restore", "item", itemId]);
    expect(JSON.parse(await bw.ok(["get", "item", itemId])).deletedDate ?? null).toBeNull();
    await bw.ok(["delete", "item", itemId, "--permanent"]);
    expect(server.ciphers.has(itemId)).toBe(false);
    expect(JSON.parse(await bw.ok(["list", "items"]))).toEqual([]);
  });

  it("sees a change made by another client after bw sync", async () => {
    const other = new BwCli(server.url, server.caFile);
    try {
      await other.configure();
      await other.loginWithApiKey(account.clientId, account.clientSecret, account.password);
      const created = await other.createItem(item(organization.collections.FetchML, "from-elsewhere"));
      await bw.ok(["sync"]);
      expect(JSON.parse(await bw.ok(["get", "item", created.id])).login.password).toBe("from-elsewhere");
    } finally {
      other.cleanup();
    }
  });

  it("rejects a wrong password and a wrong API secret with the CLI's normal errors", async () => {
    const stranger = new BwCli(server.url, server.caFile);
    try {
      await stranger.configure();
      const wrongPassword = await stranger.run(["login", account.email, "--passwordenv", "P", "--raw"], { env: { P: "wrong" } });
      expect(wrongPassword.code).not.toBe(0);
      // bw 2026.9 words the server's invalid_grant its own way.
      expect(wrongPassword.stdout + wrongPassword.stderr).toContain("Invalid master password. Confirm your email is correct");
      expect(stranger.session).toBe("");
      const wrongSecret = await stranger.run(["login", "--apikey"], { env: { BW_CLIENTID: account.clientId, BW_CLIENTSECRET: "nope" } });
      expect(wrongSecret.code).not.toBe(0);
      expect(wrongSecret.stdout + wrongSecret.stderr).toMatch(/client_id or client_secret is incorrect|Invalid client/i);
    } finally {
      stranger.cleanup();
    }
  });

  it("was never asked for a route it does not have", () => {
    expect(server.unknownRoutes).toEqual([]);
  });
});
