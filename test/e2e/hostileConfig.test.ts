/**
 * Hostile or huge server configs and hostile paths (issue 24 item 5), with the real engine:
 * each is refused at preview already, naming the file, line and column (or, for a path, the
 * path and what is wrong, in one plain line), and `up` refuses the same way, before anything
 * changes. Locally, and over SSH (a real sshd on loopback) where it applies.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { generateKeyPair, TestSshd } from "../support/sshd";

const GOOD = withoutManagedEntries(SERVER_CONFIG, ["mallory"]);
const ALICE_HASH = "a".repeat(64);

/** A billion-laughs chain: nine lines that expand to 9^9 strings. */
function laughs(): string {
  const lines = ['lol0: &lol0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++)
    lines.push(
      `lol${i}: &lol${i} [${Array(9)
        .fill(`*lol${i - 1}`)
        .join(",")}]`,
    );
  return `${lines.join("\n")}\n${GOOD}`;
}
const apiKeysAsList = GOOD.replace(/ {2}api_keys:\n(?: {4}.*\n)+/, `  api_keys:\n    - alice:\n        hash: "${ALICE_HASH}"\n`);
const apiKeysInline = GOOD.replace(/ {2}api_keys:\n(?: {4}.*\n)+/, `  api_keys: {alice: {hash: "${ALICE_HASH}", admin: true}}\n`);

/** The refusal of a preview and of an up, each with the stack's output: both must say `expected`, and neither a raw error. */
async function expectRefusedAtPreviewAndUp(e2e: E2EStack, expected: RegExp, file?: string): Promise<void> {
  const before = file && fs.existsSync(file) ? fs.readFileSync(file) : undefined;
  const summary = await e2e.summary();
  expect(summary.refused, "preview").toMatch(expected);
  const start = e2e.log.length;
  const error = await e2e.up().then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error, "up must fail").toBeDefined();
  const said = e2e.log.slice(start).join("") + String(error?.message);
  expect(said, "up").toMatch(expected);
  expect(said).not.toMatch(/Unhandled exception|EISDIR|ENAMETOOLONG|ReferenceError|unexpected /);
  if (before) expect(fs.readFileSync(file!).equals(before), "the file is left untouched").toBe(true);
}

describe("hostile server configs and paths, on this machine", () => {
  let e2e: E2EStack;
  let serverFile: string;
  const base = () => ({ authConfigPath: serverFile, preserveEntries: ["svc-backup"], users: { alice: { role: "admin" } } });

  beforeAll(async () => {
    e2e = await E2EStack.create({});
    serverFile = path.join(e2e.dir, "api.yaml");
    fs.writeFileSync(serverFile, GOOD, { mode: 0o600 });
    e2e.setConfig(base());
    await e2e.up();
  });
  afterAll(async () => {
    await e2e?.cleanup();
  });

  // Before: preview exited 0, up failed with "auth-write: unexpected ReferenceError".
  it("a billion-laughs alias chain is refused with its line and column", async () => {
    fs.writeFileSync(serverFile, laughs());
    await expectRefusedAtPreviewAndUp(
      e2e,
      /api\.yaml: line \d+ column \d+: its aliases \(\*name\) expand to more than 100 copies/,
      serverFile,
    );
  });

  // Before: the preview was green ("up restores it"), up refused without a line or column.
  it("api_keys written as a list, or inline, is refused at preview with line, column and what to write", async () => {
    fs.writeFileSync(serverFile, apiKeysAsList);
    await expectRefusedAtPreviewAndUp(
      e2e,
      /api\.yaml: line 13 column 5: auth\.api_keys must be a block mapping \(user name to entry\), not a list .*write each user as "<name>:" on its own line/,
      serverFile,
    );
    fs.writeFileSync(serverFile, apiKeysInline);
    await expectRefusedAtPreviewAndUp(
      e2e,
      /api\.yaml: line 12 column 13: auth\.api_keys must be a block mapping .*not a mapping written inline/,
      serverFile,
    );
  });

  // Before: preview 19 s and 2.1 GB; up did not finish in 120 s and left the stack locked.
  it("a 50 MB file is refused from its size, and leaves no lock behind", async () => {
    fs.writeFileSync(serverFile, `# ${"-".repeat(97)}\n`.repeat(500_000) + GOOD);
    await expectRefusedAtPreviewAndUp(
      e2e,
      /api\.yaml: 5000\d{4} bytes, more than the 4194304 \(4 MiB\) a FetchML server config may have here/,
      serverFile,
    );
    fs.writeFileSync(serverFile, GOOD);
    // No lock was left: the next up runs.
    await e2e.up();
  });

  // Before: a raw "Unhandled exception: EISDIR" / "ENAMETOOLONG".
  it("a directory, a path too long, a missing directory: one plain line each", async () => {
    // A directory inside the stack's own 0700 directory: one directly in /tmp is refused earlier, for /tmp.
    const confDir = path.join(e2e.dir, "conf.d");
    fs.mkdirSync(confDir, { recursive: true });
    const cases: Array<[string, RegExp]> = [
      [confDir, new RegExp(`${confDir}: is a directory; name the config file itself`)],
      [
        path.join(e2e.dir, "x".repeat(300), "api.yaml"),
        /authConfigPath: ".*\.\.\. is too long for a path \(at most 4095 bytes, and 255 for each name in it\)/,
      ],
      [path.join(e2e.dir, "nope", "api.yaml"), new RegExp(`${e2e.dir}/nope/api\\.yaml: its directory ${e2e.dir}/nope does not exist`)],
      [path.join(serverFile, "api.yaml"), new RegExp(`${serverFile}/api\\.yaml: a part of the path is a file, not a directory`)],
    ];
    for (const [authConfigPath, message] of cases) {
      e2e.setConfig({ ...base(), authConfigPath });
      await expectRefusedAtPreviewAndUp(e2e, message);
      // A path too long is a stack config problem, listed with any others under their heading.
      if (!/too long/.test(message.source)) expect((await e2e.summary()).refused?.split("\n").length, "one line").toBe(1);
    }
    e2e.setConfig(base());
  });

  it("a deliveryDir that is a file, or under a missing directory: one plain line each", async () => {
    const cases: Array<[string, RegExp]> = [
      [serverFile, new RegExp(`deliveryDir ${serverFile}: is not a directory`)],
      [path.join(e2e.dir, "nope", "deliver"), new RegExp(`deliveryDir ${e2e.dir}/nope/deliver: its parent ${e2e.dir}/nope does not exist`)],
    ];
    for (const [deliveryDir, message] of cases) {
      e2e.setConfig({ ...base(), deliveryDir });
      await expectRefusedAtPreviewAndUp(e2e, message);
    }
    e2e.setConfig(base());
  });
});

describe("hostile server configs and paths, over SSH", () => {
  let e2e: E2EStack;
  let sshd: TestSshd;
  let configFile: string;
  let server: Record<string, unknown>;
  const base = (configPath = configFile) => ({
    servers: [{ ...server, configPath }],
    preserveEntries: ["svc-backup"],
    users: { alice: { role: "admin" } },
  });

  beforeAll(async () => {
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-user-"));
    const keys = generateKeyPair(keyDir, "fetchml-keys-admin");
    fs.rmSync(keyDir, { recursive: true, force: true });
    sshd = await TestSshd.start(keys.publicKey);
    configFile = path.join(sshd.dir, "fetchml", "server.yaml");
    fs.mkdirSync(path.dirname(configFile), { recursive: true });
    fs.writeFileSync(configFile, GOOD, { mode: 0o640 });
    e2e = await E2EStack.create({});
    server = sshd.server(e2e.encryptSecret(keys.privateKey));
    e2e.setConfig(base());
    await e2e.up();
  });
  afterAll(async () => {
    await e2e?.cleanup();
    await sshd?.stop();
  });

  it("api_keys as a list, an alias chain, a file over 4 MiB: refused at preview and up with line and column (or size)", async () => {
    const label = `box \\(${sshd.user}@127\\.0\\.0\\.1:${sshd.port}:${configFile.replace(/\./g, "\\.")}\\)`;
    fs.writeFileSync(configFile, apiKeysAsList);
    await expectRefusedAtPreviewAndUp(e2e, new RegExp(`${label}: line 13 column 5: auth\\.api_keys must be a block mapping`), configFile);
    fs.writeFileSync(configFile, laughs());
    await expectRefusedAtPreviewAndUp(e2e, new RegExp(`${label}: line \\d+ column \\d+: its aliases`), configFile);
    fs.writeFileSync(configFile, `# ${"-".repeat(97)}\n`.repeat(50_000) + GOOD);
    await expectRefusedAtPreviewAndUp(e2e, new RegExp(`${label}: 500\\d{4} bytes, more than the 4194304`), configFile);
    fs.writeFileSync(configFile, GOOD);
  });

  // Before: a directory read as an empty config (the preview planned to create it).
  it("a directory on the server: one plain line", async () => {
    e2e.setConfig(base(path.dirname(configFile)));
    await expectRefusedAtPreviewAndUp(e2e, /: is a directory on the server; name the config file itself/);
    e2e.setConfig(base());
  });
});
