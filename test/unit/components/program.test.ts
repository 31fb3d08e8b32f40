/**
 * The program and its components under Pulumi's mocks (awsx style): setMocks before the
 * import, every resource recorded, any unmocked call fails.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hashApiKey } from "../../../lib/keys";
import { isSecretValue, unwrap } from "../../../plugins/shared/properties";

interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
const created: Recorded[] = [];
const reads: string[] = [];
let previousUsers: Record<string, { issuedAt: string; autoRotations: number }> = {};
const STACK_CONFIG: Record<string, unknown> = {
  authConfigPath: "/srv/fetchml/api.yaml",
  deliveryDir: "/srv/deliver",
  users: {
    alice: { role: "admin" },
    bob: { role: "researcher", rotation: 1 },
    carol: { role: "analyst", suspended: true },
  },
};

/** Deterministic fake keys so tests can search for them. */
const fakeKey = (name: string, keepers: Record<string, string>) => `KEY${name}${keepers.rotation}`.replace(/[^A-Za-z0-9]/g, "x").padEnd(48, "z");

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

let program: () => Promise<Record<string, pulumi.Output<any>>>;

beforeAll(async () => {
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        created.push({ type: args.type, name: args.name, inputs: args.inputs });
        switch (args.type) {
          case "random:index/randomPassword:RandomPassword":
            return { id: "none", state: { ...args.inputs, result: fakeKey(args.name, args.inputs.keepers) } };
          case "command:local:Command":
            return { id: `${args.name}-id`, state: { ...args.inputs, stdout: args.name.endsWith("-issued") ? "2026-11-25T00:00:00Z" : "", stderr: "" } };
          case "fetchml:index:User":
          case "fetchml:index:AuthConfig":
          case "fetchml:index:DirectShare":
          case "fetchml:index:AuthRevocation":
          case "fetchml:index:RevocationGuard":
          case "fetchml:index:BitwardenSession":
          case "fetchml:index:BitwardenVault":
            return { id: "", state: {} };
          default:
            throw new Error(`unmocked resource type ${args.type}`);
        }
      },
      call(args) {
        if (args.token === "pulumi:pulumi:readStackOutputs") {
          // The stack's own previous outputs (what the last run recorded about keys).
          reads.push(args.inputs.name);
          return { name: args.inputs.name, outputs: { users: previousUsers }, secretOutputNames: [] };
        }
        throw new Error(`unmocked call ${args.token}`);
      },
    },
    "fetchml-keys",
    "test",
    true,
    "organization",
  );
  setConfig(STACK_CONFIG);
  program = (await import("../../../index")).default as never;
});

beforeEach(() => {
  created.length = 0;
  reads.length = 0;
  previousUsers = {};
  delete process.env.FETCHML_KEYS_NOW;
  setConfig(STACK_CONFIG);
});

const ofType = (type: string) => created.filter((r) => r.type === type);

describe("the program under mocks", () => {
  it("gives each user a key, an issue record and (direct delivery) an ml config file", async () => {
    await program();
    await new Promise((r) => setTimeout(r, 50));
    expect(ofType("fetchml:index:User").map((r) => r.name).sort()).toEqual(["alice", "bob", "carol"]);
    expect(ofType("random:index/randomPassword:RandomPassword").map((r) => r.name).sort()).toEqual(["alice-key", "bob-key", "carol-key"]);
    const commands = ofType("command:local:Command").map((r) => r.name).sort();
    expect(commands).toEqual([
      "alice-direct-file", "alice-issued", "auth-config-revoke", "auth-config-write", "bob-direct-file", "bob-issued", "carol-direct-file", "carol-issued", "revocations-check",
    ]);
  });

  it("keys are 48 letters and digits with the rotation counter as the only keeper", async () => {
    await program();
    await new Promise((r) => setTimeout(r, 50));
    const bob = ofType("random:index/randomPassword:RandomPassword").find((r) => r.name === "bob-key")!;
    expect(bob.inputs).toMatchObject({ length: 48, special: false, upper: true, lower: true, numeric: true, keepers: { rotation: "1" } });
  });

  it("raising one user's rotation changes only that user's keepers", async () => {
    await program();
    await new Promise((r) => setTimeout(r, 50));
    const before = Object.fromEntries(ofType("random:index/randomPassword:RandomPassword").map((r) => [r.name, r.inputs.keepers]));
    created.length = 0;
    setConfig({ ...STACK_CONFIG, users: { ...(STACK_CONFIG.users as object), alice: { role: "admin", rotation: 1 } } });
    await program();
    await new Promise((r) => setTimeout(r, 50));
    const after = Object.fromEntries(ofType("random:index/randomPassword:RandomPassword").map((r) => [r.name, r.inputs.keepers]));
    expect(after["alice-key"]).not.toEqual(before["alice-key"]);
    expect(after["bob-key"]).toEqual(before["bob-key"]);
    expect(after["carol-key"]).toEqual(before["carol-key"]);
  });

  it("keeps keys, hashes and ml configs secret and exports public audit fields in the clear", async () => {
    const outputs = await program();
    expect(await pulumi.isSecret(outputs.apiKeys)).toBe(true);
    expect(await pulumi.isSecret(outputs.mlConfigs)).toBe(true);
    expect(await pulumi.isSecret(outputs.users)).toBe(false);
    const users = await promiseOf(outputs.users);
    expect(users.alice).toMatchObject({ role: "admin", status: "active", rotation: 0, issuedAt: "2026-11-25T00:00:00Z" });
    expect(users.carol.status).toBe("suspended");
    expect(users.alice.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    const keys = await promiseOf(outputs.apiKeys);
    expect(JSON.stringify(users)).not.toContain(keys.alice);
    expect(JSON.stringify(users)).not.toContain(hashApiKey(keys.alice));
  });

  it("sends hashes of active users only to the auth writer, on stdin as a secret, never in a command string", async () => {
    const outputs = await program();
    const keys = await promiseOf(outputs.apiKeys);
    await new Promise((r) => setTimeout(r, 50));
    const writer = ofType("command:local:Command").find((r) => r.name === "auth-config-write")!;
    expect(isSecretValue(writer.inputs.stdin)).toBe(true);
    const request = JSON.parse(unwrap(writer.inputs.stdin));
    expect(Object.keys(request.entries)).toEqual(["alice", "bob"]);
    expect(request.entries.bob.hash).toBe(hashApiKey(keys.bob));
    expect(request.target).toEqual({ kind: "local", path: "/srv/fetchml/api.yaml" });
    const secrets = Object.values(keys).flatMap((k: any) => [k, hashApiKey(k)]);
    for (const command of ofType("command:local:Command")) {
      const visible = JSON.stringify([command.inputs.create, command.inputs.update, command.inputs.delete, command.inputs.triggers, command.inputs.environment ?? {}]);
      for (const s of secrets) expect(visible).not.toContain(s);
    }
  });

  it("rotates a key that reached its maximum age, and only that one", async () => {
    process.env.FETCHML_KEYS_NOW = "2026-06-01T00:00:00Z";
    previousUsers = {
      alice: { issuedAt: "2026-01-01T00:00:00Z", autoRotations: 0 }, // 151 days
      bob: { issuedAt: "2026-05-01T00:00:00Z", autoRotations: 0 }, // 31 days
    };
    setConfig({ ...STACK_CONFIG, defaults: { maxKeyAgeDays: 90 } });
    await program();
    await new Promise((r) => setTimeout(r, 50));
    const keepers = Object.fromEntries(ofType("random:index/randomPassword:RandomPassword").map((r) => [r.name, r.inputs.keepers.rotation]));
    expect(keepers).toEqual({ "alice-key": "0.0.1", "bob-key": "1", "carol-key": "0" });
  });

  it("reads the previous run's key facts from its own stack's outputs, without declaring a resource for it", async () => {
    process.env.FETCHML_KEYS_NOW = "2026-06-01T00:00:00Z";
    previousUsers = { bob: { issuedAt: "2026-01-01T00:00:00Z", autoRotations: 2 } };
    setConfig({ ...STACK_CONFIG, defaults: { maxKeyAgeDays: 90 } });
    await program();
    await new Promise((r) => setTimeout(r, 50));
    expect(reads).toEqual(["organization/fetchml-keys/test"]);
    expect(ofType("pulumi:pulumi:StackReference")).toEqual([]);
    const bob = ofType("random:index/randomPassword:RandomPassword").find((r) => r.name === "bob-key")!;
    expect(bob.inputs.keepers.rotation).toBe("1.0.3");
  });

  it("rotates every key when rotateAll goes up", async () => {
    setConfig({ ...STACK_CONFIG, rotateAll: 1 });
    await program();
    await new Promise((r) => setTimeout(r, 50));
    const keepers = ofType("random:index/randomPassword:RandomPassword").map((r) => r.inputs.keepers.rotation).sort();
    expect(keepers).toEqual(["0.1.0", "0.1.0", "1.1.0"]);
  });

  it("fails before declaring any resource when the config is invalid", async () => {
    setConfig({ ...STACK_CONFIG, users: { bob: { role: "reseacher" } } });
    await expect(program()).rejects.toThrow(/users\.bob\.role: unknown value "reseacher"/);
    expect(created).toEqual([]);
  });
});

describe("User component", () => {
  it("marks key, hash and ml config secret", async () => {
    const { User } = await import("../../../components/user");
    const { parseSettings } = await import("../../../config/settings");
    const settings = parseSettings({ authConfigPath: "x", users: { dave: { role: "analyst" } } });
    const user = new User("dave", { user: settings.users[0], client: settings.client, rotationKeeper: "0" });
    expect(await pulumi.isSecret(user.apiKey)).toBe(true);
    expect(await pulumi.isSecret(user.apiKeyHash)).toBe(true);
    expect(await pulumi.isSecret(user.mlConfig)).toBe(true);
    expect(await pulumi.isSecret(user.fingerprint)).toBe(false);
    expect(await promiseOf(user.apiKeyHash)).toBe(hashApiKey(await promiseOf(user.apiKey)));
  });
});
