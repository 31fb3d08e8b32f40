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
import { parse } from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
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

afterEach(async () => {
  await e2e?.cleanup();
});

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
    e2e = await E2EStack.create({});
    serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    recordFile = path.join(e2e.dir, ".fetchml-server.yaml.fetchml-keys");
    fs.writeFileSync(serverFile, PADDING + withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
    e2e.setConfig({
      authConfigPath: serverFile,
      createIfMissing: true,
      preserveEntries: ["svc-backup"],
      users: { alice: { role: "admin" }, bob: { role: "researcher" } },
    });
    await e2e.up();
    const oldWriter = writerOf();
    const { killed, outcome } = await e2e.replaceKilledWhen("::auth-config-write", () => {
      const w = writerOf();
      return w !== undefined && w !== oldWriter;
    });
    expect([killed > 0, outcome]).toEqual([true, "failed"]);
    await e2e.stack.cancel();
    const pendingBefore = (JSON.parse(e2e.exportWithoutSecrets()) as { deployment: { pending_operations?: unknown[] } }).deployment
      .pending_operations;
    const urns = (JSON.parse(e2e.exportWithoutSecrets()) as { deployment: { resources: Array<{ urn: string }> } }).deployment.resources.map(
      (r) => r.urn,
    );
    const args = BETWEEN[between](urns);
    const refresh =
      args[0] === "pulumi"
        ? (() => {
            const r = spawnSync(e2e.engineBinary, [...args.slice(1), "--stack", e2e.name], {
              cwd: PROJECT_ROOT,
              env: { ...process.env, ...e2e.env },
              encoding: "utf8",
            });
            return { code: r.status, stdout: r.stdout, stderr: r.stderr };
          })()
        : await runRunner([...args, "--stack", e2e.name], { env: e2e.env });
    const pendingAfter = (JSON.parse(e2e.exportWithoutSecrets()) as { deployment: { pending_operations?: unknown[] } }).deployment
      .pending_operations;
    const destroy = await runRunner(["destroy", "--yes", "--stack", e2e.name], { env: e2e.env });
    const note =
      `pending before refresh: ${pendingBefore?.length ?? 0}, after: ${pendingAfter?.length ?? 0}; ${between} exit ${refresh.code}:\n` +
      `${refresh.stdout.slice(0, 1500)}\n${refresh.stderr.slice(-1500)}\ndestroy exit ${destroy.code}: ${destroy.stderr.slice(-600)}`;
    if (destroy.code === 0) expect(holders(), `destroy went on; ${note}`).toEqual(["svc-backup"]);
    else expect(destroy.stderr).toContain("Run `npm run up` first");
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
    e2e = await E2EStack.create({});
    serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    recordFile = path.join(e2e.dir, ".fetchml-server.yaml.fetchml-keys");
    fs.writeFileSync(serverFile, PADDING + withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
    e2e.setConfig({
      authConfigPath: serverFile,
      createIfMissing: true,
      preserveEntries: ["svc-backup"],
      users: { alice: { role: "admin" }, bob: { role: "researcher" } },
    });
    await e2e.up();
    const seen = new Set<string>();
    const { killed, outcome } = await e2e.replaceKilledWhen("::auth-config-write", () => {
      const text = checkpoint(e2e.dir, e2e.name);
      seen.add(`${text.length}:${(text.match(/"delete": ?true/g) ?? []).length}:${(text.match(/pending_operations/g) ?? []).length}`);
      return /"delete": ?true/.test(text);
    });
    const state = JSON.parse(e2e.exportWithoutSecrets()) as {
      deployment: { pending_operations?: unknown[]; resources: Array<{ urn: string; delete?: boolean }> };
    };
    await e2e.stack.cancel().catch(() => undefined);
    const record = fs.existsSync(recordFile) ? fs.readFileSync(recordFile, "utf8") : "(none)";
    const summary = [...(await e2e.summary())];
    const destroy = await runRunner(["destroy", "--yes", "--stack", e2e.name], { env: e2e.env });
    const note =
      `checkpoints seen (length:deletes:pending): ${[...seen].join(" ")}; killed ${killed} (${outcome}); pending ${state.deployment.pending_operations?.length ?? 0}; ` +
      `delete-marked ${state.deployment.resources
        .filter((r) => r.delete)
        .map((r) => r.urn)
        .join(", ")}\nrecord: ${record}\n` +
      `summary: ${summary.join(" | ")}\ndestroy exit ${destroy.code}: ${destroy.stderr.slice(-800)}`;
    if (destroy.code === 0) expect(holders(), `destroy went on; ${note}`).toEqual(["svc-backup"]);
    else expect(destroy.stderr, note).toContain("Run `npm run up` first");
  });
});

describe("destroy after a killed up --replace, the stack file edited between", () => {
  it.each(["moved", "createIfMissing-file", "moved, mass revocation allowed"])(
    "is refused, or takes the entries off the file the state names (%s)",
    async (edit) => {
      e2e = await E2EStack.create({});
      serverFile = path.join(e2e.dir, "fetchml-server.yaml");
      recordFile = path.join(e2e.dir, ".fetchml-server.yaml.fetchml-keys");
      fs.writeFileSync(serverFile, PADDING + withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
      const base = {
        authConfigPath: serverFile,
        createIfMissing: true,
        preserveEntries: ["svc-backup"],
        users: { alice: { role: "admin" }, bob: { role: "researcher" } },
      };
      e2e.setConfig(base);
      await e2e.up();
      const oldWriter = writerOf();
      const { killed, outcome } = await e2e.replaceKilledWhen("::auth-config-write", () => {
        const w = writerOf();
        return w !== undefined && w !== oldWriter;
      });
      expect([killed > 0, outcome]).toEqual([true, "failed"]);
      await e2e.stack.cancel();
      // A pull request (stacks/ only) points the stack at another file before the destroy.
      const moved = path.join(e2e.dir, edit.startsWith("moved") ? "moved.yaml" : "new.yaml");
      if (edit.startsWith("moved")) fs.copyFileSync(serverFile, moved);
      if (edit.includes("allowed")) e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
      e2e.setConfig({ ...base, authConfigPath: moved });
      const summary = [...(await e2e.summary())];
      const destroy = await runRunner(["destroy", "--yes", "--stack", e2e.name], { env: e2e.env });
      e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined);
      const note = `summary: ${summary.join(" | ")}\ndestroy exit ${destroy.code}: ${destroy.stderr.slice(-800)}`;
      if (destroy.code === 0) expect(holders(), `destroy went on; ${note}`).toEqual(["svc-backup"]);
      else expect(destroy.stderr, note).toContain("Run `npm run up` first");
    },
  );
});

describe("a move of the target straight after a killed up --replace (no up between)", () => {
  it("is refused, saying to run up with the old file first, or takes the entries off it", async () => {
    e2e = await E2EStack.create({});
    serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    recordFile = path.join(e2e.dir, ".fetchml-server.yaml.fetchml-keys");
    fs.writeFileSync(serverFile, PADDING + withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
    const base = {
      authConfigPath: serverFile,
      createIfMissing: true,
      preserveEntries: ["svc-backup"],
      users: { alice: { role: "admin" }, bob: { role: "researcher" } },
    };
    e2e.setConfig(base);
    await e2e.up();
    const oldWriter = writerOf();
    const { killed, outcome } = await e2e.replaceKilledWhen("::auth-config-write", () => {
      const w = writerOf();
      return w !== undefined && w !== oldWriter;
    });
    expect([killed > 0, outcome]).toEqual([true, "failed"]);
    await e2e.stack.cancel();
    const moved = path.join(e2e.dir, "moved.yaml");
    fs.copyFileSync(serverFile, moved);
    e2e.setConfig({ ...base, authConfigPath: moved });
    e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
    try {
      const summary = [...(await e2e.summary())];
      const up = await runRunner(["up", "--yes", "--stack", e2e.name], { env: e2e.env });
      const after = [...(await e2e.summary())];
      const refresh = await runRunner(["refresh", "--stack", e2e.name], { env: e2e.env });
      const note =
        `summary: ${summary.join(" | ")}\nup exit ${up.code}: ${up.all.slice(-600)}\n` +
        `the next summary: ${after.join(" | ") || "(nothing)"}\nrefresh mentions the old file: ${refresh.stdout.includes(serverFile)}`;
      if (up.code === 0) expect(holders(), `the old file after the move; ${note}`).toEqual(["svc-backup"]);
      else {
        expect(up.all, note).toContain("its record says a replacement of its write step did not finish");
        expect(holders(), note).toEqual(["alice", "bob", "svc-backup"]);
      }
    } finally {
      e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined);
    }
  });
});
