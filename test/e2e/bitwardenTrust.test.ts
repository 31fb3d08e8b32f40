/**
 * The Bitwarden path against another local account (uid 65534), found by attack41:
 * - a `bitwarden.cli` another account could swap ran as root with the vault session (4 of 4);
 * - a CA file (NODE_EXTRA_CA_CERTS) another account could replace let it answer the vault's
 *   loopback address and receive the Bitwarden login: the API key (2 of 2), or the session's
 *   refresh token (2 of 2);
 * - the bw serve guard held the step's secrets in its environment, and a kill of the step's
 *   process group left an unlocked bw serve running (3 of 3).
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BW_DEFAULT, BwCli } from "../support/bitwarden/bwCli";
import { startVault, type TestVault } from "../support/bitwarden/vault";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { freePort } from "../support/freePort";
import { expectSameSecret } from "../support/secrets";
import { AS_NOBODY, NOBODY, PYTHON_AS_NOBODY, pythonAsNobody } from "../support/nobody";

let vault: TestVault;
let e2e: E2EStack;
let serverFile: string;
let users: Record<string, Record<string, unknown>>;
const temps: string[] = [];
const config = (bitwarden: Record<string, unknown> = {}) => ({
  authConfigPath: serverFile,
  preserveEntries: ["svc-backup"],
  bitwarden: { organizationId: vault.org.id, collectionIds: [vault.org.collections.FetchML], ...bitwarden },
  users,
});
const tempDir = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
};

beforeAll(async () => {
  vault = await startVault(["FetchML"]);
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  for (const [name, value] of Object.entries(vault.env)) e2e.setProgramEnv(name, value);
  users = { alice: { role: "admin", delivery: "bitwarden" } };
  e2e.setConfig(config());
  await e2e.up();
}, 300_000);

afterAll(async () => {
  for (const name of ["BW_SESSION", "BITWARDENCLI_APPDATA_DIR", "NODE_EXTRA_CA_CERTS"]) e2e?.setProgramEnv(name, undefined);
  await e2e?.cleanup();
  await vault?.stop();
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

/** uid 65534's own CA, and a certificate from it for 127.0.0.1, in `dir` (its own): what it would put in a CA file the admin's bw trusts. */
function impostorCertificates(dir: string): void {
  execFileSync(AS_NOBODY[0], [
    ...AS_NOBODY.slice(1),
    "sh",
    "-c",
    `cd ${dir} && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=not-the-vault-ca 2>/dev/null && ` +
      `openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null && ` +
      `printf 'subjectAltName=IP:127.0.0.1\\n' > ext && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext 2>/dev/null`,
  ]);
}

/** uid 65534 answering HTTPS on a loopback port with its certificate, noting every request (and its Authorization) in `heard`. */
function impostorVault(dir: string, port: number, heard: string) {
  return spawn(PYTHON_AS_NOBODY[0], [
    ...PYTHON_AS_NOBODY.slice(1),
    "-c",
    `import http.server, ssl\nclass H(http.server.BaseHTTPRequestHandler):\n` +
      `  def log_message(self, *a): pass\n` +
      `  def answer(self):\n` +
      `    n = int(self.headers.get("Content-Length") or 0)\n` +
      `    open(${JSON.stringify(heard)}, "a").write(self.command + " " + self.path + " auth=" + str(self.headers.get("Authorization")) + " " + self.rfile.read(n).decode("utf8", "replace") + "\\n")\n` +
      `    self.send_response(400); self.send_header("Content-Type", "application/json"); self.end_headers(); self.wfile.write(b'{"error":"invalid_client"}')\n` +
      `  do_GET = answer\n  do_POST = answer\n  do_PUT = answer\n` +
      `s = http.server.HTTPServer(("127.0.0.1", ${port}), H)\n` +
      `c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(${JSON.stringify(path.join(dir, "srv.pem"))}, ${JSON.stringify(path.join(dir, "srv.key"))})\n` +
      `s.socket = c.wrap_socket(s.socket, server_side=True)\ns.serve_forever()\n`,
  ]);
}

const heardLines = (heard: string) => (fs.existsSync(heard) ? fs.readFileSync(heard, "utf8").split("\n").filter(Boolean) : []);

it("a bitwarden.cli another account could swap is refused at preview, and what it put there never runs", async () => {
  const dir = tempDir("bw-tools-");
  fs.chmodSync(dir, 0o755);
  fs.chownSync(dir, NOBODY, NOBODY);
  const cli = path.join(dir, "bw");
  const loot = path.join(dir, "loot");
  // The admin's wrapper (root's, 0755) in a directory uid 65534 owns, which 65534 then swaps.
  fs.writeFileSync(cli, `#!/bin/sh\nexec ${process.execPath} ${BW_DEFAULT} "$@"\n`, { mode: 0o755 });
  const err = pythonAsNobody(
    `import os\n` +
      `os.rename(${JSON.stringify(cli)}, ${JSON.stringify(cli + ".old")})\n` +
      `open(${JSON.stringify(cli)}, "w").write('#!/bin/sh\\n(umask 022; env | grep -E "^BW_" >> ${loot})\\nexec ${process.execPath} ${BW_DEFAULT} "$@"\\n')\n` +
      `os.chmod(${JSON.stringify(cli)}, 0o755)\n`,
  );
  expect(err).toBe("");
  users.alice = { ...users.alice, rotation: 1 };
  e2e.setConfig(config({ cli }));
  const summary = await e2e.summary();
  expect(summary.refused).toContain(
    `bitwarden.cli ${JSON.stringify(cli)}: another account could replace what runs (${cli} belongs to nobody (uid ${NOBODY}))`,
  );
  await expect(e2e.up()).rejects.toThrow(/bitwarden\.cli/);
  expect(fs.existsSync(loot)).toBe(false);
  users.alice = { role: "admin", delivery: "bitwarden" };
  e2e.setConfig(config());
});

it("a CA file another account could replace (NODE_EXTRA_CA_CERTS) is refused before any bw starts: neither the API key nor the session's token reaches it", async () => {
  const dir = tempDir("bw-ca-");
  fs.chmodSync(dir, 0o755);
  fs.chownSync(dir, NOBODY, NOBODY);
  impostorCertificates(dir);
  const heard = path.join(dir, "heard");
  const ca = path.join(dir, "ca.pem");
  const port = await freePort();
  const listener = impostorVault(dir, port, heard);
  // Unattended, against a vault address uid 65534 answers (the local vault is down).
  const fresh = new BwCli(`https://127.0.0.1:${port}`, ca, BW_DEFAULT);
  const secret = vault.account.clientSecret;
  try {
    await new Promise((r) => setTimeout(r, 800));
    await fresh.configure();
    e2e.setProgramEnv("BW_SESSION", undefined);
    e2e.setProgramEnv("BITWARDENCLI_APPDATA_DIR", fresh.dataDir);
    e2e.setProgramEnv("NODE_EXTRA_CA_CERTS", ca);
    e2e.setProgramEnv("BW_CLIENTID", vault.account.clientId);
    e2e.setProgramEnv("BW_CLIENTSECRET", secret);
    e2e.setProgramEnv("BW_PASSWORD", vault.account.password);
    users.alice = { role: "admin", delivery: "bitwarden", rotation: 2 };
    e2e.setConfig(config());
    const summary = await e2e.summary();
    expect(summary.refused).toContain(
      `NODE_EXTRA_CA_CERTS ${ca}: another account could replace it (${ca} belongs to nobody (uid ${NOBODY}))`,
    );
    await expect(e2e.up()).rejects.toThrow(/NODE_EXTRA_CA_CERTS/);
  } finally {
    listener.kill("SIGKILL");
    for (const name of ["BW_CLIENTID", "BW_CLIENTSECRET", "BW_PASSWORD"]) e2e.setProgramEnv(name, undefined);
    for (const [name, value] of Object.entries(vault.env)) e2e.setProgramEnv(name, value);
    fresh.cleanup();
  }
  expect(heardLines(heard)).toEqual([]);
  // With the session: the same CA file, and the local vault's own port answered by 65534 while it is down.
  await vault.server.pause();
  const second = impostorVault(dir, Number(new URL(vault.server.url).port), heard);
  try {
    await new Promise((r) => setTimeout(r, 800));
    e2e.setProgramEnv("NODE_EXTRA_CA_CERTS", ca);
    await expect(e2e.up()).rejects.toThrow(/NODE_EXTRA_CA_CERTS/);
  } finally {
    second.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    await vault.server.resume();
    for (const [name, value] of Object.entries(vault.env)) e2e.setProgramEnv(name, value);
    users.alice = { role: "admin", delivery: "bitwarden" };
    e2e.setConfig(config());
  }
  expect(heardLines(heard)).toEqual([]);
});

it("the bw serve guard (a /bin/sh, not a bw) holds no secret in its environment", async () => {
  const dir = tempDir("bw-own-");
  const cli = path.join(dir, "bw");
  const found = path.join(dir, "guard-env");
  // The admin's own wrapper (root's, in root's 0700 directory): on `serve`, it notes the names
  // of the variables the guard process (cmdline "bw-guard") holds.
  fs.writeFileSync(
    cli,
    `#!/bin/sh\nif [ "$1" = serve ]; then (sleep 1; for p in /proc/[0-9]*; do ` +
      `if tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^/bin/sh -c trap .* bw-guard '; then tr '\\0' '\\n' < $p/environ | sed 's/=.*//' | sort >> ${found}; fi; done) & fi\n` +
      `exec ${process.execPath} ${BW_DEFAULT} "$@"\n`,
    { mode: 0o700 },
  );
  users.alice = { role: "admin", delivery: "bitwarden", rotation: 3 };
  e2e.setConfig(config({ cli }));
  await e2e.up();
  const names = fs.existsSync(found) ? fs.readFileSync(found, "utf8").split("\n").filter(Boolean) : [];
  expect(names.length).toBeGreaterThan(0);
  expect(names.filter((n) => /^(BW_|PULUMI_CONFIG|PGPASSWORD|AWS_SECRET)/.test(n))).toEqual([]);
});

/**
 * Runs `change` with a bw wrapper that, 2 s after `bw serve` starts, does what a SIGKILL of the
 * process group of whoever started it does (the vault step's own serve: the step; the run's
 * shared one: the program): that process dies, and the guard with it if it is in that group.
 * (Not the group itself: under the offline plugin it is the engine's and this test's.) Then no
 * bw serve may be left running.
 */
async function killWhoStartedServe(change: (cli: string) => Promise<void>) {
  const dir = tempDir("bw-kill-");
  const cli = path.join(dir, "bw");
  const note = path.join(dir, "killed");
  fs.writeFileSync(
    cli,
    `#!/bin/sh\nif [ "$1" = serve ]; then (sleep 2; for p in /proc/[0-9]*; do ` +
      `if tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q bw-guard; then g=\${p#/proc/}; s=$(awk '{print $4}' $p/stat); ` +
      `echo "guard $g pgid $(awk '{print $5}' $p/stat) starter $s $(tr '\\0' ' ' < /proc/$s/cmdline | cut -c1-120) pgid $(awk '{print $5}' /proc/$s/stat) serve pgid $(awk '{print $5}' /proc/self/stat)" >> ${note}; [ "$(awk '{print $5}' $p/stat)" = "$(awk '{print $5}' /proc/$s/stat)" ] && kill -KILL $g; kill -KILL $s; fi; done) </dev/null >/dev/null 2>&1 & fi\n` +
      `exec ${process.execPath} ${BW_DEFAULT} "$@"\n`,
    { mode: 0o700 },
  );
  await change(cli);
  await new Promise((r) => setTimeout(r, 7000));
  const serves: string[] = [];
  for (const p of fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ");
      // This test's vault only: its bw data directory is in the serve's environment.
      const ours = fs
        .readFileSync(`/proc/${p}/environ`, "utf8")
        .split("\0")
        .includes(`BITWARDENCLI_APPDATA_DIR=${vault.env.BITWARDENCLI_APPDATA_DIR}`);
      if (cmd.includes(" serve --hostname unix://") && ours) serves.push(`${p} ${cmd}`);
    } catch {
      // gone
    }
  }
  for (const s of serves) {
    try {
      process.kill(Number(s.split(" ")[0]), "SIGKILL"); // only the bw serve this test's run started
    } catch {
      // gone
    }
  }
  expect(fs.existsSync(note)).toBe(true);
  expect(serves, fs.readFileSync(note, "utf8")).toEqual([]);
  return fs.readFileSync(note, "utf8");
}

it("bw serve does not outlive the vault step when the step's process group is killed (kill -9)", async () => {
  // No key changes (a repair): the vault step starts its own serve.
  const note = await killWhoStartedServe(async (cli) => {
    e2e.setConfig(config({ cli, repair: 1 }));
    await e2e.up().catch(() => undefined);
  });
  expect(note).toMatch(/starter \d+ [^\n]*(steps\/main\.js|fetchml-keys-step) vault-write/);
  e2e.setConfig(config());
});

it("the run's shared bw serve does not outlive the program that started it (kill -9 of plain pulumi's program), and the next up converges", async () => {
  const note = await killWhoStartedServe(async (cli) => {
    users.alice = { role: "admin", delivery: "bitwarden", rotation: 4 };
    e2e.setConfig(config({ cli }));
    e2e.via = "plain";
    try {
      await e2e.up().catch(() => undefined);
    } finally {
      e2e.via = "runner";
    }
  });
  expect(note).not.toMatch(/vault-write/);
  // The bw lock went with the program: the next up takes it, and the vault gets the key.
  e2e.setConfig(config());
  await e2e.up();
  const { apiKeys, vaultItems } = (await e2e.outputs()) as { apiKeys: Record<string, string>; vaultItems: Record<string, string> };
  expectSameSecret(vault.server.decryptCipher(vaultItems.alice).password, apiKeys.alice, "alice's key in the vault");
});

it("a bitwarden.cli that is gone is named in every plan (a key change would stop at the vault check), not passed over", async () => {
  // attack42 6: the summary was empty and the drift check passed.
  const cli = path.join(tempDir("bw-gone-"), "bw");
  e2e.setConfig(config({ cli }));
  const lines = [...(await e2e.summary())];
  expect(lines, lines.join("\n")).toContain(
    `! bitwarden.cli ${JSON.stringify(cli)}: not found, or not executable: a run that changes a Bitwarden user's key stops at the vault check, before any key changes`,
  );
  e2e.setConfig(config());
});
