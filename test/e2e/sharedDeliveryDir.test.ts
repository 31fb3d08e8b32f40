/**
 * Two stacks given the same deliveryDir (attack46 F2). The directory's manifest named no
 * stack, so the second stack's first up silently overwrote the first stack's alice.toml with
 * its own (other server's) key and deleted the first stack's bob.toml; neither preview said so.
 * The manifest names the stack now, and another stack's directory is refused, as a target is.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";

let a: E2EStack;
let b: E2EStack;
let top: string;
let shared: string;
let fileA: string;
let fileB: string;
const configA = (users: Record<string, unknown>) => ({
  authConfigPath: fileA,
  deliveryDir: shared,
  preserveEntries: ["svc-backup"],
  users,
});
const configB = (users: Record<string, unknown>) => ({
  authConfigPath: fileB,
  deliveryDir: shared,
  preserveEntries: ["svc-backup"],
  users,
});

beforeAll(async () => {
  top = fs.mkdtempSync(path.join(os.tmpdir(), "shared-delivery-"));
  fs.chmodSync(top, 0o700);
  shared = path.join(top, "handover");
  a = await E2EStack.create({});
  b = await E2EStack.create({});
  fileA = path.join(a.dir, "api.yaml");
  fileB = path.join(b.dir, "api.yaml");
  for (const f of [fileA, fileB]) fs.writeFileSync(f, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  a.setConfig(configA({ alice: { role: "admin" }, bob: { role: "researcher" } }));
  await a.up();
}, 300_000);
afterAll(async () => {
  await a?.cleanup();
  await b?.cleanup();
  if (top) fs.rmSync(top, { recursive: true, force: true });
});

describe("a delivery directory another stack delivers into", () => {
  it("a second stack's up neither overwrites nor silently takes over the first stack's delivery files", async () => {
    const keyA = ((await a.outputs()).apiKeys as Record<string, string>).alice;
    expect(fs.readFileSync(path.join(shared, "alice.toml"), "utf8").includes(keyA)).toBe(true);
    b.setConfig(configB({ alice: { role: "researcher" }, carol: { role: "analyst" } }));
    const summary = await b.summary();
    const lines = [...summary];
    // B's review refuses, naming the stack that delivers there and what to do.
    expect(summary.refused).toContain(`deliveryDir ${fs.realpathSync(shared)}: stack organization/fetchml-keys/${a.name} delivers into it`);
    expect(summary.refused).toContain("Give each stack its own deliveryDir");
    let upFailed = false;
    try {
      await b.up();
    } catch {
      upFailed = true;
    }
    const now = fs.readFileSync(path.join(shared, "alice.toml"), "utf8");
    // Either refused (the preview names the other stack), or A's alice.toml is still A's key.
    expect(
      { refusedOrNamed: upFailed || lines.some((l) => /another stack|other stack/.test(l)), aliceStillA: now.includes(keyA) },
      `B's summary: ${JSON.stringify(lines)}`,
    ).toEqual({ refusedOrNamed: true, aliceStillA: true });
  });

  it("nor deletes the first stack's bob.toml (bob is still a user of the first stack, with a key on its server)", async () => {
    expect(fs.existsSync(path.join(shared, "bob.toml")), "bob.toml, written by the first stack, deleted by the second stack's up").toBe(
      true,
    );
  });
});
