/**
 * The tools a server over SSH runs by name (cat, base64, sha256sum, mktemp, mv, the reload
 * command's programs) come from the system's directories, not from the login's PATH, which the
 * server sets (/etc/environment, sshd's SetEnv) and may hold another account's directory
 * (a researcher's /opt/conda/bin). attack45: uid 65534's `base64` got the whole config at every
 * preview (every other entry's hash) and its `cat` every user's new hash at every up, both run
 * as the login (root here), 5 of 5. Its wrappers pass everything through to the real tools, so
 * a run through them succeeds: only what they record shows that they ran.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { MALLORY_HASH, SERVER_CONFIG, SERVICE_HASH } from "../support/fixtures";
import { NOBODY, PYTHON_AS_NOBODY, plantAsNobody, sharedBin } from "../support/nobody";
import { expectedHash } from "../support/oracle";
import { keyPairInMemory, TestSshd } from "../support/sshd";

let sshd: TestSshd;
let e2e: E2EStack;
let shared: { root: string; bin: string };
let loot: string;
let server: Record<string, unknown>;
const users: Record<string, unknown> = { alice: { role: "admin" }, bob: { role: "researcher" } };
const setConfig = () => e2e.setConfig({ servers: [server], preserveEntries: ["svc-backup", "mallory"], users });

/** What uid 65534 reads back of what its programs recorded (as that account). */
function lootAsNobody(): string {
  const [cmd, ...args] = PYTHON_AS_NOBODY;
  const code = `import os,sys
d=${JSON.stringify(loot)}
sys.stdout.write("\\n".join(n + "\\n" + open(os.path.join(d, n)).read() for n in sorted(os.listdir(d))))`;
  return spawnSync(cmd, [...args, "-c", code], { encoding: "utf8" }).stdout;
}

beforeAll(async () => {
  shared = sharedBin("remote-path-");
  fs.chmodSync(shared.bin, 0o755);
  fs.chownSync(shared.bin, NOBODY, NOBODY);
  loot = path.join(shared.root, "loot");
  fs.mkdirSync(loot);
  fs.chownSync(loot, NOBODY, NOBODY);
  // Each keeps a copy of what it is given. The login's shell startup files (root's .bashrc here
  // runs pyenv) may start them before any script of this tool does: the server's doing, and
  // nothing of the config's in what they get. So what counts is config text in the copies.
  const record = `L=${loot}; umask 022`;
  plantAsNobody(path.join(shared.bin, "base64"), `#!/bin/sh\n${record}\n/usr/bin/tee -a $L/base64.stdin | /usr/bin/base64 "$@"\n`);
  plantAsNobody(
    path.join(shared.bin, "cat"),
    `#!/bin/sh\n${record}\n[ $# -gt 0 ] && exec /usr/bin/cat "$@"\nexec /usr/bin/tee -a $L/cat.stdin\n`,
  );
  plantAsNobody(path.join(shared.bin, "reload-probe"), `#!/bin/sh\n${record}\nid -u > $L/reload-probe\n`);

  const deploy = keyPairInMemory("fetchml-keys-admin");
  sshd = await TestSshd.start(deploy.publicKey, [`SetEnv PATH=${shared.bin}:/usr/sbin:/usr/bin:/sbin:/bin`]);
  const configFile = path.join(sshd.dir, "fetchml", "server.yaml");
  fs.mkdirSync(path.dirname(configFile));
  fs.writeFileSync(configFile, SERVER_CONFIG, { mode: 0o640 });
  e2e = await E2EStack.create({});
  server = sshd.server(e2e.encryptSecret(deploy.privateKey), { name: "gpu-box", configPath: configFile, reloadCommand: "true" });
  setConfig();
}, 120_000);

afterAll(async () => {
  await e2e?.cleanup();
  await sshd?.stop();
  if (shared) fs.rmSync(shared.root, { recursive: true, force: true });
});

describe("tools a server over SSH runs by name", () => {
  it("a preview hands none of another account's programs on the login's PATH the config or a hash", async () => {
    await e2e.summary();
    const got = lootAsNobody();
    expect({ config: got.includes("api_keys"), leaked: [SERVICE_HASH, MALLORY_HASH].filter((h) => got.includes(h)).length }, got).toEqual({
      config: false,
      leaked: 0,
    });
  }, 300_000);

  it("an up neither: no config text, none of the users' new hashes", async () => {
    await e2e.up();
    const apiKeys = (await e2e.outputs()).apiKeys as Record<string, string>;
    const got = lootAsNobody();
    const leaked = Object.values(apiKeys)
      .map(expectedHash)
      .filter((h) => got.includes(h)).length;
    expect({ config: got.includes("api_keys"), leaked }, got).toEqual({ config: false, leaked: 0 });
  }, 300_000);

  it("a reload command is looked up there neither, and a program it cannot find says to name it by its full path", async () => {
    server = { ...server, reloadCommand: "reload-probe" };
    users.carol = { role: "researcher" };
    setConfig();
    await expect(e2e.up()).rejects.toThrow();
    expect(e2e.output()).toContain("(it runs with PATH=/usr/sbin:/usr/bin:/sbin:/bin: name a program elsewhere by its full path)");
    expect(lootAsNobody()).not.toContain("reload-probe");
  }, 300_000);
});
