/**
 * A pull request that copies the deploy key's `secure:` ciphertext (in the committed stack file)
 * to a setting that is no secret, here `authConfigPath`: the program must refuse it by its config
 * path and print no part of the key. A ciphertext is not bound to its key, so the program
 * decrypts it as a path; a refusal quoting its directory printed the key up to its last '/',
 * which Pulumi's filter (the whole value only) let through (attack40 F2: the whole ed25519
 * seed in CI's preview).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";

/**
 * An ed25519 key whose text passes as a path (no '/'-separated name over 255 bytes) and whose
 * last '/' comes after the private seed: a message quoting the path's directory prints the seed.
 */
function deployKey(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "misplaced-secret-"));
  try {
    for (let i = 0; ; i++) {
      const file = path.join(dir, `k${i}`);
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "deploy", "-f", file]);
      const pem = fs.readFileSync(file, "utf8");
      const body = pem.split("\n").slice(1, -2).join("");
      if (pem.split("/").every((name) => Buffer.byteLength(name) <= 255) && body.lastIndexOf("/") > 260) return pem;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const users = { alice: { role: "admin" } };
let e2e: E2EStack;
beforeAll(async () => {
  e2e = await E2EStack.create({ authConfigPath: path.join(os.tmpdir(), "misplaced-secret-none.yaml"), createIfMissing: true, users });
});
afterAll(async () => e2e?.cleanup());

const MISPLACED = "authConfigPath: is a secret (secure:), and only servers[].privateKey may be one; its value is not shown.";

/** What the summary printed, its refusal included, on one line. */
async function printed(config: Record<string, unknown>): Promise<{ text: string; refused?: string }> {
  e2e.setConfig(config);
  const lines = await e2e.summary();
  return { text: [...lines, lines.refused ?? ""].join("\n").replace(/\n/g, ""), refused: lines.refused };
}

/** Every 12 characters in a row of the key's base64 body (its public header included) found in `text`. */
function keyParts(pem: string, text: string): string[] {
  const body = pem.split("\n").slice(1, -2).join("");
  return Array.from({ length: body.length - 12 }, (_, i) => body.slice(i, i + 12)).filter((s) => text.includes(s));
}

it("a deploy key's ciphertext moved into authConfigPath: no part of the key is printed, and it is refused by its path", async () => {
  const pem = deployKey();
  const { text, refused } = await printed({ authConfigPath: e2e.encryptSecret(pem), users });
  expect(keyParts(pem, text)).toEqual([]);
  expect(refused).toContain(MISPLACED);
});

it("every other problem is still named with it, at once", async () => {
  const pem = deployKey();
  const { text, refused } = await printed({ authConfigPath: e2e.encryptSecret(pem), users, unknownSetting: 1 });
  expect(keyParts(pem, text)).toEqual([]);
  expect(refused).toContain(MISPLACED);
  expect(refused).toContain('unknownSetting: unknown key "unknownSetting"');
});

it("a second YAML document in the stack file (the engine reads the first only) does not hide it: the file is refused", async () => {
  const pem = deployKey();
  e2e.setConfig({ authConfigPath: e2e.encryptSecret(pem), users });
  fs.appendFileSync(e2e.stackFile, "---\nignored: by the engine\n");
  const lines = await e2e.summary();
  const text = [...lines, lines.refused ?? ""].join("\n").replace(/\n/g, "");
  expect(keyParts(pem, text)).toEqual([]);
  expect(lines.refused).toContain("the stack file cannot be read whole to check where its secrets are (MULTIPLE_DOCS)");
});

it("a merge key (<<) beside a copied secure: value (the engine applies it, the check's parser would not) does not hide it: the file is refused", async () => {
  // attack41 F1: servers[0].hostKey: {secure: <the deploy key's ciphertext>, <<: {}}
  const pem = deployKey();
  const secure = e2e.encryptSecret(pem).secure;
  const server = { name: "gpu", host: "127.0.0.1", port: 2, user: "fetchml", configPath: "/etc/fetchml/api.yaml" };
  e2e.setConfig({ users, servers: [{ ...server, privateKey: { secure }, hostKey: { secure, MERGE_HERE: {} } }] });
  fs.writeFileSync(e2e.stackFile, fs.readFileSync(e2e.stackFile, "utf8").replace(/"?MERGE_HERE"?/, "<<"));
  const lines = await e2e.summary();
  const text = [...lines, lines.refused ?? ""].join("\n").replace(/\n/g, "");
  expect(keyParts(pem, text)).toEqual([]);
  expect(lines.refused).toMatch(/the stack file has a merge key \(<<\) at line \d+, column \d+: the engine reads it otherwise/);
});
