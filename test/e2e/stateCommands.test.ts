/**
 * A command resource's delete runs the command text the state holds, with the stored request
 * decrypted on its stdin and the engine's environment (the passphrase) around it. Whoever can
 * write the state store (the shared PostgreSQL role, a file:// backend's directory) but has no
 * passphrase could put a command of their own there. attack45 F8/F8b: the next destroy, or an
 * ordinary up that deletes an injected resource, ran it as root with every hash on its stdin
 * (3 of 3 each), and the summary said nothing. Now the runner refuses an up or a destroy while
 * the state holds a command that is not one of this program's steps; nothing runs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { runRunner } from "../support/runner";
import { expectUnchanged } from "../support/secrets";

const BASE = "auth:\n  enabled: true\n  api_keys: {}\nlogging:\n  level: info\n";
const DELETE = "exec ./bin/fetchml-keys-step auth-remove";
let e2e: E2EStack | undefined;

afterEach(async () => {
  await e2e?.cleanup();
});

/** The file:// checkpoint, edited as a state writer would (the state file is plain JSON; only secrets are encrypted). */
function editCheckpoint(dir: string, name: string, edit: (resources: Resources) => void): void {
  const file = path.join(dir, "state", ".pulumi", "stacks", "fetchml-keys", `${name}.json`);
  const doc = JSON.parse(fs.readFileSync(file, "utf8"));
  edit(doc.checkpoint.latest.resources);
  fs.writeFileSync(file, JSON.stringify(doc, null, 4));
}

type Resources = Array<Record<string, any>>;
const writeStep = (resources: Resources) => resources.find((r) => String(r.urn).endsWith("::auth-config-write"))!;
/** A copy of the write step under another name, with these fields of its own in inputs and outputs. */
function injectCopy(resources: Resources, fields: Record<string, string>): void {
  const write = writeStep(resources);
  const injected = { ...JSON.parse(JSON.stringify(write)), urn: `${write.urn}-cache`, id: `${write.id}-cache` };
  for (const bag of [injected.inputs, injected.outputs]) Object.assign(bag, fields);
  resources.push(injected);
}

describe.each([
  [
    "the write step's delete rewritten",
    "destroy",
    (resources: Resources, marker: string) => {
      for (const bag of [writeStep(resources).inputs, writeStep(resources).outputs]) bag.delete = `id -u > ${marker}; ${DELETE}`;
    },
  ],
  [
    "a copy of the write step injected with a delete of its own",
    "up",
    (resources: Resources, marker: string) => injectCopy(resources, { delete: `id -u > ${marker}; cat > /dev/null` }),
  ],
  [
    // recheck45: the steps' own delete with a request written without the passphrase, naming a reload command: 3 of 3 ran as root.
    "a copy of the write step injected with a plain request of its own",
    "up",
    (resources: Resources, marker: string) =>
      injectCopy(resources, {
        stdin: JSON.stringify({
          stack: "organization/fetchml-keys/x",
          target: { kind: "local", configPath: `${marker}.yaml`, reloadCommand: `id -u > ${marker}` },
        }),
      }),
  ],
] as const)("state holding a command this program never declares: %s", (_, command, tamper) => {
  it(`the runner's ${command} refuses, names it, and runs nothing`, async () => {
    e2e = await E2EStack.create({});
    const serverFile = path.join(e2e.dir, "api.yaml");
    fs.writeFileSync(serverFile, BASE, { mode: 0o600 });
    e2e.setConfig({ authConfigPath: serverFile, users: { alice: { role: "admin" }, bob: { role: "researcher" } } });
    await e2e.up();
    const before = fs.readFileSync(serverFile, "utf8");
    const marker = path.join(e2e.dir, "ran");
    editCheckpoint(e2e.dir, e2e.name, (resources) => tamper(resources, marker));
    const r = await runRunner([command, "--yes", "--stack", e2e.name], { env: e2e.env });
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toContain("its state holds what this program never declares");
    expect(r.stderr).toMatch(/auth-config-write(-cache)?: its (delete|stdin) is not this program's/);
    // Only the resource tampered with is named: the program's own steps pass.
    expect(r.stderr.match(/is not this program's|are not this program's/g)).toHaveLength(1);
    expect(fs.existsSync(marker), "the planted command ran").toBe(false);
    expectUnchanged(fs.readFileSync(serverFile, "utf8"), before, "the server config");
  });
});
