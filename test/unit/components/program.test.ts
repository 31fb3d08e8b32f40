/**
 * The program and its components under Pulumi's mocks (awsx style): setMocks before the
 * import, every resource recorded, any unmocked call fails. The program reads its target
 * for real: a temp file stands for the FetchML server config.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../../support/freePort";
import { expectedHash } from "../../support/oracle";
import { isSecretValue, unwrap } from "../../../plugins/shared/properties";
import { expectSameSecret } from "../../support/secrets";
import { keyPairInMemory } from "../../support/sshd";

interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
const created: Recorded[] = [];
/** What each registration told the engine: its parent and the resources it must wait for (URNs). */
const registered = new Map<string, { type: string; name: string; parent: string; dependencies: string[]; aliases: string[] }>();
const reads: string[] = [];
let previousUsers: Record<string, Record<string, unknown>> = {};
/** The other outputs the last run left (authTargets, settings, delivery), besides `users`. */
let previousOutputs: Record<string, unknown> = {};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "program-test-"));
const serverFile = path.join(dir, "api.yaml");
// A suspended user sorts first: a list filtered one way and indexed another would hand the
// next active user the suspended user's hash.
const STACK_CONFIG: Record<string, unknown> = {
  authConfigPath: serverFile,
  deliveryDir: path.join(dir, "deliver"),
  users: {
    aaron: { role: "researcher", suspended: true },
    alice: { role: "admin" },
    bob: { role: "researcher", rotation: 1 },
    carol: { role: "analyst", suspended: true },
    dave: { role: "analyst" },
  },
};

/** Deterministic fake keys, different per user and keeper, so tests can search for them. */
const fakeKey = (name: string, keepers: Record<string, string>) =>
  `KEY${name}${keepers.rotation}`.replace(/[^A-Za-z0-9]/g, "x").padEnd(48, "z");

function setConfig(config: Record<string, unknown>): void {
  const flat = Object.fromEntries(
    Object.entries(config).map(([k, v]) => [`fetchml-keys:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  process.env.PULUMI_CONFIG = JSON.stringify(flat);
  pulumi.runtime.setAllConfig(flat);
}

async function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** Lets the mocks finish registering what the program declared in applies. */
const settle = () => new Promise((r) => setTimeout(r, 50));

let program: () => Promise<Record<string, pulumi.Output<any>>>;

beforeAll(async () => {
  fs.writeFileSync(serverFile, "auth:\n  enabled: true\n  api_keys: {}\n", { mode: 0o600 });
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        created.push({ type: args.type, name: args.name, inputs: args.inputs });
        switch (args.type) {
          case "random:index/randomPassword:RandomPassword":
            return { id: "none", state: { ...args.inputs, result: fakeKey(args.name, args.inputs.keepers) } };
          case "command:local:Command":
            return { id: `${args.name}-id`, state: { ...args.inputs, stdout: "", stderr: "" } };
          case "fetchml:index:UserKeys":
          case "fetchml:index:AuthConfig":
          case "fetchml:index:AuthRevocation":
          case "fetchml:index:BitwardenVault":
          case "fetchml:index:DirectDelivery":
            return { id: "", state: {} };
          default:
            throw new Error(`unmocked resource type ${args.type}`);
        }
      },
      call(args) {
        if (args.token === "pulumi:pulumi:readStackOutputs") {
          // The stack's own previous outputs (what the last run recorded about keys).
          reads.push(args.inputs.name);
          return { name: args.inputs.name, outputs: { ...previousOutputs, users: previousUsers }, secretOutputNames: [] };
        }
        throw new Error(`unmocked call ${args.token}`);
      },
    },
    "fetchml-keys",
    "test",
    true,
    "organization",
  );
  // The mocks hand a resource's inputs over, not what it waits for: read that off the request.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: any, callback: (err: unknown, res: any) => void): void;
    registerResourceHook?(req: any, callback: (err: unknown, res: any) => void): void;
  };
  // The mock monitor has no resource hooks (the vault check is one): accept them, run none.
  monitor.registerResourceHook ??= (_req, callback) => callback(null, {});
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) =>
    register(req, (err, res) => {
      if (res)
        registered.set(res.getUrn(), {
          type: req.getType(),
          name: req.getName(),
          parent: req.getParent(),
          dependencies: req.getDependenciesList(),
          // An alias as a URN, or as a spec (the engine fills in the name and type it leaves out).
          aliases: [
            ...req.getAliasurnsList(),
            ...req.getAliasesList().map((a: any) => a.getUrn() || `parent ${a.getSpec().getParenturn()}`),
          ],
        });
      callback(err, res);
    });
  setConfig(STACK_CONFIG);
  program = (await import("../../../index")).default as never;
});

beforeEach(() => {
  created.length = 0;
  registered.clear();
  reads.length = 0;
  previousUsers = {};
  previousOutputs = {};
  delete process.env.FETCHML_KEYS_NOW;
  setConfig(STACK_CONFIG);
});

const ofType = (type: string) => created.filter((r) => r.type === type);
const keepers = () =>
  Object.fromEntries(ofType("random:index/randomPassword:RandomPassword").map((r) => [r.name, r.inputs.keepers.rotation]));
const stdinOf = (name: string) => JSON.parse(unwrap(ofType("command:local:Command").find((r) => r.name === name)!.inputs.stdin));

describe("the program under mocks", () => {
  it("gives each user a key, each target a revocation and a write step, and direct users one delivery step", async () => {
    await program();
    await settle();
    expect(ofType("fetchml:index:UserKeys").map((r) => r.name)).toEqual(["users"]);
    expect(
      ofType("random:index/randomPassword:RandomPassword")
        .map((r) => r.name)
        .sort(),
    ).toEqual(["aaron-key", "alice-key", "bob-key", "carol-key", "dave-key"]);
    expect(
      ofType("command:local:Command")
        .map((r) => r.name)
        .sort(),
    ).toEqual(["auth-config-revoke", "auth-config-write", "delivery-files"]);
  });

  it("keys are 48 letters and digits with the rotation counter as the only keeper", async () => {
    await program();
    await settle();
    const bob = ofType("random:index/randomPassword:RandomPassword").find((r) => r.name === "bob-key")!;
    expect(bob.inputs).toMatchObject({ length: 48, special: false, upper: true, lower: true, numeric: true, keepers: { rotation: "1" } });
  });

  it("raising one user's rotation changes only that user's keeper", async () => {
    await program();
    await settle();
    const before = keepers();
    created.length = 0;
    setConfig({ ...STACK_CONFIG, users: { ...(STACK_CONFIG.users as object), alice: { role: "admin", rotation: 1 } } });
    await program();
    await settle();
    const after = keepers();
    expect(after["alice-key"]).not.toEqual(before["alice-key"]);
    expect({ ...after, "alice-key": null }).toEqual({ ...before, "alice-key": null });
  });

  it("keeps keys, hashes and ml configs secret and exports public audit fields in the clear", async () => {
    const outputs = await program();
    expect(await pulumi.isSecret(outputs.apiKeys)).toBe(true);
    expect(await pulumi.isSecret(outputs.mlConfigs)).toBe(true);
    expect(await pulumi.isSecret(outputs.users)).toBe(false);
    const users = await promiseOf(outputs.users);
    expect(users.alice).toMatchObject({ role: "admin", status: "active", rotation: 0, keeper: "0" });
    expect(users.alice.issuedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(users.carol.status).toBe("suspended");
    expect(users.alice.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    const keys = await promiseOf(outputs.apiKeys);
    expect(JSON.stringify(users)).not.toContain(keys.alice);
    expect(JSON.stringify(users)).not.toContain(expectedHash(keys.alice));
  });

  it("sends each active user's own hash, and no suspended user's, to the write step, secret, on stdin", async () => {
    const outputs = await program();
    const keys = await promiseOf(outputs.apiKeys);
    await settle();
    const write = ofType("command:local:Command").find((r) => r.name === "auth-config-write")!;
    expect(isSecretValue(write.inputs.stdin)).toBe(true);
    const request = stdinOf("auth-config-write");
    expect(request.entries.map(([name]: [string]) => name)).toEqual(["alice", "bob", "dave"]);
    for (const [name, entry] of request.entries) expectSameSecret(entry.hash, expectedHash(keys[name]), `${name}'s entry`);
    expect(request.target).toEqual({ kind: "local", configPath: serverFile });
    expect(stdinOf("auth-config-revoke").keep).toEqual(["alice", "bob", "dave"]);
    const secrets = Object.values(keys).flatMap((k: any) => [k, expectedHash(k)]);
    for (const command of ofType("command:local:Command")) {
      const visible = JSON.stringify([
        command.inputs.create,
        command.inputs.update,
        command.inputs.delete,
        command.inputs.triggers,
        command.inputs.environment ?? {},
      ]);
      for (const s of secrets) expect(visible.includes(s)).toBe(false);
    }
  });

  it("writes an override that takes admin away from the admin role: the entry, the user's audit fields and its diff say admin: false", async () => {
    setConfig({ ...STACK_CONFIG, users: { ...(STACK_CONFIG.users as object), ops: { role: "admin", admin: false } } });
    const outputs = await program();
    const users = await promiseOf(outputs.users);
    await settle();
    const entries = Object.fromEntries(stdinOf("auth-config-write").entries);
    expect(Object.keys(entries)).toEqual(["alice", "bob", "dave", "ops"]);
    expect({ ...entries.ops, hash: undefined }).toEqual({
      hash: undefined,
      admin: false,
      roles: ["admin"],
      permissions: { "jobs:read": true, "jobs:create": true, "jobs:update": true },
    });
    expect(entries.alice.admin).toBe(true);
    expect(users.ops).toMatchObject({ role: "admin", admin: false, roles: ["admin"] });
    expect(ofType("fetchml:index:UserKeys")[0].inputs.users.ops).toMatchObject({ role: "admin", admin: false });
  });

  it("rotates a key that reached its maximum age, and only that one", async () => {
    process.env.FETCHML_KEYS_NOW = "2026-06-01T00:00:00Z";
    previousUsers = {
      alice: { fingerprint: "f", issuedAt: "2026-01-01T00:00:00Z", autoRotations: 0 }, // 151 days
      bob: { fingerprint: "f", issuedAt: "2026-05-01T00:00:00Z", autoRotations: 0, rotation: 1 }, // 31 days
    };
    setConfig({ ...STACK_CONFIG, defaults: { maxKeyAgeDays: 90 } });
    await program();
    await settle();
    expect(keepers()).toEqual({ "aaron-key": "0", "alice-key": "0.0.1", "bob-key": "1", "carol-key": "0", "dave-key": "0" });
  });

  it("reads the previous run's key facts from its own stack's outputs, without declaring a resource for it", async () => {
    process.env.FETCHML_KEYS_NOW = "2026-06-01T00:00:00Z";
    previousUsers = { bob: { fingerprint: "f", issuedAt: "2026-01-01T00:00:00Z", autoRotations: 2, rotation: 1 } };
    setConfig({ ...STACK_CONFIG, defaults: { maxKeyAgeDays: 90 } });
    await program();
    await settle();
    expect(reads).toEqual(["organization/fetchml-keys/test"]);
    expect(ofType("pulumi:pulumi:StackReference")).toEqual([]);
    expect(keepers()["bob-key"]).toBe("1.0.3");
  });

  it("reads a user's record of another shape as not recorded, never cast into the plan", async () => {
    process.env.FETCHML_KEYS_NOW = "2026-06-01T00:00:00Z";
    // autoRotations as text: cast, "2" + 1 made the keeper 1.0.21 (a key nobody asked for).
    previousUsers = { bob: { fingerprint: "f", issuedAt: "2026-01-01T00:00:00Z", autoRotations: "2", rotation: 1 } };
    setConfig({ ...STACK_CONFIG, defaults: { maxKeyAgeDays: 90 } });
    await program();
    await settle();
    expect(keepers()["bob-key"]).toBe("1");
  });

  it("records outputs of the shape the next run reads back whole, the delivery directory once", async () => {
    const { deliveryOutput, settingsOutput, targetOutput, userRecord } = await import("../../../program/outputs");
    const { parsePreviousRun } = await import("../../../program/previousRun");
    // Outputs as the program returns them: plain values and outputs, nested.
    const outputs: Record<string, any> = await program();
    const recorded: Record<string, any> = {
      users: await promiseOf(outputs.users),
      authTargets: await promiseOf(pulumi.all(outputs.authTargets)),
      settings: outputs.settings,
      delivery: await promiseOf(outputs.delivery),
    };
    // Strict: a field the schema does not know would be state nobody reads.
    for (const record of Object.values(recorded.users)) userRecord.strict().parse(record);
    for (const target of recorded.authTargets) targetOutput.strict().parse(target);
    settingsOutput.strict().parse(recorded.settings);
    deliveryOutput.strict().parse(recorded.delivery);
    expect(recorded.settings.deliveryDir).toBe(fs.realpathSync(dir) + "/deliver");
    const back = parsePreviousRun(JSON.parse(JSON.stringify(recorded)));
    expect([...back.users.keys()]).toEqual(["aaron", "alice", "bob", "carol", "dave"]);
    expect(back.targets).toEqual(recorded.authTargets);
    expect(back.settings).toEqual(recorded.settings);
    expect(back.delivery).toEqual({ ...recorded.delivery, dir: recorded.settings.deliveryDir });
  });

  it("reads the delivery output only with the settings that say where it went", async () => {
    const { parsePreviousRun } = await import("../../../program/previousRun");
    const settings = {
      preserveEntries: [],
      deliveryDir: "/d",
      client: { workerHost: "h", workerPort: 1, apiUrl: "ws://h" },
      bitwardenOrganization: null,
      bitwardenCli: null,
    };
    const delivery = { generation: 2, files: ["bob.toml"] };
    expect(parsePreviousRun({ delivery }).delivery).toBeUndefined();
    expect(parsePreviousRun({ delivery, settings }).delivery).toEqual({ dir: "/d", generation: 2, files: ["bob.toml"] });
    // Another shape: not recorded (the next run plans as for a directory new to the stack).
    expect(parsePreviousRun({ delivery: { generation: "2", files: [] }, settings }).delivery).toBeUndefined();
    expect(parsePreviousRun({ settings: { ...settings, client: { ...settings.client, workerPort: "1" } } }).settings).toBeUndefined();
    // A settings output written by 1.0.0 (no bitwardenCli) is still read, and the delivery with it.
    const by100: Record<string, unknown> = { ...settings, bitwardenOrganization: "org-1" };
    delete by100.bitwardenCli;
    expect(parsePreviousRun({ delivery, settings: by100 }).settings).toEqual(by100);
    expect(parsePreviousRun({ delivery, settings: by100 }).delivery).toEqual({ dir: "/d", generation: 2, files: ["bob.toml"] });
    const target = { name: "auth-config", label: "/a", identity: "/a", managed: ["bob"], generation: 3, reloadCommand: null };
    expect(parsePreviousRun({ authTargets: [target, { ...target, name: "server-x", managed: "bob" }] }).targets).toEqual([target]);
    // 1.0.0's target records have no owner/group; read, with them not recorded.
    const owned = { ...target, owner: "root", group: null };
    expect(parsePreviousRun({ authTargets: [owned] }).targets).toEqual([owned]);
  });

  it("keeps a key's issue time while the key stays, and takes the clock's when it is new", async () => {
    process.env.FETCHML_KEYS_NOW = "2026-06-01T00:00:00Z";
    previousUsers = { alice: { fingerprint: "ffffffffffff", issuedAt: "2026-01-01T00:00:00Z" } };
    const outputs = await program();
    const users = await promiseOf(outputs.users);
    expect(users.alice.issuedAt).toBe("2026-06-01T00:00:00Z"); // the mock's key is not the recorded one
    previousUsers = { alice: { fingerprint: users.alice.fingerprint, issuedAt: "2026-01-01T00:00:00Z" } };
    expect((await promiseOf((await program()).users)).alice.issuedAt).toBe("2026-01-01T00:00:00Z");
  });

  it("rotates every key when rotateAll goes up", async () => {
    setConfig({ ...STACK_CONFIG, rotateAll: 1 });
    await program();
    await settle();
    expect(Object.values(keepers()).sort()).toEqual(["0.1.0", "0.1.0", "0.1.0", "0.1.0", "1.1.0"]);
  });

  it("fails before declaring any resource when the config is invalid", async () => {
    setConfig({ ...STACK_CONFIG, users: { bob: { role: "reseacher" } } });
    await expect(program()).rejects.toThrow(/users\.bob\.role: unknown value "reseacher"/);
    expect(created).toEqual([]);
  });

  it("fails before declaring any resource when the target is another stack's", async () => {
    const record = path.join(dir, ".api.yaml.fetchml-keys");
    fs.writeFileSync(
      record,
      JSON.stringify({ format: 1, stack: "organization/fetchml-keys/prod", writer: "w", generation: 0, reloadPending: false, managed: [] }),
    );
    try {
      await expect(program()).rejects.toThrow(
        /is managed by stack organization\/fetchml-keys\/prod; this stack \(organization\/fetchml-keys\/test\) will not touch it/,
      );
      expect(created).toEqual([]);
    } finally {
      fs.rmSync(record);
    }
  });
});

describe("UserKeys component", () => {
  it("marks key, hash and ml config secret", async () => {
    const { UserKeys } = await import("../../../components/userKeys");
    const { parseSettings } = await import("../../../config/settings");
    const settings = parseSettings({ authConfigPath: "x", users: { erin: { role: "analyst" } } });
    const user = new UserKeys("users", {
      users: settings.users,
      client: settings.client,
      plans: new Map([["erin", { keeper: "0", autoRotations: 0 }]]),
    }).keys.get("erin")!;
    expect(await pulumi.isSecret(user.apiKey)).toBe(true);
    expect(await pulumi.isSecret(user.apiKeyHash)).toBe(true);
    expect(await pulumi.isSecret(user.mlConfig)).toBe(true);
    expect(await pulumi.isSecret(user.fingerprint)).toBe(false);
    expectSameSecret(await promiseOf(user.apiKeyHash), expectedHash(await promiseOf(user.apiKey)), "the hash");
  });

  it("keeps 1.0.0's keys: each key sits under the one users component, aliased to the same name inside that user's own component", async () => {
    await program();
    await settle();
    const keys = [...registered.values()].filter((r) => r.type === "random:index/randomPassword:RandomPassword");
    const component = [...registered].find(([, r]) => r.type === "fetchml:index:UserKeys")![0];
    expect(keys.map((k) => k.name).sort()).toEqual(["aaron-key", "alice-key", "bob-key", "carol-key", "dave-key"]);
    for (const key of keys) {
      const user = key.name.replace(/-key$/, "");
      expect(key.parent).toBe(component);
      expect(key.aliases).toEqual([`parent urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::fetchml:index:UserKey::${user}`]);
    }
  });
});

describe("the order of a run, as the engine gets it", () => {
  /** The local file, a server (down now: its steps are declared all the same) and a Bitwarden user. */
  async function declareWithVault(
    vaultUsers: Record<string, unknown> = { erin: { role: "researcher", delivery: "bitwarden" } },
  ): Promise<void> {
    const pair = keyPairInMemory("deploy");
    setConfig({
      ...STACK_CONFIG,
      servers: [
        {
          name: "box",
          host: "127.0.0.1",
          port: await freePort(),
          user: "fetchml",
          privateKey: pair.privateKey,
          hostKey: pair.publicKey,
          configPath: "/srv/api.yaml",
        },
      ],
      bitwarden: { organizationId: "6482c696-db35-4f9a-b818-2c0e2f3c9d10", collectionIds: ["95ed2272-f909-44fc-b935-9a7260582fc7"] },
      users: { ...(STACK_CONFIG.users as object), ...vaultUsers },
    });
    await program();
    // The vault check's hook registers first: wait for the last resources rather than a fixed time.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !["auth-config-write", "server-box-write"].every((n) => named(n).length > 0)) await settle();
  }
  const named = (name: string) => [...registered].filter(([, r]) => r.name === name).map(([urn]) => urn);
  /** Names of everything the engine runs before this resource: its dependencies, theirs, and so on. */
  function waitsFor(name: string): string[] {
    const seen = new Set<string>();
    const queue = named(name);
    while (queue.length > 0) {
      for (const dep of registered.get(queue.shift()!)?.dependencies ?? []) {
        if (!seen.has(dep)) queue.push(seen.add(dep) && dep);
      }
    }
    return [...seen].map((urn) => registered.get(urn)?.name ?? urn).sort();
  }

  it("takes a revoked hash off every target before anything touches Bitwarden: the vault step and the vault check wait for every revocation", async () => {
    await declareWithVault();
    const revocations = ["auth-config-revoke", "server-box-revoke"];
    for (const revoke of revocations) expect(named(revoke)).toHaveLength(1);
    expect(waitsFor("bitwarden-items")).toEqual(expect.arrayContaining(revocations));
    // The vault check (`bw status`) is a hook on a Bitwarden user's key: that key waits too.
    expect(waitsFor("erin-key")).toEqual(expect.arrayContaining(revocations));
    // ...and a revocation waits for nothing, so it never waits on the vault.
    for (const revoke of revocations) expect(waitsFor(revoke)).toEqual([]);
  });

  it("runs the vault step after every revocation also when it has no key to wait for (its last Bitwarden user was removed)", async () => {
    await declareWithVault({});
    expect(waitsFor("bitwarden-items")).toEqual(["auth-config-revoke", "server-box-revoke"]);
  });

  it("puts a new hash on a target only once the vault has the key", async () => {
    await declareWithVault();
    for (const write of ["auth-config-write", "server-box-write"]) expect(waitsFor(write)).toContain("bitwarden-items");
  });
});
