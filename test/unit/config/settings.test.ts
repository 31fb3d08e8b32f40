import { describe, expect, it } from "vitest";
import { ConfigError, show } from "../../../config/problems";
import { readNamespace, strayKeys } from "../../../config/rawConfig";
import { parseSettings } from "../../../config/settings";
import { authTargets } from "../../../config/targets";

const valid = () => ({
  authConfigPath: "server.yaml",
  users: {
    alice: { role: "admin" },
    bob: { role: "researcher", rotation: 2 },
    carol: { role: "analyst", delivery: "direct" },
  },
});

function problems(config: Record<string, unknown>): string[] {
  try {
    parseSettings(config);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("parseSettings", () => {
  it("refuses a path or a bw command holding a control or text-direction character (it is printed in the plan), shown escaped", () => {
    expect(
      problems({
        ...valid(),
        authConfigPath: "/srv/new.yaml\rno access changes\r",
        deliveryDir: "/srv/keys\u2028x",
        servers: [
          { name: "box", host: "10.0.0.5", user: "fetchml", hostKey: "ssh-ed25519 AAAA", configPath: "/srv/a\nb.yaml", privateKey: "k" },
        ],
        bitwarden: { collectionIds: ["0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"], cli: "bw\u202e" },
      }).filter((p) => p.includes("control")),
    ).toEqual([
      'authConfigPath: "/srv/new.yaml\\rno access changes\\r" holds a control or text-direction character',
      'servers[0].configPath: "/srv/a\\nb.yaml" holds a control or text-direction character',
      'deliveryDir: "/srv/keys\\u2028x" holds a control or text-direction character',
      'bitwarden.cli: "bw\\u202e" holds a control or text-direction character',
    ]);
  });

  it("turns valid config into users sorted by name with role presets and defaults", () => {
    const settings = parseSettings({ ...valid(), users: { carol: { role: "analyst" }, alice: { role: "admin" } } });
    expect(settings.users.map((u) => u.name)).toEqual(["alice", "carol"]);
    expect(settings.users[0]).toMatchObject({ role: "admin", rotation: 0, suspended: false, delivery: "direct" });
    expect(settings.users[1].access.permissions).toEqual({ "jobs:read": true, "jobs:create": false, "jobs:update": false });
    expect(settings.client).toEqual({ workerHost: "localhost", workerPort: 9100, apiUrl: "ws://localhost:9100/ws" });
    expect(settings.preserveEntries).toEqual([]);
  });

  it("falls back on defaults.role and defaults.delivery", () => {
    const settings = parseSettings({ authConfigPath: "x", defaults: { role: "analyst" }, users: { dave: {} } });
    expect(settings.users[0].role).toBe("analyst");
  });

  it("applies per-user overrides over the role preset", () => {
    const settings = parseSettings({
      authConfigPath: "x",
      users: { erin: { role: "analyst", roles: ["analyst", "auditor"], permissions: { "jobs:create": true } } },
    });
    expect(settings.users[0].access).toEqual({
      admin: false,
      roles: ["analyst", "auditor"],
      permissions: { "jobs:read": true, "jobs:create": true, "jobs:update": false },
    });
  });

  it("lets an override take away what the preset grants: role admin with admin: false is no admin", () => {
    const settings = parseSettings({
      authConfigPath: "x",
      defaults: { role: "admin" },
      users: {
        ops: { role: "admin", admin: false },
        lead: { admin: false, permissions: { "jobs:update": false } },
        root: { role: "admin" },
      },
    });
    const access = Object.fromEntries(settings.users.map((u) => [u.name, u.access]));
    expect(access.ops).toEqual({
      admin: false,
      roles: ["admin"],
      permissions: { "jobs:read": true, "jobs:create": true, "jobs:update": true },
    });
    expect(access.lead).toEqual({
      admin: false,
      roles: ["admin"],
      permissions: { "jobs:read": true, "jobs:create": true, "jobs:update": false },
    });
    expect(access.root.admin).toBe(true);
  });

  it("checks defaults like the per-user values they stand for, with their path and value", () => {
    expect(problems({ authConfigPath: "/x", defaults: { role: "boss", delivery: "pigeon", maxKeyAgeDays: 0 }, users: { a: {} } })).toEqual([
      'defaults.role: unknown value "boss" (expected admin, researcher, analyst)',
      'defaults.delivery: unknown value "pigeon" (expected direct, bitwarden)',
      "defaults.maxKeyAgeDays: 0 is too small (minimum 1)",
    ]);
    expect(problems({ authConfigPath: "/x", defaults: { role: 3 }, users: { a: {} } })).toEqual([
      "defaults.role: unknown value 3 (expected admin, researcher, analyst)",
    ]);
  });

  it("names the path and the bad value of an unknown role", () => {
    expect(problems({ ...valid(), users: { bob: { role: "reseacher" } } })).toEqual([
      'users.bob.role: unknown value "reseacher" (expected admin, researcher, analyst)',
    ]);
  });

  it("rejects a typo'd key and lists the keys it could have meant", () => {
    const [problem] = problems({ ...valid(), users: { bob: { role: "researcher", rotaton: 1 } } });
    expect(problem).toMatch(/^users\.bob\.rotaton: unknown key "rotaton" \(expected one of: role, admin, .*rotation/);
  });

  it("rejects unknown top-level keys", () => {
    expect(problems({ ...valid(), authConfigPth: "y" })).toEqual([
      expect.stringMatching(/^authConfigPth: unknown key "authConfigPth" \(expected one of: authConfigPath,/),
    ]);
  });

  it("rejects bad usernames with the name in the message", () => {
    for (const bad of ["Alice", "1bob", "bob smith", "a".repeat(33), "bob;rm", ""]) {
      const found = problems({ ...valid(), users: { [bad]: { role: "admin" } } });
      expect(found.join("\n")).toContain(`bad username ${JSON.stringify(bad)}`);
    }
  });

  it("rejects unknown permission names and non-boolean permission values", () => {
    const found = problems({
      ...valid(),
      users: { bob: { role: "researcher", permissions: { "jobs:delete": true, "jobs:read": "yes" } } },
    });
    expect(found).toContain(
      'users.bob.permissions."jobs:delete": unknown key "jobs:delete" (expected one of: jobs:read, jobs:create, jobs:update)',
    );
    expect(found).toContain('users.bob.permissions."jobs:read": expected boolean, got "yes"');
  });

  it("rejects insane numbers", () => {
    expect(problems({ ...valid(), users: { bob: { role: "admin", rotation: -1 } } })).toEqual([
      "users.bob.rotation: -1 is too small (minimum 0)",
    ]);
    expect(problems({ ...valid(), users: { bob: { role: "admin", rotation: 1.5 } } })).toEqual([
      "users.bob.rotation: expected int, got 1.5",
    ]);
    expect(problems({ ...valid(), client: { workerPort: 70000 } })).toEqual(["client.workerPort: 70000 is too big (maximum 65535)"]);
    // YAML reads 1e400 as Infinity, which JSON would print as null.
    // Inside a list too (last stop's note: it printed null there).
    expect(show([1, Infinity, -Infinity, NaN])).toBe("[1,Infinity,-Infinity,NaN]");
    expect(show({ a: "\u0000Infinity" })).toBe('{"a":"\\u0000Infinity"}');
    expect(problems({ ...valid(), users: { bob: { role: "admin", rotation: Infinity } } })).toEqual([
      "users.bob.rotation: expected number, got Infinity (a number too large to use)",
    ]);
  });

  it("refuses an empty user list", () => {
    expect(problems({ authConfigPath: "x", users: {} })).toEqual([
      "users: no users declared; an empty list would revoke every key, so it is refused",
    ]);
  });

  it("reports a missing required key and a missing role", () => {
    expect(problems({ users: { bob: {} } })).toEqual([
      "users.bob.role: missing (no defaults.role to fall back on)",
      "authConfigPath: missing (name a local auth config file, or FetchML servers under servers)",
    ]);
  });

  it("refuses an entry that is both a user and preserved", () => {
    expect(problems({ ...valid(), preserveEntries: ["alice", "svc-backup"] })).toEqual([
      'preserveEntries: "alice" is also declared under users; it cannot be both managed and preserved',
    ]);
  });

  it("reports every problem at once", () => {
    const found = problems({
      authConfigPath: "x",
      users: { Bob: { role: "boss" }, carol: { role: "analyst", suspend: true } },
      client: { apiUrl: "http://x" },
    });
    expect(found).toHaveLength(4);
    expect(found.join("\n")).toContain('users.Bob.role: unknown value "boss"');
    expect(found.join("\n")).toContain('users.carol.suspend: unknown key "suspend"');
    expect(found.join("\n")).toContain('client.apiUrl: "http://x" must be a ws:// or wss:// URL');
    expect(found.join("\n")).toContain('bad username "Bob"');
  });

  it("refuses an apiUrl with letters that only look ASCII: every user's ml CLI sends its key there (recheck43 F9)", () => {
    const found = problems({ ...valid(), client: { apiUrl: "wss://fetchml.ex\u0430mple.org/ws" } });
    expect(found).toEqual([
      expect.stringMatching(/^client\.apiUrl: .* must be ASCII \(write an international host name in its xn-- form\)$/),
    ]);
    expect(parseSettings({ ...valid(), client: { apiUrl: "wss://fetchml.xn--exmple-4nf.org/ws" } }).client.apiUrl).toBe(
      "wss://fetchml.xn--exmple-4nf.org/ws",
    );
  });

  it("puts the path and value in the error message itself", () => {
    expect(() => parseSettings({ ...valid(), users: { bob: { role: "reseacher" } } })).toThrow(
      /invalid stack config \(1 problem\):\n {2}- users\.bob\.role: unknown value "reseacher"/,
    );
  });
});

describe("readNamespace", () => {
  it("keeps this project's keys, parses objects and arrays, and leaves strings alone", () => {
    expect(
      readNamespace({
        "fetchml-keys:authConfigPath": "/etc/fetchml/api.yaml",
        "fetchml-keys:users": '{"alice":{"role":"admin"}}',
        "fetchml-keys:preserveEntries": '["svc"]',
        "aws:region": "eu-west-1",
      }),
    ).toEqual({ authConfigPath: "/etc/fetchml/api.yaml", users: { alice: { role: "admin" } }, preserveEntries: ["svc"] });
  });
});

describe("servers (SSH targets)", () => {
  // A fake key's shape (not a key), assembled so it never looks like one to secret scanners.
  const label = ["OPENSSH", "PRIVATE", "KEY"].join(" ");
  const PEM = `-----BEGIN ${label}-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END ${label}-----\n`;
  const server = (extra: Record<string, unknown> = {}) => ({
    name: "gpu-box",
    host: "10.0.0.5",
    user: "fetchml",
    privateKey: PEM,
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0 root@gpu-box",
    configPath: "/etc/fetchml/api.yaml",
    ...extra,
  });

  it("accepts servers instead of a local file, with port 22 by default", () => {
    const settings = parseSettings({ servers: [server()], users: { alice: { role: "admin" } } });
    expect(settings.authConfigPath).toBeUndefined();
    expect(settings.servers[0]).toMatchObject({ name: "gpu-box", port: 22, configPath: "/etc/fetchml/api.yaml" });
  });

  it("rejects a bad host key line, a relative path and duplicate names, and never prints the private key", () => {
    const found = problems({
      servers: [server({ hostKey: "not a key", configPath: "api.yaml" }), server({ privateKey: 42 })],
      users: { alice: { role: "admin" } },
    });
    const text = found.join("\n");
    expect(text).toContain('servers[0].hostKey: "not a key" must be one host key line');
    expect(text).toContain('servers[0].configPath: "api.yaml" must be an absolute path on the server');
    expect(text).toContain("servers[1].privateKey: expected string, got [secret]");
    expect(text).toContain('servers: the name "gpu-box" is used more than once');
    expect(text).not.toContain("b3BlbnNzaC1rZXktdjEAAAAA");
    expect(text).not.toContain("42");
  });

  it("refuses a group without an owner, which a write would not apply, with its path and value", () => {
    expect(() =>
      parseSettings({ servers: [server(), server({ name: "b", group: "users" })], users: { alice: { role: "admin" } } }),
    ).toThrow('servers[1].group: "users" is applied only with owner; set servers[1].owner too');
    expect(
      parseSettings({ servers: [server({ owner: "root", group: "users" })], users: { alice: { role: "admin" } } }).servers[0],
    ).toMatchObject({
      owner: "root",
      group: "users",
    });
  });

  it("needs a local file or at least one server", () => {
    expect(problems({ users: { alice: { role: "admin" } } })).toEqual([
      "authConfigPath: missing (name a local auth config file, or FetchML servers under servers)",
    ]);
  });
});

describe("createIfMissing and stray namespaces", () => {
  it("is per target, off unless set, and never part of a target's spec (the steps' input)", () => {
    const settings = parseSettings({
      authConfigPath: "a.yaml",
      createIfMissing: true,
      servers: [{ name: "s", host: "h", user: "u", privateKey: "k", hostKey: "ssh-ed25519 AAAA", configPath: "/x.yaml" }],
      users: { alice: { role: "admin" } },
    });
    const targets = authTargets(settings);
    expect(targets.map((t) => [t.setting, t.createIfMissing])).toEqual([
      ["authConfigPath", true],
      ["servers[0].configPath", false],
    ]);
    expect(targets.map((t) => Object.keys(t.spec).includes("createIfMissing"))).toEqual([false, false]);
    expect(problems({ ...valid(), createIfMissing: "yes" })).toEqual(['createIfMissing: expected boolean, got "yes"']);
  });

  it("names a key in a mistyped namespace along with what it leaves missing", () => {
    const raw = { "fetchml-key:users": '{"alice":{"role":"admin"}}', "fetchml-keys:authConfigPath": "a.yaml", "random:x": "1" };
    const stray = strayKeys(Object.keys(raw));
    expect(stray).toEqual(["fetchml-key:users: unknown key (this project's settings are fetchml-keys:<name>, e.g. fetchml-keys:users)"]);
    try {
      parseSettings(readNamespace(raw), stray);
      throw new Error("expected a ConfigError");
    } catch (e) {
      expect((e as ConfigError).problems[0]).toBe(stray[0]);
    }
  });
});
