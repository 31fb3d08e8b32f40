/**
 * What an admin may do between a killed `up --replace` of the write step and a destroy or a
 * move, and what then becomes of the entries (recheck44): a runner refresh, plain `pulumi
 * refresh --clear-pending-creates` (which dropped the pending operation the runner's destroy
 * went by: it then left alice and bob on the file, 4 of 4), an `up --target` of one key, a kill
 * after the new step was saved, and the stack file pointing elsewhere (the plan said the entries
 * would be taken off the old file, and they stayed: 4 of 4). Each ends with the entries off, or
 * with a refusal that says to run up first.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
import { WriteStack } from "../support/killedReplace";
import { runRunner } from "../support/runner";

let s: WriteStack;

afterEach(async () => {
  await s?.e2e.cleanup();
});

type Deployment = { deployment: { pending_operations?: unknown[]; resources: Array<{ urn: string; delete?: boolean }> } };
const deployment = () => (JSON.parse(s.e2e.exportWithoutSecrets()) as Deployment).deployment;
const destroy = () => runRunner(["destroy", "--yes", "--stack", s.e2e.name], { env: s.e2e.env });

/** A destroy either went on and took the entries off, or was refused saying to run up first. */
function expectOffOrRefused(destroyed: { code: number | null; stderr: string }, note: string): void {
  if (destroyed.code === 0) expect(s.holders(), `destroy went on; ${note}`).toEqual(["svc-backup"]);
  else expect(destroyed.stderr, note).toContain("Run `npm run up` first");
}

const BETWEEN: Record<string, (urns: string[]) => string[]> = {
  "a runner refresh": () => ["refresh"],
  "plain pulumi refresh --clear-pending-creates (README: how the engine drops it)": () => [
    "pulumi",
    "refresh",
    "--clear-pending-creates",
    "--yes",
    "--skip-preview",
    "--non-interactive",
  ],
  "a runner up --target of one user's key": (urns) => ["up", "--yes", "--target", urns.find((u) => u.endsWith("::alice-key"))!],
};

describe.each(Object.keys(BETWEEN))("destroy after a killed up --replace, %s between", (between) => {
  it("is still refused, or takes the entries off", async () => {
    s = await WriteStack.create();
    await s.killReplace();
    const pendingBefore = deployment().pending_operations;
    const args = BETWEEN[between](deployment().resources.map((r) => r.urn));
    const refresh =
      args[0] === "pulumi"
        ? (() => {
            const r = spawnSync(s.e2e.engineBinary, [...args.slice(1), "--stack", s.e2e.name], {
              cwd: PROJECT_ROOT,
              env: { ...process.env, ...s.e2e.env },
              encoding: "utf8",
            });
            return { code: r.status, stdout: r.stdout, stderr: r.stderr };
          })()
        : await runRunner([...args, "--stack", s.e2e.name], { env: s.e2e.env });
    const pendingAfter = deployment().pending_operations;
    const destroyed = await destroy();
    expectOffOrRefused(
      destroyed,
      `pending before refresh: ${pendingBefore?.length ?? 0}, after: ${pendingAfter?.length ?? 0}; ${between} exit ${refresh.code}:\n` +
        `${refresh.stdout.slice(0, 1500)}\n${refresh.stderr.slice(-1500)}\ndestroy exit ${destroyed.code}: ${destroyed.stderr.slice(-600)}`,
    );
  });
});

/** The file:// backend's checkpoint of this stack, as text ("" while none). */
function checkpoint(dir: string, name: string): string {
  const root = path.join(dir, "state", ".pulumi", "stacks");
  for (const f of fs.readdirSync(root, { recursive: true }) as string[]) {
    if (f.endsWith(`${name}.json`)) {
      try {
        return fs.readFileSync(path.join(root, f), "utf8");
      } catch {
        return "";
      }
    }
  }
  return "";
}

describe("a kill after the new write step is saved, before the old one's delete", () => {
  it("the runner's destroy is refused, or takes the entries off", async () => {
    s = await WriteStack.create();
    const seen = new Set<string>();
    const { killed, outcome } = await s.e2e.replaceKilledWhen("::auth-config-write", () => {
      const text = checkpoint(s.e2e.dir, s.e2e.name);
      seen.add(`${text.length}:${(text.match(/"delete": ?true/g) ?? []).length}:${(text.match(/pending_operations/g) ?? []).length}`);
      return /"delete": ?true/.test(text);
    });
    const state = deployment();
    await s.e2e.stack.cancel().catch(() => undefined);
    const record = fs.existsSync(s.recordFile) ? fs.readFileSync(s.recordFile, "utf8") : "(none)";
    const summary = [...(await s.e2e.summary())];
    const destroyed = await destroy();
    expectOffOrRefused(
      destroyed,
      `checkpoints seen (length:deletes:pending): ${[...seen].join(" ")}; killed ${killed} (${outcome}); pending ${state.pending_operations?.length ?? 0}; ` +
        `delete-marked ${state.resources
          .filter((r) => r.delete)
          .map((r) => r.urn)
          .join(", ")}\nrecord: ${record}\n` +
        `summary: ${summary.join(" | ")}\ndestroy exit ${destroyed.code}: ${destroyed.stderr.slice(-800)}`,
    );
  });
});

describe("destroy after a killed up --replace, the stack file edited between", () => {
  it.each(["moved", "createIfMissing-file", "moved, mass revocation allowed"])(
    "is refused, or takes the entries off the file the state names (%s)",
    async (edit) => {
      s = await WriteStack.create();
      await s.killReplace();
      // A pull request (stacks/ only) points the stack at another file before the destroy.
      const moved = path.join(s.e2e.dir, edit.startsWith("moved") ? "moved.yaml" : "new.yaml");
      if (edit.startsWith("moved")) fs.copyFileSync(s.serverFile, moved);
      if (edit.includes("allowed")) s.e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
      s.e2e.setConfig(s.config(moved));
      const summary = [...(await s.e2e.summary())];
      const destroyed = await destroy();
      s.e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined);
      expectOffOrRefused(destroyed, `summary: ${summary.join(" | ")}\ndestroy exit ${destroyed.code}: ${destroyed.stderr.slice(-800)}`);
    },
  );
});

describe("a move of the target straight after a killed up --replace (no up between)", () => {
  it("is refused, saying to run up with the old file first, or takes the entries off it", async () => {
    s = await WriteStack.create();
    await s.killReplace();
    const moved = path.join(s.e2e.dir, "moved.yaml");
    fs.copyFileSync(s.serverFile, moved);
    s.e2e.setConfig(s.config(moved));
    s.e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
    try {
      const summary = [...(await s.e2e.summary())];
      const up = await runRunner(["up", "--yes", "--stack", s.e2e.name], { env: s.e2e.env });
      const after = [...(await s.e2e.summary())];
      const refresh = await runRunner(["refresh", "--stack", s.e2e.name], { env: s.e2e.env });
      const note =
        `summary: ${summary.join(" | ")}\nup exit ${up.code}: ${up.all.slice(-600)}\n` +
        `the next summary: ${after.join(" | ") || "(nothing)"}\nrefresh mentions the old file: ${refresh.stdout.includes(s.serverFile)}`;
      if (up.code === 0) expect(s.holders(), `the old file after the move; ${note}`).toEqual(["svc-backup"]);
      else {
        expect(up.all, note).toContain("its record says a replacement of its write step did not finish");
        expect(s.holders(), note).toEqual(["alice", "bob", "svc-backup"]);
      }
    } finally {
      s.e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined);
    }
  });
});
