/**
 * What a reviewer sees for pull requests that touch no user but change where keys and hashes
 * go, or what runs with them (issue 25): each is named by the plan (`summary`, the preview's
 * lines, CI's comment) in plain words, and fails `--expect-no-changes`. The real engine through
 * the runner's code; a real sshd for the appended server. Nothing is applied after the first up:
 * each case is previewed and the config put back.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { MALLORY_HASH, SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { generateKeyPair, TestSshd } from "../support/sshd";

let e2e: E2EStack;
let serverFile: string;
let sshd: TestSshd;
let privateKey: { secure: string };
const users = { alice: { role: "admin" }, bob: { role: "researcher" } };
const base = (): Record<string, unknown> => ({
  authConfigPath: serverFile,
  reloadCommand: "true",
  preserveEntries: ["svc-backup"],
  users,
});

/** The plan's lines for this config, and that a drift check on it fails; then back to the base. */
async function review(config: Record<string, unknown>): Promise<string[]> {
  e2e.setConfig(config);
  try {
    const lines = [...(await e2e.summary())];
    await expect(e2e.preview({ expectNoChanges: true }), "the drift check must fail").rejects.toThrow();
    return lines;
  } finally {
    e2e.setConfig(base());
  }
}

beforeAll(async () => {
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-user-"));
  const keys = generateKeyPair(keyDir, "fetchml-keys-admin");
  fs.rmSync(keyDir, { recursive: true, force: true });
  sshd = await TestSshd.start(keys.publicKey);
  privateKey = e2e.encryptSecret(keys.privateKey);
  e2e.setConfig(base());
  await e2e.up();
});

afterAll(async () => {
  await e2e?.cleanup();
  await sshd?.stop();
});

describe("the plan names every change of where keys go or what runs with them", () => {
  it("after an up, nothing to say and no change", async () => {
    expect([...(await e2e.summary())]).toEqual([]);
    await e2e.preview({ expectNoChanges: true });
  });

  it("only reloadCommand changed: old and new text, and where it runs", async () => {
    const leak = `sh -c 'cat ${serverFile} > ${path.join(e2e.dir, "leak")}'`;
    expect(await review({ ...base(), reloadCommand: leak })).toEqual([
      `~ ${serverFile}: reload command "true" -> ${JSON.stringify(leak)}: runs as you, on this machine after each change of the file`,
    ]);
  });

  it("a server appended: a new target, and whose hashes go there", async () => {
    const configPath = path.join(sshd.dir, "fetchml", "server.yaml");
    fs.mkdirSync(path.dirname(configPath), { recursive: true });
    fs.writeFileSync(configPath, withoutManagedEntries(SERVER_CONFIG, ["mallory", "svc-backup"]), { mode: 0o600 });
    const server = sshd.server(privateKey, { name: "extra", configPath, reloadCommand: "echo reloaded" });
    expect(await review({ ...base(), servers: [server] })).toEqual([
      `+ extra (${sshd.user}@127.0.0.1:${sshd.port}:${configPath}): new target: up writes the hashes of alice, bob there, ` +
        `then runs "echo reloaded" as ${sshd.user} on 127.0.0.1`,
    ]);
  });

  it("preserveEntries gained a hand-made admin entry: it says the entry keeps admin access", async () => {
    const before = fs.readFileSync(serverFile, "utf8");
    fs.writeFileSync(
      serverFile,
      before.replace("  api_keys:\n", `  api_keys:\n    eve:\n      hash: "${MALLORY_HASH}"\n      admin: true\n`),
    );
    try {
      expect([...(await e2e.summary())]).toEqual([
        `- eve: entry on ${serverFile} is not declared by this stack (admin): up removes it; list it in preserveEntries to keep it`,
      ]);
      expect(await review({ ...base(), preserveEntries: ["svc-backup", "eve"] })).toEqual([
        `! eve: now in preserveEntries: its entry stays, with its access, and is no longer checked, on ${serverFile} (admin)`,
      ]);
    } finally {
      fs.writeFileSync(serverFile, before);
    }
  });

  it("the ml config values users receive, and the delivery directory", async () => {
    expect(await review({ ...base(), client: { apiUrl: "wss://evil.example/ws" } })).toEqual([
      `~ ml config apiUrl "ws://localhost:9100/ws" -> "wss://evil.example/ws": every user's ~/.ml/config.toml, where their ml CLI sends its key`,
    ]);
    const dir = path.join(e2e.dir, "handover");
    expect(await review({ ...base(), deliveryDir: dir })).toEqual([
      `~ deliveryDir (none) -> ${dir}: direct users' ml configs (with their keys) are written there`,
    ]);
  });
});
