/**
 * Rotation policy and the access summary with the real engine. The clock is injected
 * (FETCHML_KEYS_NOW) where the program reads it. Tests run in order on one stack.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changesIn, E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { expectedHash } from "../support/oracle";
import { expectDifferentSecret, expectSameSecret } from "../support/secrets";

let e2e: E2EStack;
let serverFile: string;
let users: Record<string, Record<string, unknown>>;
let rotateAll = 0;
const DAY = 86_400_000;
const T0 = Date.parse("2026-01-01T00:00:00Z");

const config = () => ({ authConfigPath: serverFile, preserveEntries: ["svc-backup"], rotateAll, users });
function setClock(days: number): void {
  e2e.setProgramEnv("FETCHML_KEYS_NOW", new Date(T0 + days * DAY).toISOString().replace(/\.000Z$/, "Z"));
}
async function outputs() {
  return (await e2e.outputs()) as { apiKeys: Record<string, string>; users: Record<string, any> };
}

beforeAll(async () => {
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  users = {
    alice: { role: "admin", maxKeyAgeDays: 90 },
    bob: { role: "researcher", maxKeyAgeDays: 30 },
    carol: { role: "analyst" },
  };
  e2e.setConfig(config());
  setClock(0);
  await e2e.up();
});
afterAll(async () => {
  delete process.env.FETCHML_KEYS_NOW;
  await e2e?.cleanup();
});

describe("key age policy", () => {
  it("records when each key was issued", async () => {
    const { users: audit } = await outputs();
    expect(audit.bob).toMatchObject({ issuedAt: "2026-01-01T00:00:00Z", maxKeyAgeDays: 30, autoRotations: 0 });
    expect(audit.carol.maxKeyAgeDays).toBeNull();
  });

  it("warns about a key inside the warning window and changes nothing", async () => {
    setClock(25);
    const lines = await e2e.summary();
    expect([...lines]).toEqual(["! bob: key expires in 5 days (25 of max 30); the first up after that rotates it"]);
    expect(changesIn((await e2e.preview()).changeSummary)).toEqual({});
  });

  it("rotates a key past its maximum age on the next up, and only that key", async () => {
    const before = await outputs();
    setClock(31);
    expect([...(await e2e.summary())]).toEqual(["~ bob: key rotated (31 days old, max 30)"]);
    await e2e.up();
    const after = await outputs();
    expectDifferentSecret(after.apiKeys.bob, before.apiKeys.bob, "bob's key");
    expectSameSecret(after.apiKeys.alice, before.apiKeys.alice, "alice's key");
    expectSameSecret(after.apiKeys.carol, before.apiKeys.carol, "carol's key");
    expect(after.users.bob).toMatchObject({ issuedAt: "2026-02-01T00:00:00Z", autoRotations: 1 });
    // The new key is young: the same clock plans nothing more.
    expect(changesIn((await e2e.preview()).changeSummary)).toEqual({});
  });

  it("rotates every key when rotateAll goes up", async () => {
    const before = await outputs();
    rotateAll = 1;
    e2e.setConfig(config());
    expect([...(await e2e.summary())]).toEqual([
      "~ alice: key rotated (rotate-all)",
      "~ bob: key rotated (rotate-all)",
      "~ carol: key rotated (rotate-all)",
    ]);
    await e2e.up();
    const after = await outputs();
    for (const name of ["alice", "bob", "carol"]) expectDifferentSecret(after.apiKeys[name], before.apiKeys[name], `${name}'s key`);
  });
});

describe("the access summary of a real preview", () => {
  it("names who gains, loses and changes access", async () => {
    users.carol = { role: "researcher" };
    users.dave = { role: "analyst" };
    delete users.alice;
    e2e.setConfig(config());
    const lines = await e2e.summary();
    expect([...lines]).toEqual(["- alice: access revoked", "~ carol: analyst -> researcher", "+ dave (analyst): new key"]);
    const keys = Object.values((await outputs()).apiKeys);
    expect(keys.some((k) => lines.join("\n").includes(k))).toBe(false);
  });

  it("an override that takes admin away from the admin role is previewed and written as admin: false", async () => {
    users.erin = { role: "admin", admin: false };
    e2e.setConfig(config());
    expect(await e2e.summary()).toContain("+ erin (admin: admin false): new key");
    await e2e.up();
    const entries = parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys;
    const { apiKeys, users: audit } = await outputs();
    expectSameSecret(entries.erin.hash, expectedHash(apiKeys.erin), "erin's entry");
    expect(entries.erin.admin).toBe(false);
    expect(entries.erin.roles).toEqual(["admin"]);
    expect(entries.erin.permissions).toEqual({ "jobs:read": true, "jobs:create": true, "jobs:update": true });
    expect(audit.erin).toMatchObject({ role: "admin", admin: false });
  });
});
