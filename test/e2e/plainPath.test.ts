/**
 * Plain `pulumi` and the runner are one product: the same program, the same state. Runs
 * alternate between the two ways on one stack and must see no changes, and the key-age
 * policy (which reads the stack's own previous outputs) holds up over many plain ups.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedHash } from "../support/oracle";
import { changesIn, E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { expectSameSecret } from "../support/secrets";

let e2e: E2EStack;
let serverFile: string;
const DAY = 86_400_000;
const T0 = Date.parse("2026-01-01T00:00:00Z");
const users = { alice: { role: "admin", maxKeyAgeDays: 30 }, bob: { role: "researcher", maxKeyAgeDays: 10 } };

function setClock(days: number): void {
  e2e.setProgramEnv("FETCHML_KEYS_NOW", new Date(T0 + days * DAY).toISOString().replace(/\.000Z$/, "Z"));
}
const entries = () => parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys;

beforeAll(async () => {
  e2e = await E2EStack.create({}, { via: "plain" });
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  e2e.setConfig({ authConfigPath: serverFile, preserveEntries: ["svc-backup"], users });
  setClock(0);
});
afterAll(async () => {
  delete process.env.FETCHML_KEYS_NOW;
  await e2e?.cleanup();
});

describe("plain pulumi and the runner on one stack", () => {
  it("plain pulumi up issues the keys", async () => {
    await e2e.up();
    const keys = (await e2e.outputs()).apiKeys;
    expect(Object.keys(keys).sort()).toEqual(["alice", "bob"]);
    expectSameSecret(entries().alice.hash, expectedHash(keys.alice), "alice's entry");
    expect(e2e.output()).toContain("using pulumi-language-nodejs from $PATH");
  });

  it("alternating runner and plain pulumi shows no changes either way", async () => {
    for (const via of ["runner", "plain", "runner", "plain"] as const) {
      e2e.via = via;
      const preview = await e2e.preview();
      expect(changesIn(preview.changeSummary), via).toEqual({});
      const up = await e2e.up();
      expect(changesIn(up.summary.resourceChanges ?? {}), via).toEqual({});
    }
  });

  it("twenty consecutive plain ups with a key-age policy never fail, and rotate exactly when a key is due", async () => {
    e2e.via = "plain";
    let rotations = 0;
    let last = (await e2e.outputs()).users;
    for (let i = 1; i <= 20; i++) {
      setClock(i); // bob (max 10 days) is due on day 10 and day 20
      const up = await e2e.up();
      expect(up.summary.result).toBe("succeeded");
      const now = (await e2e.outputs()).users;
      if (now.bob.fingerprint !== last.bob.fingerprint) rotations++;
      expect(now.alice.fingerprint).toBe(last.alice.fingerprint);
      last = now;
    }
    expect(rotations).toBe(2);
    expect(last.bob.autoRotations).toBe(2);
    expectSameSecret(entries().bob.hash, expectedHash((await e2e.outputs()).apiKeys.bob), "bob's entry");
  });

  it("the runner agrees afterwards: no changes", async () => {
    e2e.via = "runner";
    expect(changesIn((await e2e.preview()).changeSummary)).toEqual({});
  });
});
