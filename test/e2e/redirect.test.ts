/**
 * Root runs `up` on a config whose directory belongs to a service account (uid 65534, as
 * /etc/fetchml often belongs to fetchml). That account races the run: it swaps the file for a
 * link to a root-only file, swaps the directory for a link to a root-only directory, plants
 * temp names and replaces the record. No byte of the victims changes, no record appears
 * outside the target's directory, and the preview then tells the truth.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changesIn, E2EStack } from "../support/e2eStack";
import { NOBODY, PYTHON_AS_NOBODY } from "../support/nobody";
import { expectSameSecret, expectUnchanged } from "../support/secrets";

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const BASE = `server:\n  address: ":9101"\nauth:\n  enabled: true\n  api_keys:\n    svc-backup:\n      hash: "${"e".repeat(64)}"\n`;
// Parses as a YAML mapping, like a copy of /etc/shadow did in the report.
const VICTIM = "root: $6$rounds=5000$x$y\ndaemon: '*'\n";

/**
 * The other account's loop (Python, as uid 65534): each round swaps one thing and puts it back
 * a moment later; bounded by a deadline and a stop file; at the end everything is as before.
 */
const ATTACKER = String.raw`
import os, random, sys, time
conf, victim, victim_dir, stop, deadline = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], time.time() + float(sys.argv[5])
f = os.path.join(conf, "api.yaml")
record = os.path.join(conf, ".api.yaml.fetchml-keys")
planted = []
def quietly(*steps):
    for step in steps:
        try: step()
        except OSError: pass
rounds = 0
while time.time() < deadline and not os.path.exists(stop):
    rounds += 1
    pause = random.choice([0.0005, 0.002, 0.01])
    # The file becomes a link to a root-only file.
    quietly(lambda: os.rename(f, f + ".away"), lambda: os.symlink(victim, f))
    time.sleep(pause)
    quietly(lambda: os.unlink(f) if os.path.islink(f) else None, lambda: os.rename(f + ".away", f))
    # The directory becomes a link to a root-only directory.
    quietly(lambda: os.rename(conf, conf + ".away"), lambda: os.symlink(victim_dir, conf))
    time.sleep(pause)
    quietly(lambda: os.unlink(conf) if os.path.islink(conf) else None, lambda: os.rename(conf + ".away", conf))
    # Temp names a writer might use, as links to the victim.
    for name in [".api.yaml.%d.%08x.tmp" % (random.randint(2, 4194304), random.getrandbits(32)), ".api.yaml.fetchml-keys.%06d" % rounds]:
        p = os.path.join(conf, name)
        quietly(lambda: os.symlink(victim, p))
        planted.append(p)
    # The record replaced by a link to the victim.
    quietly(lambda: os.rename(record, record + ".away"), lambda: os.symlink(victim, record))
    time.sleep(pause)
    quietly(lambda: os.unlink(record) if os.path.islink(record) else None, lambda: os.rename(record + ".away", record))
for p in planted:
    quietly(lambda: os.unlink(p))
print(rounds)
`;

let e2e: E2EStack;
let srv: string;
let conf: string;
let serverFile: string;
let victim: string;
let victimDir: string;
const config = () => ({
  authConfigPath: serverFile,
  preserveEntries: ["svc-backup"],
  users: { alice: { role: "admin" }, bob: { role: "researcher" }, carol: { role: "analyst" } },
});

/** Every file under `dir` with its SHA-256 (links as their target text). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const full = path.join(dir, name);
    const st = fs.lstatSync(full);
    if (st.isSymbolicLink()) out[name] = `-> ${fs.readlinkSync(full)}`;
    else if (st.isFile()) out[name] = sha256(fs.readFileSync(full));
  }
  return out;
}

/** Records (`.<file>.fetchml-keys`) anywhere under the test's directory. */
function records(): string[] {
  return (fs.readdirSync(e2e.dir, { recursive: true }) as string[]).filter((n) => n.endsWith(".fetchml-keys")).sort();
}

function startAttacker(seconds: number): { stop: () => Promise<string> } {
  const stopFile = path.join(e2e.dir, "stop-attacker");
  const [command, ...args] = PYTHON_AS_NOBODY;
  const child = spawn(command, [...args, "-c", ATTACKER, conf, victim, victimDir, stopFile, String(seconds)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b) => (out += b));
  child.stderr.on("data", (b) => (out += b));
  const exited = new Promise<void>((r) => child.on("close", () => r()));
  return {
    stop: async () => {
      fs.writeFileSync(stopFile, "");
      await exited;
      return out.trim();
    },
  };
}

beforeAll(async () => {
  e2e = await E2EStack.create({});
  // The service account reaches its directory through ours (traverse only).
  fs.chmodSync(e2e.dir, 0o711);
  srv = path.join(e2e.dir, "srv");
  conf = path.join(srv, "fetchml");
  serverFile = path.join(conf, "api.yaml");
  fs.mkdirSync(conf, { recursive: true, mode: 0o755 });
  fs.writeFileSync(serverFile, BASE, { mode: 0o640 });
  for (const d of [srv, conf, serverFile]) fs.chownSync(d, NOBODY, NOBODY);
  victim = path.join(e2e.dir, "shadow");
  fs.writeFileSync(victim, VICTIM, { mode: 0o600 });
  victimDir = path.join(e2e.dir, "root-only");
  fs.mkdirSync(victimDir, { mode: 0o700 });
  fs.writeFileSync(path.join(victimDir, "api.yaml"), BASE + "# root's own copy\n", { mode: 0o600 });
  e2e.setConfig(config());
}, 120_000);

afterAll(async () => {
  await e2e?.cleanup();
});

describe("another account that owns the config's directory, racing a root run", () => {
  it("cannot make the run write anywhere else: no victim byte changes, no record appears elsewhere, and the preview tells the truth", async () => {
    const victims = { file: sha256(fs.readFileSync(victim)), dir: snapshot(victimDir) };
    const attacker = startAttacker(120);
    const outcomes: string[] = [];
    try {
      for (let run = 0; run < 3; run++) {
        outcomes.push(
          await e2e.up().then(
            () => "succeeded",
            () => "failed",
          ),
        );
      }
    } finally {
      const rounds = await attacker.stop();
      expect(Number(rounds), rounds).toBeGreaterThan(0);
    }
    // The attacker put everything back; nothing it pointed at was written.
    expect(fs.lstatSync(conf).isDirectory() && fs.lstatSync(serverFile).isFile()).toBe(true);
    expectUnchanged(sha256(fs.readFileSync(victim)), victims.file, "the root-only victim file");
    expect(snapshot(victimDir)).toEqual(victims.dir);
    expect(records().filter((r) => r !== path.join("srv", "fetchml", ".api.yaml.fetchml-keys"))).toEqual([]);
    // Every run was refused, naming the directory, its owner and what to change.
    expect(outcomes).toEqual(["failed", "failed", "failed"]);
    expect(e2e.output()).toContain(
      `${serverFile}: ${srv} belongs to nobody (uid ${NOBODY}), not to root: that account could swap the file for a link while a run writes it. ` +
        `Make it root's (chown root ${srv}; the server only needs to read the file) or run as that account`,
    );

    // The reported case: with the file back, the preview must not call this converged.
    expect((await e2e.summary()).refused).toContain(`${srv} belongs to nobody (uid ${NOBODY})`);
    await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
    // The admin does what the message says (the file itself may stay the service's).
    fs.chownSync(srv, 0, 0);
    fs.chownSync(conf, 0, 0);
    expect([...(await e2e.summary())]).toEqual(["+ alice (admin): new key", "+ bob (researcher): new key", "+ carol (analyst): new key"]);
    await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
    await e2e.up();
    const keys = (await e2e.outputs()).apiKeys as Record<string, string>;
    const entries = parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys;
    for (const name of ["alice", "bob", "carol"]) expectSameSecret(entries[name].hash, sha256(keys[name]), `${name}'s entry`);
    expect(fs.statSync(serverFile).uid).toBe(NOBODY); // its owner kept
    expect(changesIn((await e2e.preview({ expectNoChanges: true })).changeSummary)).toEqual({});
    expectUnchanged(sha256(fs.readFileSync(victim)), victims.file, "the root-only victim file");
    expect(snapshot(victimDir)).toEqual(victims.dir);
  }, 600_000);
});
