/**
 * An `up --replace <auth-config-write urn>` killed (SIGKILL, the whole engine tree) after the
 * new write step wrote the target's record (its new writer id) and before the engine saved the
 * new resource. The record then named a writer no resource has, the next up saw nothing to do,
 * and `destroy` (or a move of the target) ran the old step's delete, which found the file
 * "written since by a newer step" and removed nothing: every hash stayed on the server (attack42,
 * 5 of 5). Now the record names the step a new one took over from until that one's delete has
 * run: still there, the next preview names it, the next up rewrites the record, and the
 * runner refuses a destroy until then.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { runRunner } from "../support/runner";

let e2e: E2EStack;
let serverFile: string;
let recordFile: string;
const PADDING = `# ${"-".repeat(100)}\n`.repeat(40_000);
const writerOf = () => {
  try {
    return JSON.parse(fs.readFileSync(recordFile, "utf8")).writer as string;
  } catch {
    return undefined;
  }
};
const holders = () => Object.keys(parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys).sort();

async function setUp(): Promise<void> {
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  recordFile = path.join(e2e.dir, ".fetchml-server.yaml.fetchml-keys");
  fs.writeFileSync(serverFile, PADDING + withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  e2e.setConfig(config(serverFile));
  await e2e.up();
}
const config = (file: string) => ({
  authConfigPath: file,
  createIfMissing: true,
  preserveEntries: ["svc-backup"],
  users: { alice: { role: "admin" }, bob: { role: "researcher" } },
});

/** up --replace of the write step, killed once the new writer's record is on disk; then cancel, up. */
async function killedReplace(): Promise<string> {
  expect(holders()).toEqual(["alice", "bob", "svc-backup"]);
  const oldWriter = writerOf();
  expect(oldWriter).toBeDefined();
  const { killed, outcome } = await e2e.replaceKilledWhen("::auth-config-write", () => {
    const w = writerOf();
    return w !== undefined && w !== oldWriter;
  });
  expect(killed, "killed once the new writer's record was written").toBeGreaterThan(0);
  expect(outcome).toBe("failed");
  const orphan = writerOf();
  // The documented recovery: cancel, then up; the preview names the orphaned record first.
  await e2e.stack.cancel();
  expect([...(await e2e.summary())]).toContain(
    `! ${serverFile}: its record says a replacement of its write step did not finish (a run was interrupted): up rewrites it, so that destroy and moves take this stack's entries off it`,
  );
  await e2e.up();
  expect(writerOf()).toBe(oldWriter);
  const preview = await e2e.preview();
  return `writer before ${oldWriter}, after the kill ${orphan}, after the next up ${writerOf()}; preview after it ${JSON.stringify(preview.changeSummary)}`;
}
const logSince = (n: number) =>
  e2e.log
    .slice(n)
    .join("")
    .split("\n")
    .filter((l) => /auth config|moves|takes/.test(l))
    .join("\n");

afterEach(async () => {
  await e2e?.cleanup();
});

describe("a killed --replace of the write step", () => {
  it("leaves nothing that stops a later destroy from taking this stack's entries off the target", async () => {
    await setUp();
    const note = await killedReplace();
    const n = e2e.log.length;
    await e2e.destroy();
    expect(holders(), `after destroy (${note})\n${logSince(n)}`).toEqual(["svc-backup"]);
    expect(fs.existsSync(recordFile), `the record after destroy (${note})`).toBe(false);
  });

  it("leaves nothing that stops a later move of the target from taking the entries off the old file, as the plan says", async () => {
    await setUp();
    const note = await killedReplace();
    const moved = path.join(e2e.dir, "moved.yaml");
    fs.copyFileSync(serverFile, moved);
    e2e.setConfig(config(moved));
    e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
    try {
      const lines = [...(await e2e.summary())];
      expect(lines.join("\n")).toMatch(/moves from .* then taken off/);
      const n = e2e.log.length;
      await e2e.up();
      expect(holders(), `the old file after the move (${note})\nplan: ${lines.join(" | ")}\n${logSince(n)}`).toEqual(["svc-backup"]);
    } finally {
      e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined);
    }
  });

  it("a destroy straight after the kill, with no up between, is refused and says to run up first; then destroy takes the entries off", async () => {
    await setUp();
    const oldWriter = writerOf();
    const { killed, outcome } = await e2e.replaceKilledWhen("::auth-config-write", () => {
      const w = writerOf();
      return w !== undefined && w !== oldWriter;
    });
    expect([killed > 0, outcome]).toEqual([true, "failed"]);
    await e2e.stack.cancel();
    const state = JSON.parse(e2e.exportWithoutSecrets()) as { deployment: { pending_operations?: unknown[] } };
    const destroy = () => runRunner(["destroy", "--yes", "--stack", e2e.name], { env: e2e.env });
    const refused = await destroy();
    expect(refused.code, `${refused.all}\npending: ${JSON.stringify(state.deployment.pending_operations)}`).toBe(1);
    expect(refused.stderr).toContain("its record says a replacement of its write step did not finish");
    expect(refused.stderr).toContain("Run `npm run up` first");
    expect(holders()).toEqual(["alice", "bob", "svc-backup"]);
    await e2e.up();
    const done = await destroy();
    expect(done.code, done.all).toBe(0);
    expect(holders()).toEqual(["svc-backup"]);
    expect(fs.existsSync(recordFile)).toBe(false);
  });
});
