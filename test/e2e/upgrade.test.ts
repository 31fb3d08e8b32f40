/**
 * The state-format promise (README "Versions and state"): a stack that 1.0.0 made, run with
 * 1.0.0's own code, is taken over by this version's first `up` without replacing a key and
 * without changing anyone's access. Played as an admin upgrades: a clone at the landed 1.0.0
 * commit runs the demo, then `git checkout` of this version, its build, the access summary,
 * `npm run up`, and a preview that must find nothing to do. Then the same with the fields
 * added since 1.0.0 in play: a FetchML server over SSH (a real sshd) and Bitwarden delivery
 * (the real `bw` against the project's Bitwarden test server).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureEngine } from "../../cli/engine";
import { startVault, type TestVault } from "../support/bitwarden/vault";
import { cloneThisCheckout, installPackages } from "../support/clone";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { keyPairInMemory, TestSshd } from "../support/sshd";

/** 1.0.0 as it landed (CHANGELOG "[1.0.0]"; later commits are "[Unreleased]"). */
const V1_0_0 = "2f84506a2da30389bff5c0a322cc8ba44db97f39";

let dir: string;
let clone: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-upgrade-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.mkdirSync(path.join(dir, "home"));
  fs.symlinkSync(ensureEngine().binary, path.join(dir, "bin", "pulumi"));
  clone = path.join(dir, "fetchml-keys");
  cloneThisCheckout(clone);
}, 300_000);
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A command in the clone, in an admin's shell: `env` adds to it (the backend, the session),
 * `input` is its stdin. Never synchronous: the Bitwarden test server answers from this process.
 */
function run(
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<{ status: number | null; all: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(args[0], args.slice(1), {
      cwd: clone,
      timeout: 600_000,
      env: {
        PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`,
        HOME: path.join(dir, "home"),
        PULUMI_HOME: path.join(dir, "home", ".pulumi"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        LANG: "C.UTF-8",
        ...options.env,
      },
    });
    let all = "";
    child.stdout.on("data", (b) => (all += b));
    child.stderr.on("data", (b) => (all += b));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, all }));
    child.stdin.end(options.input ?? "");
  });
}

/** `git checkout` of a version, then what `npm ci` does without the registry: the same packages (hard-linked) and the build. */
async function checkout(commit: string): Promise<void> {
  const missing = spawnSync("git", ["cat-file", "-e", `${commit}^{commit}`], { cwd: clone }).status !== 0;
  // Fails, never skips: a shallow clone has no 1.0.0 to upgrade from.
  expect(missing, `${commit} is not in this clone's history (a shallow clone?): fetch it, the upgrade starts there`).toBe(false);
  execFileSync("git", ["checkout", "--quiet", commit], { cwd: clone });
  installPackages(clone);
  const build = await run(["sh", "-c", "npm run -s prepare"]);
  expect(build.status, build.all).toBe(0);
}

/** What the users hold and the server accepts: every file with a key or a hash, by content and inode. */
function access(): Map<string, { text: string; ino: number }> {
  const out = path.join(clone, "examples", "out");
  // Not the list of delivered files (names only): this version adds the stack to it, in the first up.
  const delivered = fs.readdirSync(path.join(out, "ml-configs")).filter((f) => f !== ".fetchml-keys-delivery");
  const files = ["fetchml-server.yaml", ...delivered.map((f) => path.join("ml-configs", f))];
  return new Map(files.map((f) => [f, { text: fs.readFileSync(path.join(out, f), "utf8"), ino: fs.statSync(path.join(out, f)).ino }]));
}

describe("upgrading from 1.0.0", () => {
  it("takes over 1.0.0's stack: no key replaced, no hash or delivery file changed, then nothing to do", async () => {
    const thisVersion = execFileSync("git", ["rev-parse", "HEAD"], { cwd: clone, encoding: "utf8" }).trim();
    await checkout(V1_0_0);
    const made = await run(["npm", "run", "-s", "up", "--", "--yes"]);
    expect(made.status, made.all).toBe(0);
    const before = access();
    expect(Object.keys(parse(before.get("fetchml-server.yaml")!.text).auth.api_keys).sort()).toEqual(["alice", "bob", "carol"]);
    expect([...before.keys()].filter((f) => f.endsWith(".toml")).length).toBe(3);

    await checkout(thisVersion);
    const summary = await run(["bin/fetchml-keys", "summary"]);
    expect(summary.status, summary.all).toBe(0);
    expect(summary.all).toContain("no access changes");
    const up = await run(["bin/fetchml-keys", "up", "--yes"]);
    expect(up.status, up.all).toBe(0);
    expect(up.all).not.toMatch(/new key|replace/i);
    // Every key file and the server's hashes as 1.0.0 left them: the same bytes, not even rewritten.
    expect(access()).toEqual(before);
    const again = await run(["bin/fetchml-keys", "preview", "--expect-no-changes"]);
    expect(again.status, again.all).toBe(0);
  }, 900_000);
});

describe("upgrading from 1.0.0, with a server over SSH and Bitwarden delivery", () => {
  let sshd: TestSshd | undefined;
  let vault: TestVault | undefined;
  afterAll(async () => {
    await sshd?.stop();
    await vault?.stop();
  });

  it("takes over 1.0.0's stack: no key replaced, the server's file and every vault item as 1.0.0 left them", async () => {
    const thisVersion = execFileSync("git", ["rev-parse", "HEAD"], { cwd: clone, encoding: "utf8" }).trim();
    const deploy = keyPairInMemory("fetchml-keys-upgrade");
    sshd = await TestSshd.start(deploy.publicKey);
    const serverFile = path.join(sshd.dir, "fetchml", "server.yaml");
    fs.mkdirSync(path.dirname(serverFile));
    fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o640 });
    vault = await startVault(["FetchML", "bob-only"]);
    const { org, bw } = vault;
    const state = path.join(dir, "lab-state");
    fs.mkdirSync(state);
    const env = { ...vault.env, PULUMI_BACKEND_URL: `file://${state}`, PULUMI_CONFIG_PASSPHRASE: "upgrade-test-only" };

    await checkout(V1_0_0);
    // The stack as 1.0.0's README sets one up: its file, `stack init`, the deploy key set as a secret.
    const stackFile = path.join(clone, "stacks", "Pulumi.lab.yaml");
    fs.writeFileSync(
      stackFile,
      stringify({
        config: {
          "fetchml-keys:servers": [
            {
              name: "gpu-box",
              host: "127.0.0.1",
              port: sshd.port,
              user: sshd.user,
              hostKey: sshd.hostKey,
              configPath: serverFile,
              reloadCommand: `echo reloaded >> ${path.join(sshd.dir, "fetchml", "reload.log")}`,
              owner: "root",
              group: "root",
            },
          ],
          "fetchml-keys:preserveEntries": ["svc-backup"],
          "fetchml-keys:bitwarden": { organizationId: org.id, collectionIds: [org.collections.FetchML] },
          "fetchml-keys:users": {
            alice: { role: "admin", delivery: "bitwarden" },
            // A collection each: one shared by both would add its standing warning to every summary.
            bob: { role: "researcher", delivery: "bitwarden", bitwarden: { collectionIds: [org.collections["bob-only"]] } },
          },
        },
      }),
      { mode: 0o600 },
    );
    for (const step of [
      { args: ["pulumi", "stack", "init", "lab"] },
      {
        args: ["pulumi", "config", "set", "--secret", "--path", "fetchml-keys:servers[0].privateKey", "--stack", "lab"],
        input: deploy.privateKey,
      },
      { args: ["bin/fetchml-keys", "up", "--stack", "lab", "--yes"] },
    ]) {
      const r = await run(step.args, { env, input: step.input });
      expect(r.status, `${step.args.join(" ")}\n${r.all}`).toBe(0);
    }
    const items = async () => {
      await bw.ok(["sync", "--force"]);
      const all = JSON.parse(await bw.ok(["list", "items", "--organizationid", org.id])) as Array<{
        id: string;
        name: string;
        revisionDate: string;
      }>;
      return all.map(({ id, name, revisionDate }) => ({ id, name, revisionDate })).sort((a, b) => a.name.localeCompare(b.name));
    };
    const server = () => ({ text: fs.readFileSync(serverFile, "utf8"), ino: fs.statSync(serverFile).ino });
    const before = { items: await items(), server: server() };
    expect(Object.keys(parse(before.server.text).auth.api_keys).sort()).toEqual(["alice", "bob", "svc-backup"]);
    expect(before.items.length).toBe(2);

    await checkout(thisVersion);
    // What 1.0.0 did not record, said once (README "Versions and state"): which bw gets the
    // session, the items' names and revoke policy, who the server's file is given to. Nothing
    // about a key or a hash.
    const summary = await run(["bin/fetchml-keys", "summary", "--stack", "lab"], { env });
    expect(summary.status, summary.all).toBe(0);
    expect(summary.all.split("\n").filter((line) => /^[-+~!] /.test(line))).toEqual([
      expect.stringMatching(/^\+ .*gpu-box.*: owner root:root \(not recorded by the last run\): each write gives the file to root:root/),
      expect.stringMatching(
        /^~ bitwarden\.cli \(not recorded by the last run\) -> \(the pinned @bitwarden\/cli\): the vault step runs it with the vault session/,
      ),
      '~ bitwarden.itemPrefix (not recorded by the last run) -> "FetchML API": every Bitwarden user\'s item is named "FetchML API <user>"',
      "~ bitwarden.onRevoke (not recorded by the last run) -> trash: a revoked user's item goes to the vault's trash",
    ]);
    const up = await run(["bin/fetchml-keys", "up", "--stack", "lab", "--yes"], { env });
    expect(up.status, up.all).toBe(0);
    expect(up.all).not.toMatch(/new key|replace/i);
    // The hashes on the server and the keys in the vault as 1.0.0 left them: not even rewritten.
    expect({ items: await items(), server: server() }).toEqual(before);
    const again = await run(["bin/fetchml-keys", "preview", "--stack", "lab", "--expect-no-changes"], { env });
    expect(again.status, again.all).toBe(0);
    // Recorded now: the next review has nothing to say.
    const after = await run(["bin/fetchml-keys", "summary", "--stack", "lab"], { env });
    expect(after.status, after.all).toBe(0);
    expect(after.all).toContain("no access changes");
  }, 900_000);
});
