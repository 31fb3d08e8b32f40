/**
 * "Two targets that are one file are refused" (README): also a local authConfigPath and a
 * server over SSH that is this very machine, whose configPath is that file. Their identities
 * (a real path; a host key and a real path) never compared equal, so the up went ahead, and a
 * pull request that dropped the server then emptied the local target too (attack42, 3 of 3).
 * Each reading now says where the file is (boot id, device, inode), and the two compare equal.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { expectUnchanged } from "../support/secrets";
import { generateKeyPair, TestSshd } from "../support/sshd";

let e2e: E2EStack;
let sshd: TestSshd;
let serverFile: string;

beforeAll(async () => {
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-user-"));
  const keys = generateKeyPair(keyDir, "admin");
  fs.rmSync(keyDir, { recursive: true, force: true });
  sshd = await TestSshd.start(keys.publicKey);
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  e2e.setConfig({
    authConfigPath: serverFile,
    servers: [sshd.server(e2e.encryptSecret(keys.privateKey), { configPath: serverFile })],
    preserveEntries: ["svc-backup"],
    users: { alice: { role: "admin" }, bob: { role: "researcher" } },
  });
});
afterAll(async () => {
  await e2e?.cleanup();
  await sshd?.stop();
});

it("one file named twice, here and over SSH on this machine, is refused at preview, naming both, and up changes nothing", async () => {
  const before = fs.readFileSync(serverFile, "utf8");
  const lines = await e2e.summary();
  expect(lines.refused).toMatch(
    new RegExp(`(${serverFile} and box \\(.*\\)|box \\(.*\\) and ${serverFile}) are the same file; name it once`),
  );
  await expect(e2e.up()).rejects.toThrow(/are the same file/);
  expectUnchanged(fs.readFileSync(serverFile, "utf8"), before, "the auth config");
});
