/**
 * attack46 F1: two stacks writing Bitwarden items in one organization with the default
 * itemPrefix (prod and lab, say, the same people on two FetchML servers). The second stack's
 * first up finds the first stack's "FetchML API alice" by name and adopts it: it moves it out of
 * the first stack's collection into its own, writes its own key over it, and the first stack's
 * key, still valid on the first stack's server, stays in the item's password history, now
 * readable by whoever reads the second stack's collection. The second stack's preview says "an
 * existing item of the user's name is moved there and cleared first": it is not cleared (the
 * password history keeps the other stack's key), and nothing says it is another stack's.
 * F1c: the same with one collection for both stacks (only the stack field tells them apart).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedHash } from "../support/oracle";
import { startVault, type TestVault } from "../support/bitwarden/vault";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { parse } from "yaml";

let vault: TestVault;
let a: E2EStack;
let b: E2EStack;
let fileA: string;

/** A stack of its own, with a server file of its own, writing alice's item into `collection`. */
async function stackFor(collection: string, role: string): Promise<{ stack: E2EStack; file: string }> {
  const stack = await E2EStack.create({});
  const file = path.join(stack.dir, "api.yaml");
  fs.writeFileSync(file, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  for (const [name, value] of Object.entries(vault.env)) stack.setProgramEnv(name, value);
  stack.setConfig({
    authConfigPath: file,
    preserveEntries: ["svc-backup"],
    bitwarden: { organizationId: vault.org.id, collectionIds: [vault.org.collections[collection]] },
    users: { alice: { role, delivery: "bitwarden" } },
  });
  return { stack, file };
}

beforeAll(async () => {
  vault = await startVault(["prod-alice", "lab-team"]);
  ({ stack: a, file: fileA } = await stackFor("prod-alice", "admin"));
  ({ stack: b } = await stackFor("lab-team", "researcher"));
  await a.up();
}, 300_000);

afterAll(async () => {
  for (const name of ["BW_SESSION", "BITWARDENCLI_APPDATA_DIR", "NODE_EXTRA_CA_CERTS"]) a?.setProgramEnv(name, undefined);
  await a?.cleanup();
  await b?.cleanup();
  await vault?.stop();
});

describe("two stacks, one organization, one item prefix", () => {
  it("the second stack's up does not move the first stack's item, nor put its live key where the second stack's collection reads it", async () => {
    const outA = await a.outputs();
    const keyA = (outA.apiKeys as Record<string, string>).alice;
    const itemA = (outA.vaultItems as Record<string, string>).alice;
    const summaryB = [...(await b.summary())];
    let bFailed = false;
    try {
      await b.up();
    } catch {
      bFailed = true;
    }
    await vault.bw.ok(["sync"]);
    const item = JSON.parse(await vault.bw.ok(["get", "item", itemA]));
    const history = ((item.passwordHistory ?? []) as Array<{ password: string }>).map((h) => h.password);
    // A's key still opens A's server (its hash is there).
    const aLive = parse(fs.readFileSync(fileA, "utf8")).auth.api_keys.alice.hash === expectedHash(keyA);
    const exposed =
      item.collectionIds.includes(vault.org.collections["lab-team"]) && (item.login.password === keyA || history.includes(keyA));
    const bLog = b
      .output()
      .split("\n")
      .filter((l) => /bitwarden:/.test(l));
    expect(
      {
        aLive,
        itemStillInProdCollectionOnly: JSON.stringify(item.collectionIds) === JSON.stringify([vault.org.collections["prod-alice"]]),
        itemStillHoldsAsKey: item.login.password === keyA,
        liveKeyOfAReadableThroughLabTeam: exposed,
        passwordHistoryHoldsLiveKeyOfA: history.includes(keyA),
      },
      `B failed: ${bFailed}; B's summary: ${JSON.stringify(summaryB)}; B's vault lines: ${bLog.join(" | ")}`,
    ).toEqual({
      aLive: true,
      itemStillInProdCollectionOnly: true,
      itemStillHoldsAsKey: true,
      liveKeyOfAReadableThroughLabTeam: false,
      passwordHistoryHoldsLiveKeyOfA: false,
    });
    // B's run says why alice's key went into a new item, and what to do about the shared prefix.
    expect(b.output()).toContain(
      `an item named "FetchML API alice" (${itemA}, collections ${vault.org.collections["prod-alice"]}) is outside alice's collections`,
    );
    expect(b.output()).toContain("give each stack its own bitwarden.itemPrefix");
  });
  it("a stack with the same collection too leaves the first stack's item as it is, and writes its own (F1c)", async () => {
    const outA = await a.outputs();
    const keyA = (outA.apiKeys as Record<string, string>).alice;
    const itemA = (outA.vaultItems as Record<string, string>).alice;
    await vault.bw.ok(["sync"]);
    const before = JSON.parse(await vault.bw.ok(["get", "item", itemA]));
    const { stack: c } = await stackFor("prod-alice", "researcher");
    try {
      await c.up();
      const itemC = ((await c.outputs()).vaultItems as Record<string, string>).alice;
      await vault.bw.ok(["sync"]);
      const after = JSON.parse(await vault.bw.ok(["get", "item", itemA]));
      expect(itemC).not.toBe(itemA);
      expect(after.login.password === keyA).toBe(true);
      expect(after.revisionDate).toBe(before.revisionDate);
      const historyLength = (item: { passwordHistory?: unknown[] | null }) => (item.passwordHistory ?? []).length;
      expect(historyLength(after)).toBe(historyLength(before));
      expect(c.output()).toContain(`an item named "FetchML API alice" (${itemA}) was written by stack "organization/`);
    } finally {
      await c.cleanup();
    }
  });
});
