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
import { afterEach, describe, expect, it } from "vitest";
import { WriteStack } from "../support/killedReplace";
import { runRunner } from "../support/runner";

let s: WriteStack;

/** up --replace of the write step, killed once the new writer's record is on disk; then cancel, up. */
async function killedReplace(): Promise<string> {
  expect(s.holders()).toEqual(["alice", "bob", "svc-backup"]);
  const oldWriter = s.writerOf();
  expect(oldWriter).toBeDefined();
  await s.killReplace();
  const orphan = s.writerOf();
  // The documented recovery: up; the preview names the orphaned record first.
  expect([...(await s.e2e.summary())]).toContain(
    `! ${s.serverFile}: its record says a replacement of its write step did not finish (a run was interrupted): up rewrites it, so that destroy and moves take this stack's entries off it`,
  );
  await s.e2e.up();
  expect(s.writerOf()).toBe(oldWriter);
  const preview = await s.e2e.preview();
  return `writer before ${oldWriter}, after the kill ${orphan}, after the next up ${s.writerOf()}; preview after it ${JSON.stringify(preview.changeSummary)}`;
}
const logSince = (n: number) =>
  s.e2e.log
    .slice(n)
    .join("")
    .split("\n")
    .filter((l) => /auth config|moves|takes/.test(l))
    .join("\n");

afterEach(async () => {
  await s?.e2e.cleanup();
});

describe("a killed --replace of the write step", () => {
  it("leaves nothing that stops a later destroy from taking this stack's entries off the target", async () => {
    s = await WriteStack.create();
    const note = await killedReplace();
    const n = s.e2e.log.length;
    await s.e2e.destroy();
    expect(s.holders(), `after destroy (${note})\n${logSince(n)}`).toEqual(["svc-backup"]);
    expect(fs.existsSync(s.recordFile), `the record after destroy (${note})`).toBe(false);
  });

  it("leaves nothing that stops a later move of the target from taking the entries off the old file, as the plan says", async () => {
    s = await WriteStack.create();
    const note = await killedReplace();
    const moved = path.join(s.e2e.dir, "moved.yaml");
    fs.copyFileSync(s.serverFile, moved);
    s.e2e.setConfig(s.config(moved));
    s.e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
    try {
      const lines = [...(await s.e2e.summary())];
      expect(lines.join("\n")).toMatch(/moves from .* then taken off/);
      const n = s.e2e.log.length;
      await s.e2e.up();
      expect(s.holders(), `the old file after the move (${note})\nplan: ${lines.join(" | ")}\n${logSince(n)}`).toEqual(["svc-backup"]);
    } finally {
      s.e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined);
    }
  });

  it("a destroy straight after the kill, with no up between, is refused and says to run up first; then destroy takes the entries off", async () => {
    s = await WriteStack.create();
    await s.killReplace();
    const state = JSON.parse(s.e2e.exportWithoutSecrets()) as { deployment: { pending_operations?: unknown[] } };
    const destroy = () => runRunner(["destroy", "--yes", "--stack", s.e2e.name], { env: s.e2e.env });
    const refused = await destroy();
    expect(refused.code, `${refused.all}\npending: ${JSON.stringify(state.deployment.pending_operations)}`).toBe(1);
    expect(refused.stderr).toContain("its record says a replacement of its write step did not finish");
    expect(refused.stderr).toContain("Run `npm run up` first");
    expect(s.holders()).toEqual(["alice", "bob", "svc-backup"]);
    await s.e2e.up();
    const done = await destroy();
    expect(done.code, done.all).toBe(0);
    expect(s.holders()).toEqual(["svc-backup"]);
    expect(fs.existsSync(s.recordFile)).toBe(false);
  });
});
