/**
 * The runner as an admin uses it day to day, each command a separate `bin/fetchml-keys`
 * process on a real stack: the user commands that edit the stack file (comments and order
 * kept), confirmation in a real terminal, output for a person, Pulumi's own error messages
 * with the command to run next, and a stack selection and backend it never changes unasked.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { runRunner, type RunnerOptions } from "../support/runner";
import { expectNoSecret, expectSameSecret, expectUnchanged } from "../support/secrets";

let e2e: E2EStack;
let serverFile: string;
let deliveryDir: string;
let env: Record<string, string>;
const stackText = () => fs.readFileSync(e2e.stackFile, "utf8");
const serverText = () => fs.readFileSync(serverFile, "utf8");
const holders = () => Object.keys(parse(serverText()).auth.api_keys).sort();
const keeper =
  (text: string) =>
  (args: string[], options: Partial<RunnerOptions> = {}) =>
    runRunner([...args, "--stack", text], { env, ...options });
let runner: ReturnType<typeof keeper>;
const lastLine = (text: string) => text.trim().split("\n").at(-1);

beforeAll(async () => {
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  deliveryDir = path.join(e2e.dir, "deliver");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  const salt = parse(stackText()).encryptionsalt;
  // A stack file as an admin keeps it: comments, an order of their own.
  fs.writeFileSync(
    e2e.stackFile,
    `# Lab stack: who holds a FetchML key. Reviewed in pull requests.
config:
  fetchml-keys:authConfigPath: ${serverFile} # the API server's config
  fetchml-keys:deliveryDir: ${deliveryDir}
  fetchml-keys:preserveEntries: [svc-backup]
  # People, alphabetically please.
  fetchml-keys:users:
    alice:
      role: admin # lab lead
    bob:
      role: researcher
encryptionsalt: ${salt}
`,
  );
  // Its own Pulumi home: the stack selection the runner must leave alone is this test's.
  env = { ...e2e.env, PULUMI_HOME: path.join(e2e.dir, "pulumi-home") };
  runner = keeper(e2e.name);
});
afterAll(async () => {
  await e2e?.cleanup();
});

describe("the runner, day to day", () => {
  it("up applies the stack file and prints the engine's output without plugin notices, then one line of user counts", async () => {
    const r = await runner(["up", "--yes"]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.all).not.toMatch(/using pulumi-\w+-\w+ from \$PATH/);
    expect(r.stdout).toMatch(/^users: 2 active, 0 suspended/m);
    expect(r.stdout).not.toMatch(/fingerprint/); // the users output is for `user list`
    expect(holders()).toEqual(["alice", "bob", "svc-backup"]);
  });

  it("user add edits the stack file keeping comments and order, shows the access change, and applies it with --yes", async () => {
    const before = stackText();
    const r = await runner(["user", "add", "carol", "--role", "analyst", "--yes"]);
    expect(r.code).toBe(0);
    expect(stackText()).toBe(before.replace("      role: researcher\n", "      role: researcher\n    carol:\n      role: analyst\n"));
    expect(r.stdout).toMatch(/^\+ carol \(analyst\): new key$/m);
    expect(r.stdout).toMatch(/^users: 3 active, 0 suspended/m);
    expect(holders()).toEqual(["alice", "bob", "carol", "svc-backup"]);
  });

  it("a bad edit is refused naming the path and the value, and the file is untouched", async () => {
    const before = stackText();
    const r = await runner(["user", "add", "dave", "--role", "boss", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/users\.dave\.role: unknown value "boss"/);
    const missing = await runner(["user", "rotate", "zed", "--yes"]);
    expect(missing.stderr).toMatch(/users\.zed: no such user \(users: alice, bob, carol\)/);
    expect(stackText()).toBe(before);
  });

  it("without a terminal, a change that would ask is refused before any work, and the file is untouched", async () => {
    const before = stackText();
    const r = await runner(["user", "suspend", "bob"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a terminal.*--yes/);
    expect(r.all).not.toMatch(/Previewing/);
    expect(stackText()).toBe(before);
  });

  it("in a terminal, a refused confirmation puts the stack file back and changes nothing; yes applies it", async () => {
    const before = stackText();
    const server = serverText();
    const no = await runner(["user", "suspend", "bob"], { terminalAnswer: "n" });
    expect(no.all).toMatch(/- bob: suspended \(key kept\)[\s\S]*Apply this to stack .*\? \[y\/N\]/);
    expect(no.code).toBe(1);
    expect(stackText()).toBe(before);
    expectUnchanged(serverText(), server, "the server config");

    const yes = await runner(["user", "suspend", "bob"], { terminalAnswer: "y" });
    expect(yes.code).toBe(0);
    expect(stackText()).toBe(before.replace("      role: researcher\n", "      role: researcher\n      suspended: true\n"));
    expect(holders()).toEqual(["alice", "carol", "svc-backup"]);
  });

  it("--no-up edits and previews only; user list shows role, delivery, status, issue date and age, never a key", async () => {
    const server = serverText();
    const r = await runner(["user", "rotate", "alice", "--no-up"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^~ alice: key rotated \(rotation 0 -> 1\)$/m);
    expect(stackText()).toMatch(/ {4}alice:\n {6}role: admin # lab lead\n {6}rotation: 1\n/);
    expectUnchanged(serverText(), server, "the server config");

    const list = await runner(["user", "list"]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^USER +ROLE +DELIVERY +STATUS +ISSUED +KEY AGE +FINGERPRINT$/);
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(0, 4))).toEqual([
      ["alice", "admin", "direct", "active"],
      ["bob", "researcher", "direct", "suspended"],
      ["carol", "analyst", "direct", "active"],
    ]);
    for (const [name, key] of Object.entries((await e2e.outputs()).apiKeys as Record<string, string>)) {
      expectNoSecret(list.all, key, `user list (${name}'s key)`);
    }
  });

  it("output: one user's ml config alone, masked without --show-secrets; unknown names are errors", async () => {
    const outputs = await e2e.outputs();
    const masked = await runner(["output", "mlConfigs", "carol"]);
    expect(masked.stdout.trim()).toBe("[secret] (add --show-secrets to print it)");
    const shown = await runner(["output", "mlConfigs.carol", "--show-secrets"]);
    expect(shown.code).toBe(0);
    expectSameSecret(shown.stdout.trimEnd(), (outputs.mlConfigs.carol as string).trimEnd(), "carol's ml config");
    expectNoSecret(shown.stdout, outputs.apiKeys.alice, "carol's ml config (alice's key)");
    const nosuch = await runner(["output", "nosuch"]);
    expect([nosuch.code, lastLine(nosuch.stderr)]).toEqual([
      1,
      'fetchml-keys: no output "nosuch" (outputs: apiKeys, authTargets, delivery, mlConfigs, settings, users, vaultItems)',
    ]);
    const zed = await runner(["output", "mlConfigs", "zed"]);
    expect([zed.code, lastLine(zed.stderr)]).toEqual([1, 'fetchml-keys: mlConfigs has no "zed" (it has: alice, bob, carol)']);
  });

  it("user handover writes one user's ml config to a new 0600 file, never into a pipe or over a file", async () => {
    const outputs = await e2e.outputs();
    const piped = await runner(["user", "handover", "carol"]);
    expect(piped.code).toBe(1);
    expect(piped.stderr).toMatch(/not a terminal/);
    expectNoSecret(piped.all, outputs.apiKeys.carol, "a refused handover");
    const out = path.join(e2e.dir, "carol-config.toml");
    const r = await runner(["user", "handover", "carol", "--out", out]);
    expect(r.code).toBe(0);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expectSameSecret(fs.readFileSync(out, "utf8"), outputs.mlConfigs.carol, "the handed-over file");
    expectNoSecret(r.all, outputs.apiKeys.carol, "the handover's output");
    const again = await runner(["user", "handover", "carol", "--out", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists; choose a new file/);
  });

  it("a wrong passphrase shows Pulumi's own message and what to do, not an exit code", async () => {
    const r = await runRunner(["preview", "--stack", e2e.name], { env: { ...env, PULUMI_CONFIG_PASSPHRASE: "not-the-passphrase" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/incorrect passphrase/);
    expect(r.stderr).toMatch(/next: set PULUMI_CONFIG_PASSPHRASE/);
    expect(r.all).not.toMatch(/code: -2/);
  });

  it("an up killed mid-way leaves a lock: the runner shows Pulumi's lock message and the cancel command; cancel, then up, converges", async () => {
    const locks = path.join(e2e.dir, "state", ".pulumi", "locks");
    const hasLock = () => fs.existsSync(locks) && (fs.readdirSync(locks, { recursive: true }) as string[]).some((f) => f.endsWith(".json"));
    let pid = 0;
    const killed = runner(["up", "--yes"], { onStart: (p) => (pid = p) });
    const deadline = Date.now() + 60_000;
    while (!hasLock() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(hasLock()).toBe(true);
    process.kill(-pid, "SIGKILL"); // the runner, the engine and all they started
    await killed;

    const server = serverText();
    const locked = await runner(["up", "--yes"]);
    expect(locked.code).toBe(1);
    expectUnchanged(serverText(), server, "the server config");
    expect(locked.stderr).toMatch(/the stack is currently locked by 1 lock\(s\)/);
    expect(locked.stderr).toMatch(new RegExp(`next: .*npm run -s keys -- cancel --stack ${e2e.name}`));
    expect((await runner(["cancel", "--yes"])).code).toBe(0);
    const up = await runner(["up", "--yes"]);
    expect(up.code).toBe(0);
    expect(holders()).toEqual(["alice", "carol", "svc-backup"]);
    expect((await runner(["preview", "--expect-no-changes"])).code).toBe(0);
  });

  it("summary says what --replace will do, and --json prints the same as JSON", async () => {
    const urn = `urn:pulumi:${e2e.name}::fetchml-keys::fetchml:index:UserKeys$random:index/randomPassword:RandomPassword::carol-key`;
    const r = await runner(["summary", "--replace", urn]);
    expect([r.code, r.stdout.trim()]).toEqual([0, "~ carol: key replaced (asked for with --replace)"]);
    const json = await runner(["summary", "--json", "--replace", urn]);
    expect(JSON.parse(json.stdout)).toEqual({ lines: ["~ carol: key replaced (asked for with --replace)"] });
  });

  it("--replace of a resource the stack does not have is named before any work, not shown as a refusal", async () => {
    const urn = `urn:pulumi:${e2e.name}::fetchml-keys::fetchml:index:UserKeys$random:index/randomPassword:RandomPassword::nobody-key`;
    for (const command of ["summary", "preview", "up"]) {
      const r = await runner([command, "--yes", "--replace", urn].filter((a) => command === "up" || a !== "--yes"));
      expect(r.code, command).toBe(1);
      expect(r.stdout, command).not.toContain("refused");
      expect(r.stderr, command).toContain(`fetchml-keys: --replace: stack ${e2e.name} has no resource ${urn}; a user's key looks like`);
      expect(r.all, command).not.toMatch(/Updating|Previewing/);
    }
  });

  it("a bad stack file fails naming the path and the value, once, and changes nothing", async () => {
    const good = stackText();
    const server = serverText();
    try {
      fs.writeFileSync(e2e.stackFile, good.replace("role: analyst", "role: boss"));
      const r = await runner(["up", "--yes"]);
      expect(r.code).toBe(1);
      expect(r.all.split('users.carol.role: unknown value "boss"').length - 1).toBe(1);
      expectUnchanged(serverText(), server, "the server config");
    } finally {
      fs.writeFileSync(e2e.stackFile, good);
    }
  });

  it("a mistyped stack is an error naming the stacks there are, and creates nothing", async () => {
    const r = await runRunner(["preview", "--stack", "prdo"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no stack file stacks\/Pulumi\.prdo\.yaml \(stacks here: .*\); to create stack prdo: npm run -s keys -- init prdo/,
    );
    expect(fs.existsSync(path.join(PROJECT_ROOT, "stacks", "Pulumi.prdo.yaml"))).toBe(false);
    const stacks = (await e2e.stack.workspace.listStacks()).map((s) => s.name);
    expect(stacks).toEqual([e2e.name]);
  });

  it("a stack name with path parts is refused as such, with no hint to init it (attack42 7)", async () => {
    for (const args of [
      ["preview", "--stack", "../../etc/passwd"],
      ["init", "../../tmp/evil"],
    ]) {
      const r = await runRunner(args, { env });
      expect([r.code, r.stderr], args.join(" ")).toEqual([
        1,
        expect.stringContaining(
          `${args[0] === "init" ? "init" : "--stack"} ${JSON.stringify(args.at(-1))}: a stack name holds only letters, digits, '-', '_' and '.'`,
        ),
      ]);
      expect(r.stderr).not.toMatch(/keys -- init \.\./);
    }
  });

  it("defaults to the stack `pulumi stack select` chose, and never changes the selection", async () => {
    const pulumi = (...args: string[]) =>
      execFileSync(e2e.engineBinary, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, encoding: "utf8" }).trim();
    pulumi("stack", "select", e2e.name);
    const list = await runRunner(["user", "list"], { env });
    expect(list.stderr).toMatch(new RegExp(`stack ${e2e.name};`));
    expect(list.stdout).toMatch(/^carol +analyst/m);

    const other = `${e2e.name}-b`;
    try {
      const init = await runRunner(["init", other], { env });
      expect(init.code).toBe(0);
      expect(fs.existsSync(path.join(PROJECT_ROOT, "stacks", `Pulumi.${other}.yaml`))).toBe(true);
      expect((await runRunner(["output", "--stack", other], { env })).code).toBe(0);
      expect(pulumi("stack", "--show-name")).toBe(e2e.name);
    } finally {
      fs.rmSync(path.join(PROJECT_ROOT, "stacks", `Pulumi.${other}.yaml`), { force: true });
    }
  });

  it("mistakes on the command line are named in one line, with nothing run", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["frobnicate"], /^fetchml-keys: unknown command "frobnicate"/],
      [["up", "-y", "extra"], /^fetchml-keys: up: unexpected "extra"/],
      [["preview", "--frobnicate"], /^fetchml-keys: unknown option --frobnicate/],
    ];
    for (const [args, message] of cases) {
      const r = await runRunner(args, { env });
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/fetchml-keys help/);
    }
    const help = await runRunner(["help"], { env });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: fetchml-keys <command>/);
  });
});
