/**
 * An `up` killed mid-way (SIGKILL to the engine and everything it started, while the auth
 * config is being written) leaves the file old or new, never torn; after the documented
 * recovery (`cancel`, then `up`) the stack converges and a preview is clean.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedHash } from "../support/oracle";
import { changesIn, E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { findProcesses, killUpWhen } from "../support/processWatch";
import { expectSameSecret, expectUnchanged } from "../support/secrets";

let e2e: E2EStack;
let serverFile: string;
// Large enough (comments) that the writer is still at work when the kill lands.
const PADDING = `# ${"-".repeat(100)}\n`.repeat(40_000);
const config = (bobRotation: number) => ({
  authConfigPath: serverFile,
  preserveEntries: ["svc-backup"],
  users: { alice: { role: "admin" }, bob: { role: "researcher", rotation: bobRotation } },
});

beforeAll(async () => {
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, PADDING + withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  e2e.setConfig(config(0));
  await e2e.up();
});
afterAll(async () => {
  await e2e?.cleanup();
});

describe("an interrupted up", () => {
  it("leaves the auth config old or new, and the next up converges", async () => {
    const oldText = fs.readFileSync(serverFile, "utf8");
    const oldBob = parse(oldText).auth.api_keys.bob.hash;
    e2e.setConfig(config(1));
    const running = e2e.up().then(
      () => "finished",
      () => "failed",
    );
    // Wait for the writer to start on the new content, then kill the whole engine tree.
    const killed = await killUpWhen(
      e2e.name,
      () => findProcesses((c) => /fetchml-keys-step auth-write|steps\/main\.js auth-write/.test(c)).length > 0,
      5,
    );
    expect(killed).toBeGreaterThan(0);
    expect(await running).toBe("failed");

    const afterKill = fs.readFileSync(serverFile, "utf8");
    const bobAfterKill = parse(afterKill).auth.api_keys.bob.hash;
    expect(afterKill.startsWith(PADDING)).toBe(true);
    // Old or new, nothing in between.
    if (bobAfterKill === oldBob) expectUnchanged(afterKill, oldText, "the server config");
    else expect(afterKill.replace(/ {4}bob:\n( {6}.*\n)+/, "")).toBe(oldText.replace(/ {4}bob:\n( {6}.*\n)+/, ""));

    // Recovery as the README documents it: release the lock, then up again.
    // (A killed engine leaves the file backend locked; without cancel the next up fails.)
    await e2e.stack.cancel();
    const up = await e2e.up();
    expect(up.summary.result).toBe("succeeded");
    const keys = (await e2e.outputs()).apiKeys;
    const entries = parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys;
    expectSameSecret(entries.bob.hash, expectedHash(keys.bob), "bob's entry");
    expectSameSecret(entries.alice.hash, expectedHash(keys.alice), "alice's entry");
    const preview = await e2e.preview();
    expect(changesIn(preview.changeSummary)).toEqual({});
    expect(fs.readdirSync(e2e.dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});
