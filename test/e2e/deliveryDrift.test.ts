/**
 * The delivery directory is what it is, not how it is spelled, and what is in it is read like
 * a target (issue 24 item 4), with the real engine. Reported: `deliveryDir` changed to the
 * same folder through a symlinked parent replaced the delivery step, whose delete then
 * removed every delivery file; `--expect-no-changes` passed afterwards and no `up` wrote them
 * again. Tests run in order on one stack.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
import { changesIn, E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { expectContainsSecret } from "../support/secrets";

let e2e: E2EStack;
let serverFile: string;
let realDir: string;
const USERS = ["alice", "bob", "carol"];
const config = (deliveryDir: string) => ({
  authConfigPath: serverFile,
  deliveryDir,
  preserveEntries: ["svc-backup"],
  users: { alice: { role: "admin" }, bob: { role: "researcher" }, carol: { role: "analyst" } },
});

/** Each user's delivery file holds that user's key from the stack's outputs (the oracle: state, not the program's reading). */
async function expectEveryFileDelivered(): Promise<void> {
  const keys = (await e2e.outputs()).apiKeys as Record<string, string>;
  for (const name of USERS) {
    const file = path.join(realDir, `${name}.toml`);
    expect(fs.existsSync(file), `${file} exists`).toBe(true);
    expectContainsSecret(fs.readFileSync(file, "utf8"), `api_key = "${keys[name]}"`, `${name}'s delivery file`);
  }
}

beforeAll(async () => {
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "api.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  fs.mkdirSync(path.join(e2e.dir, "real"), { mode: 0o700 });
  fs.symlinkSync(path.join(e2e.dir, "real"), path.join(e2e.dir, "link"));
  realDir = path.join(e2e.dir, "real", "rt-a");
  e2e.setConfig(config(realDir));
  await e2e.up();
});
afterAll(async () => {
  await e2e?.cleanup();
});

describe("the delivery directory, like a target", () => {
  it("the same folder spelled another way (a symlinked parent, a relative path) changes nothing and removes nothing", async () => {
    await expectEveryFileDelivered();
    for (const spelling of [path.join(e2e.dir, "link", "rt-a"), path.relative(PROJECT_ROOT, realDir), `${e2e.dir}/link/../real/rt-a`]) {
      e2e.setConfig(config(spelling));
      expect([...(await e2e.summary())], spelling).toEqual([]);
      expect(changesIn((await e2e.preview()).changeSummary), spelling).toEqual({});
      await e2e.up();
      await expectEveryFileDelivered();
      await e2e.preview({ expectNoChanges: true });
    }
    e2e.setConfig(config(realDir));
  });

  it("a delivery file deleted by hand shows in the preview, fails --expect-no-changes, and up writes it again", async () => {
    fs.rmSync(path.join(realDir, "bob.toml"));
    expect([...(await e2e.summary())]).toEqual([
      `+ bob: delivery file ${realDir}/bob.toml is missing (or not this user's file): up writes it again`,
    ]);
    await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
    await e2e.up();
    await expectEveryFileDelivered();
    await e2e.preview({ expectNoChanges: true });
    expect([...(await e2e.summary())]).toEqual([]);
  });

  it("a delivery file changed by hand, or the whole directory's content gone, likewise", async () => {
    fs.writeFileSync(path.join(realDir, "carol.toml"), 'api_key = "not-carols"\n');
    expect([...(await e2e.summary())]).toEqual([`~ carol: delivery file ${realDir}/carol.toml was changed by hand: up writes it again`]);
    await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
    await e2e.up();
    await expectEveryFileDelivered();
    for (const file of fs.readdirSync(realDir)) fs.rmSync(path.join(realDir, file));
    const lines = [...(await e2e.summary())];
    expect(lines).toHaveLength(4);
    expect(lines.at(-1)).toBe(`! ${realDir}: its list of delivered files is missing or changed: up writes it again`);
    await e2e.up();
    await expectEveryFileDelivered();
    await e2e.preview({ expectNoChanges: true });
  });

  it("destroy still removes every delivery file", async () => {
    await e2e.destroy();
    expect(fs.readdirSync(realDir)).toEqual([]);
  });
});
