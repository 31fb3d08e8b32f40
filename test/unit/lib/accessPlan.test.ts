/** What a preview says an up will do, from stack config, the last run and each target's reading. */
import { describe, expect, it } from "vitest";
import { resolveAccess, type Role } from "../../../config/roles";
import { planAccess, type AccessPlanInput } from "../../../lib/accessPlan";
import type { PlannedUser } from "../../../lib/accessPlanUsers";
import { entryDigest, renderApiKeyEntries } from "../../../lib/authSection";
import { type KeyPlan, planKeys } from "../../../lib/keyPlan";
import type { PreviousSettings, PreviousUser } from "../../../program/outputs";
import { targetRecordSchema } from "../../../lib/targetRecord";
import { targetGeneration } from "../../../lib/targetGeneration";
import type { TargetReading } from "../../../targets/read";

const STACK = "organization/fetchml-keys/dev";
const user = (name: string, role: Role = "researcher", over: Partial<PlannedUser> = {}): PlannedUser => ({
  name,
  role,
  access: resolveAccess(role),
  delivery: "direct",
  suspended: false,
  ...over,
});
const record = (u: PlannedUser, over: Partial<PreviousUser> = {}): PreviousUser => ({
  role: u.role,
  ...u.access,
  delivery: u.delivery,
  status: u.suspended ? "suspended" : "active",
  fingerprint: `fp-${u.name}`,
  issuedAt: "2026-01-01T00:00:00Z",
  rotation: 0,
  keeper: "0",
  autoRotations: 0,
  ...over,
});
const hash = (c: string) => c.repeat(64);
/** A reading whose entries are exactly these users' (hash "a" for all), plus extra raw entries. */
function reading(users: PlannedUser[], extra: Record<string, { admin?: boolean }> = {}, over: Partial<TargetReading> = {}): TargetReading {
  const entries = new Map();
  for (const u of users) {
    const entry = { hash: hash("a"), ...u.access };
    entries.set(u.name, { digest: entryDigest(entry), ...u.access });
  }
  for (const [name, fields] of Object.entries(extra)) entries.set(name, { digest: entryDigest(fields), ...fields });
  return {
    label: "/srv/api.yaml",
    identity: "/srv/api.yaml",
    exists: true,
    entries,
    record: { format: 1, stack: STACK, writer: "w", generation: 3, reloadPending: false, managed: users.map((u) => u.name) },
    ...over,
  };
}
function plan(input: Partial<AccessPlanInput> & { users: PlannedUser[] }) {
  const keys = new Map<string, KeyPlan>(input.users.map((u) => [u.name, { keeper: "0", autoRotations: 0 }]));
  return planAccess({
    stack: STACK,
    keys,
    previousUsers: new Map(),
    targets: [],
    previousTargets: [],
    preserve: [],
    maxRevokedShare: 0.5,
    ...input,
  });
}

describe("planAccess", () => {
  const alice = user("alice", "admin");
  const bob = user("bob");
  const carol = user("carol", "analyst");

  it("names new users with their role, and spells out overrides of the preset", () => {
    const dave = user("dave", "analyst", {
      access: { ...resolveAccess("analyst"), permissions: { ...resolveAccess("analyst").permissions, "jobs:create": true } },
    });
    const p = plan({
      users: [alice, dave],
      keys: new Map([
        ["alice", { keeper: "0", autoRotations: 0, change: "new" }],
        ["dave", { keeper: "0", autoRotations: 0, change: "new" }],
      ]),
    });
    expect(p.lines).toEqual(["+ alice (admin): new key", "+ dave (analyst: jobs:create true): new key"]);
  });

  it("says who is revoked, suspended, restored, changes role (noting a suspension) or rotates, and why", () => {
    const previousUsers = new Map([
      ["alice", record(alice)],
      ["bob", record(bob)],
      ["carol", record(carol, { status: "suspended" })],
      ["erin", record(user("erin"))],
      ["frank", record(user("frank"))],
    ]);
    // bob's counter went up: the key plan (lib/keyPlan.ts) says so, and why.
    const rotations = { alice: 0, bob: 1, carol: 0, frank: 0 };
    const keys = planKeys(
      Object.entries(rotations).map(([name, rotation]) => ({ name, rotation })),
      0,
      previousUsers,
      new Date("2026-06-01T00:00:00Z"),
      14,
    );
    const p = plan({
      users: [alice, bob, user("carol", "researcher", { suspended: true }), user("frank", "researcher", { suspended: true })],
      keys,
      previousUsers,
    });
    expect(p.lines).toEqual([
      "~ bob: key rotated (rotation 0 -> 1)",
      "~ carol: analyst -> researcher (suspended: no access until resumed)",
      "- erin: access revoked",
      "- frank: suspended (key kept)",
    ]);
  });

  it("does not call a user whose key was never issued (their first up failed) revoked when they are removed", () => {
    const previousUsers = new Map([
      ["alice", record(alice)],
      ["dave", record(user("dave"), { fingerprint: undefined, issuedAt: undefined })],
    ]);
    expect(plan({ users: [alice], previousUsers }).lines).toEqual([]);
  });

  it("names entries nobody declared before anything changes, and counts them in the guard", () => {
    const p = plan({
      users: [alice, bob, carol],
      previousUsers: new Map([alice, bob, carol].map((u) => [u.name, record(u)])),
      targets: [{ resourceName: "auth-config", reading: reading([alice, bob, carol], { legacy_admin: { admin: true } }) }],
    });
    expect(p.lines).toEqual([
      "- legacy_admin: entry on /srv/api.yaml is not declared by this stack (admin): up removes it; list it in preserveEntries to keep it",
    ]);
    expect(p.targets.get("auth-config")!.removals).toEqual(["legacy_admin"]);
    expect(p.massRevocation).toBeUndefined();
  });

  it("leaves preserved entries alone and out of the count", () => {
    const p = plan({
      users: [alice],
      previousUsers: new Map([["alice", record(alice)]]),
      preserve: ["svc"],
      targets: [{ resourceName: "auth-config", reading: reading([alice], { svc: {} }) }],
    });
    expect(p.lines).toEqual([]);
    expect(p.targets.get("auth-config")).toMatchObject({ removals: [], present: ["alice"] });
  });

  it("refuses more than the allowed share of a target's key holders, at the boundary exactly", () => {
    const four = ["a", "b", "c", "d"].map((n) => user(n));
    const previousUsers = new Map(four.map((u) => [u.name, record(u)]));
    const target = [{ resourceName: "auth-config", reading: reading(four) }];
    // 2 of 4 = 50%: allowed (more than 50% is refused).
    expect(plan({ users: four.slice(2), previousUsers, targets: target }).massRevocation).toBeUndefined();
    const three = plan({ users: four.slice(3), previousUsers, targets: target });
    expect(three.massRevocation).toMatch(
      /^refusing to take access from more than 50% of a target's key holders: 3 of 4 on \/srv\/api.yaml \(75%\): a, b, c\. Nothing was changed/,
    );
    expect(plan({ users: four.slice(3), previousUsers, targets: target, maxRevokedShare: 0.75 }).massRevocation).toBeUndefined();
    // A file whose only entry nobody declared: 1 of 1.
    expect(
      plan({ users: [alice], targets: [{ resourceName: "auth-config", reading: reading([], { legacy: {} }) }] }).massRevocation,
    ).toMatch(/1 of 1 on \/srv\/api.yaml \(100%\): legacy/);
  });

  it("counts suspended users as losing access in the guard: suspending most key holders at once is refused", () => {
    const four = ["a", "b", "c", "d"].map((n) => user(n));
    const previousUsers = new Map(four.map((u) => [u.name, record(u)]));
    const target = [{ resourceName: "auth-config", reading: reading(four) }];
    const suspend = (names: string[]) => four.map((u) => (names.includes(u.name) ? { ...u, suspended: true } : u));
    const three = plan({ users: suspend(["a", "b", "c"]), previousUsers, targets: target });
    expect(three.targets.get("auth-config")!.removals).toEqual(["a", "b", "c"]);
    expect(three.massRevocation).toMatch(/3 of 4 on \/srv\/api.yaml \(75%\): a, b, c\. Nothing was changed/);
    // Suspended and removed users count alike: a suspended, b and c removed is 3 of 4 too.
    const mixed = plan({ users: suspend(["a"]).filter((u) => u.name !== "b" && u.name !== "c"), previousUsers, targets: target });
    expect(mixed.massRevocation).toMatch(/3 of 4 on \/srv\/api.yaml \(75%\): a, b, c\./);
    expect(plan({ users: suspend(["a", "b"]), previousUsers, targets: target }).massRevocation).toBeUndefined();
  });

  it("counts every entry of a target that stops being managed", () => {
    const p = plan({
      users: [alice],
      previousUsers: new Map([["alice", record(alice)]]),
      previousTargets: [{ name: "server-b", label: "b (x@h:22:/c.yaml)", identity: "ssh:k:/c.yaml", managed: ["alice", "bob"] }],
    });
    expect(p.lines).toEqual(["- b (x@h:22:/c.yaml): no longer in stack config: up takes 2 entries off it (alice, bob)"]);
    expect(p.massRevocation).toMatch(/2 of 2 on b/);
  });

  it("says when an entry is missing or differs on a target, unless stack config explains it", () => {
    const changedBob = { ...reading([alice, bob]) };
    changedBob.entries = new Map(changedBob.entries);
    changedBob.entries.set("bob", { ...changedBob.entries.get("bob")!, admin: true });
    const p = plan({
      users: [alice, bob, carol],
      previousUsers: new Map([alice, bob, carol].map((u) => [u.name, record(u)])),
      targets: [{ resourceName: "auth-config", reading: changedBob }],
    });
    expect(p.lines).toEqual([
      "~ bob: entry on /srv/api.yaml differs from stack config: up restores it",
      "+ carol: entry missing on /srv/api.yaml: up restores it",
    ]);
    expect(p.targets.get("auth-config")!.verify).toEqual(["alice"]);
  });

  it("refuses a target another stack manages, and two targets that are one file, naming both", () => {
    const theirs = reading(
      [alice],
      {},
      {
        record: {
          format: 1,
          stack: "organization/fetchml-keys/prod",
          writer: "x",
          generation: 0,
          reloadPending: false,
          managed: ["alice"],
        },
      },
    );
    const p = plan({
      users: [alice],
      targets: [
        { resourceName: "auth-config", reading: theirs },
        { resourceName: "server-a", reading: { ...reading([alice]), label: "a (u@localhost:22:/srv/api.yaml)" } },
      ],
    });
    expect(p.conflicts).toEqual([
      "/srv/api.yaml is managed by stack organization/fetchml-keys/prod; this stack (organization/fetchml-keys/dev) will not touch it. Remove it from one of the two stacks (or destroy the other stack first)",
      "a (u@localhost:22:/srv/api.yaml) and /srv/api.yaml are the same file; name it once",
    ]);
  });

  it("counts a move as taking every entry off the old target, and says a new file will be created", () => {
    const p = plan({
      users: [alice],
      previousUsers: new Map([["alice", record(alice)]]),
      previousTargets: [{ name: "auth-config", label: "/srv/api.yaml", identity: "/srv/api.yaml", managed: ["alice", "bob"] }],
      targets: [
        {
          resourceName: "auth-config",
          reading: { label: "/srv/apii.yaml", identity: "/srv/apii.yaml", exists: false, entries: new Map() },
        },
      ],
    });
    expect(p.lines).toEqual([
      "~ auth-config: moves from /srv/api.yaml to /srv/apii.yaml: entries are written there first, then taken off /srv/api.yaml",
      "+ /srv/apii.yaml: does not exist yet: up creates it",
    ]);
    expect(p.massRevocation).toMatch(/2 of 2 on \/srv\/api.yaml \(100%, the target moves\): alice, bob/);
  });

  it("says a reload is still owed, a target moved, or one cannot be read", () => {
    const pending = reading(
      [alice],
      {},
      { record: { format: 1, stack: STACK, writer: "w", generation: 1, reloadPending: true, managed: ["alice"] } },
    );
    const moved = { name: "server-a", label: "a (old)", identity: "ssh:k:/old.yaml", managed: ["alice"] };
    const p = plan({
      users: [alice],
      previousUsers: new Map([["alice", record(alice)]]),
      previousTargets: [
        { name: "auth-config", label: "/srv/api.yaml", identity: "/srv/api.yaml", managed: ["alice"] },
        moved,
        { name: "server-b", label: "b (down)", identity: "ssh:k:/b.yaml", managed: ["alice"] },
      ],
      targets: [
        { resourceName: "auth-config", reading: pending },
        { resourceName: "server-a", reading: { ...reading([alice]), label: "a (new)", identity: "ssh:k:/new.yaml" } },
        {
          resourceName: "server-b",
          reading: { label: "b (down)", unreachable: "b: cannot connect: ECONNREFUSED", exists: false, entries: new Map() },
        },
      ],
    });
    expect(p.lines).toEqual([
      "! /srv/api.yaml: a reload is still owed (the last one failed or was cut short): up runs it",
      "~ server-a: moves from a (old) to a (new): entries are written there first, then taken off a (old)",
      "! b (down): cannot be read now (b: cannot connect: ECONNREFUSED); what up changes there is known only when it connects",
    ]);
  });

  it("calls a missing or unusable record on a target this stack wrote last run drift, and shows the drift it hid", () => {
    const last = { name: "auth-config", label: "/srv/api.yaml", identity: "/srv/api.yaml", managed: ["alice", "bob"], generation: 7 };
    const lost = (over: Partial<TargetReading>) => ({ ...reading([alice]), record: undefined, ...over });
    const missing = plan({
      users: [alice, bob],
      previousUsers: new Map([alice, bob].map((u) => [u.name, record(u)])),
      previousTargets: [last],
      targets: [{ resourceName: "auth-config", reading: lost({}) }],
    });
    expect(missing.lines).toEqual([
      "! /srv/api.yaml: its record (the .<file>.fetchml-keys beside it) is missing: up rewrites it",
      "+ bob: entry missing on /srv/api.yaml: up restores it",
    ]);
    expect(missing.conflicts).toEqual([]);
    expect(missing.targets.get("auth-config")!.recordLost).toEqual({ generation: 7 });
    const broken = plan({
      users: [alice],
      previousUsers: new Map([["alice", record(alice)]]),
      previousTargets: [last],
      targets: [
        {
          resourceName: "auth-config",
          reading: lost({ recordProblem: "not valid JSON; move it away to let this stack take the file over" }),
        },
      ],
    });
    expect(broken.lines).toEqual([
      "! /srv/api.yaml: its record (the .<file>.fetchml-keys beside it) is unusable (not valid JSON): up rewrites it",
    ]);
    expect(broken.conflicts).toEqual([]);
    // A target this stack did not write last run: a broken record is not ours to rewrite.
    const foreign = plan({
      users: [alice],
      targets: [{ resourceName: "auth-config", reading: lost({ recordProblem: "not valid JSON; move it away" }) }],
    });
    expect(foreign.conflicts).toEqual(["/srv/api.yaml: its record (the .<file>.fetchml-keys beside it): not valid JSON; move it away"]);
    // Nor one this stack wrote somewhere else (a move): the new file has no record yet.
    const moved = plan({
      users: [alice],
      previousTargets: [{ ...last, identity: "/srv/old.yaml" }],
      targets: [{ resourceName: "auth-config", reading: lost({}) }],
    });
    expect(moved.targets.get("auth-config")!.recordLost).toBeUndefined();
  });

  it("calls a record whose write step's replacement did not finish drift, rewritten by the next write (attack42 1)", () => {
    const unfinished = reading(
      [alice],
      {},
      { record: { format: 1, stack: STACK, writer: "w2", generation: 3, reloadPending: false, managed: ["alice"], replaced: "w" } },
    );
    const p = plan({
      users: [alice],
      previousUsers: new Map([["alice", record(alice)]]),
      targets: [{ resourceName: "auth-config", reading: unfinished }],
    });
    expect(p.lines).toEqual([
      "! /srv/api.yaml: its record says a replacement of its write step did not finish (a run was interrupted): up rewrites it, so that destroy and moves take this stack's entries off it",
    ]);
    const wanted = renderApiKeyEntries([{ name: "alice", access: alice.access, apiKeyHash: hash("a") }]);
    expect(targetGeneration(unfinished, wanted, [], STACK)).toBe(4);
  });

  it("calls a file other accounts can read drift: named, and the generation moves on so that up closes it (attack45 F3)", () => {
    const open = (mode: number) =>
      plan({
        users: [alice],
        previousUsers: new Map([["alice", record(alice)]]),
        targets: [{ resourceName: "auth-config", reading: reading([alice], {}, { mode }) }],
      });
    expect(open(0o644).lines).toEqual([
      "! /srv/api.yaml: its mode 644 lets every account on its machine read it, and so every hash: up takes that away (mode 640)",
    ]);
    expect(open(0o602).lines).toHaveLength(1);
    expect(open(0o640).lines).toEqual([]);
    const wanted = renderApiKeyEntries([{ name: "alice", access: alice.access, apiKeyHash: hash("a") }]);
    expect(targetGeneration(reading([alice], {}, { mode: 0o644 }), wanted, [], STACK)).toBe(4);
    expect(targetGeneration(reading([alice], {}, { mode: 0o640 }), wanted, [], STACK)).toBe(3);
  });

  it("treats names like constructor, valueOf and __proto__ as plain names", () => {
    const odd = [user("constructor"), user("valueof")];
    const r = reading(odd, { __proto__x: {} });
    r.entries.set("__proto__", { digest: "x" });
    r.entries.set("valueOf", { digest: "y" });
    const p = plan({
      users: odd,
      previousUsers: new Map(odd.map((u) => [u.name, record(u)])),
      targets: [{ resourceName: "auth-config", reading: r }],
      maxRevokedShare: 1,
    });
    expect(p.targets.get("auth-config")!.removals.sort()).toEqual(["__proto__", "__proto__x", "valueOf"]);
  });
});

describe("targetGeneration", () => {
  const alice = user("alice", "admin");
  const wanted = renderApiKeyEntries([{ name: "alice", apiKeyHash: hash("a"), access: alice.access }]);

  it("stays while the target is exactly what is wanted, and moves on by one when it is not", () => {
    expect(targetGeneration(reading([alice]), wanted, [], STACK)).toBe(3);
    expect(targetGeneration(reading([alice], { mallory: {} }), wanted, [], STACK)).toBe(4);
    expect(targetGeneration(reading([alice], { svc: {} }), wanted, ["svc"], STACK)).toBe(3);
    const other = renderApiKeyEntries([{ name: "alice", apiKeyHash: hash("b"), access: alice.access }]);
    expect(targetGeneration(reading([alice]), other, [], STACK)).toBe(4);
    const owed = reading(
      [alice],
      {},
      { record: { format: 1, stack: STACK, writer: "w", generation: 3, reloadPending: true, managed: ["alice"] } },
    );
    expect(targetGeneration(owed, wanted, [], STACK)).toBe(4);
    expect(targetGeneration(reading([alice], {}, { record: undefined }), wanted, [], STACK)).toBe(1);
    expect(targetGeneration({ label: "x", unreachable: "down", exists: false, entries: new Map() }, wanted, [], STACK)).toBeNull();
  });

  it("moves on from last run's generation when the record is lost, and never past what a record may hold", () => {
    const gone = reading([alice], {}, { record: undefined });
    expect(targetGeneration(gone, wanted, [], STACK, { generation: 7 })).toBe(8);
    // Last run's generation unknown (an older version's outputs): seconds since 1970, not 1 again.
    expect(targetGeneration(gone, wanted, [], STACK, {}, () => 1_800_000_000_123)).toBe(1800000001);
    const top = (over = {}) =>
      reading([alice], over, {
        record: { format: 1, stack: STACK, writer: "w", generation: 2 ** 53 - 1, reloadPending: false, managed: ["alice"] },
      });
    expect(targetGeneration(top(), wanted, [], STACK)).toBe(2 ** 53 - 1);
    const next = targetGeneration(top({ mallory: {} }), wanted, [], STACK);
    expect(next).toBe(1);
    expect(
      targetRecordSchema.safeParse({ format: 1, stack: STACK, writer: "w", generation: next, reloadPending: false, managed: [] }).success,
    ).toBe(true);
    expect(targetGeneration(gone, wanted, [], STACK, { generation: 2 ** 53 - 1 })).toBe(1);
    expect(
      targetRecordSchema.safeParse({ format: 1, stack: STACK, writer: "w", generation: 2 ** 53, reloadPending: false, managed: [] })
        .success,
    ).toBe(false);
  });
});

describe("planAccess: where keys go and what runs with them", () => {
  const alice = user("alice", "admin");
  const bob = user("bob");
  const previous = new Map([
    ["alice", record(alice)],
    ["bob", record(bob)],
  ]);
  const target = (resourceName: string, label: string, reloadCommand?: string) => ({
    resourceName,
    reading: reading([alice, bob], {}, { label, identity: label }),
    reload: { command: reloadCommand, where: "as you, on this machine" },
  });
  const was = (name: string, label: string, reloadCommand: string | null) => ({
    name,
    label,
    identity: label,
    managed: ["alice", "bob"],
    reloadCommand,
  });
  const settings = {
    stack: "organization/fetchml-keys/test",
    preserveEntries: ["svc-backup"],
    deliveryDir: null,
    client: { workerHost: "localhost", workerPort: 9100, apiUrl: "ws://localhost:9100/ws" },
    bitwardenOrganization: null,
    bitwardenCli: null,
    bitwardenItemPrefix: null,
    bitwardenOnRevoke: null,
    bitwardenRepair: null,
  };

  it("names a changed reload command, old and new text, and where it runs", () => {
    const p = plan({
      users: [alice, bob],
      previousUsers: previous,
      targets: [target("auth-config", "/srv/api.yaml", "sh -c 'cat /srv/api.yaml > /tmp/leak'")],
      previousTargets: [was("auth-config", "/srv/api.yaml", "systemctl restart fetchml")],
    });
    expect(p.lines).toEqual([
      `~ /srv/api.yaml: reload command "systemctl restart fetchml" -> "sh -c 'cat /srv/api.yaml > /tmp/leak'": runs as you, on this machine after each change of the file`,
    ]);
  });

  it("names a target the last run did not have, whose hashes go there, and its reload command", () => {
    const p = plan({
      users: [alice, bob],
      previousUsers: previous,
      targets: [target("auth-config", "/srv/api.yaml"), target("server-b", "b (x@10.0.0.9:22:/etc/api.yaml)", "true")],
      previousTargets: [was("auth-config", "/srv/api.yaml", null)],
    });
    expect(p.lines).toEqual([
      `+ b (x@10.0.0.9:22:/etc/api.yaml): new target: up writes the hashes of alice, bob there, then runs "true" as you, on this machine`,
    ]);
  });

  it("says nothing about reload commands or targets the last run did not record (older versions)", () => {
    const p = plan({
      users: [alice, bob],
      previousUsers: previous,
      targets: [target("auth-config", "/srv/api.yaml", "x")],
      previousTargets: [{ name: "auth-config", label: "/srv/api.yaml", identity: "/srv/api.yaml", managed: ["alice", "bob"] }],
    });
    expect(p.lines).toEqual([]);
  });

  it("names an entry that starts being preserved, with its admin access, and one that stops", () => {
    const t = { ...target("auth-config", "/srv/api.yaml"), reading: reading([alice, bob], { eve: { admin: true } }) };
    const p = plan({
      users: [alice, bob],
      previousUsers: previous,
      targets: [t],
      previousTargets: [was("auth-config", "/srv/api.yaml", null)],
      preserve: ["eve"],
      settings: { ...settings, preserveEntries: ["eve"] },
      previousSettings: settings,
    });
    expect(p.lines).toEqual([
      "! eve: now in preserveEntries: its entry stays, with its access, and is no longer checked, on /srv/api.yaml (admin)",
      "~ svc-backup: no longer in preserveEntries: this stack manages (and removes) its entry",
    ]);
  });

  it("names the vault organization, the delivery directory and ml config values that change", () => {
    const p = plan({
      users: [alice, bob],
      previousUsers: previous,
      settings: {
        ...settings,
        deliveryDir: "/srv/handover",
        client: { ...settings.client, apiUrl: "wss://evil.example/ws" },
        bitwardenOrganization: "org-2",
      },
      previousSettings: { ...settings, bitwardenOrganization: "org-1" },
    });
    expect(p.lines).toEqual([
      "~ vault organization org-1 -> org-2: items are created in the new one, then removed from the old",
      "~ deliveryDir (none) -> /srv/handover: direct users' ml configs (with their keys) are written there",
      `~ ml config apiUrl "ws://localhost:9100/ws" -> "wss://evil.example/ws": every user's ~/.ml/config.toml, where their ml CLI sends its key`,
    ]);
  });

  it("names a changed bitwarden.cli, old -> new, as what runs with the vault session", () => {
    const vault = { ...settings, bitwardenOrganization: "org-1" };
    const p = plan({
      users: [alice, bob],
      previousUsers: previous,
      settings: { ...vault, bitwardenCli: "./tools/bw" },
      previousSettings: vault,
    });
    expect(p.lines).toEqual([
      '~ bitwarden.cli (the pinned @bitwarden/cli) -> "./tools/bw": the vault step runs it with the vault session (and BW_PASSWORD, BW_CLIENTSECRET when unattended)',
    ]);
    const same = plan({ users: [alice, bob], previousUsers: previous, settings: vault, previousSettings: vault });
    expect(same.lines).toEqual([]);
  });

  it("names the vault items' name prefix and what happens to a revoked user's item, old -> new (attack41 F5: neither was said)", () => {
    const vault = {
      ...settings,
      bitwardenOrganization: "org-1",
      bitwardenItemPrefix: "FetchML API",
      bitwardenOnRevoke: "trash",
      bitwardenRepair: 0,
    };
    const p = plan({
      users: [alice, bob],
      previousUsers: previous,
      settings: { ...vault, bitwardenItemPrefix: "Shared team login", bitwardenOnRevoke: "delete" },
      previousSettings: vault,
    });
    expect(p.lines).toEqual([
      '~ bitwarden.itemPrefix "FetchML API" -> "Shared team login": every Bitwarden user\'s item is named "Shared team login <user>"',
      "~ bitwarden.onRevoke trash -> delete: a revoked user's item is deleted for good",
    ]);
    // A 1.0.0 record has neither: what this run uses is said (recheck43 F10: a change that came with the upgrade was silent).
    const recordedBy100: PreviousSettings = { ...vault };
    delete recordedBy100.bitwardenItemPrefix;
    delete recordedBy100.bitwardenOnRevoke;
    delete recordedBy100.bitwardenRepair;
    expect(plan({ users: [alice, bob], previousUsers: previous, settings: vault, previousSettings: recordedBy100 }).lines).toEqual([
      '~ bitwarden.itemPrefix (not recorded by the last run) -> "FetchML API": every Bitwarden user\'s item is named "FetchML API <user>"',
      "~ bitwarden.onRevoke (not recorded by the last run) -> trash: a revoked user's item goes to the vault's trash",
    ]);
  });

  it("names a raised bitwarden.repair: the up that reads every item back and writes again what drifted", () => {
    const vault = { ...settings, bitwardenOrganization: "org-1", bitwardenItemPrefix: "FetchML API", bitwardenOnRevoke: "trash" };
    const p = plan({ users: [alice, bob], previousUsers: previous, settings: { ...vault, bitwardenRepair: 1 }, previousSettings: vault });
    expect(p.lines).toEqual([
      "~ bitwarden.repair 0 -> 1: up reads every Bitwarden user's item back and writes again each one that is gone, trashed, " +
        "moved or changed by hand, with the key it has now (the vault is read during up, not in this preview)",
    ]);
    expect(
      plan({ users: [alice, bob], previousUsers: previous, settings: { ...vault, bitwardenRepair: 0 }, previousSettings: vault }).lines,
    ).toEqual([]);
  });

  it("says which bw runs with the vault session when there is nothing to compare: a first run, a 1.0.0 record, a new vault", () => {
    const vault = { ...settings, bitwardenOrganization: "org-1", bitwardenCli: "/usr/bin/bw" };
    const first = plan({ users: [alice, bob], settings: vault });
    expect(first.lines).toEqual([
      "+ alice (admin): new key",
      "+ bob (researcher): new key",
      '+ bitwarden.cli "/usr/bin/bw": the vault step runs it with the vault session (and BW_PASSWORD, BW_CLIENTSECRET when unattended)',
    ]);
    // 1.0.0's settings output has no bitwardenCli: said as a change, never passed silently.
    const recordedBy100: Omit<typeof vault, "bitwardenCli"> & { bitwardenCli?: string } = { ...vault };
    delete recordedBy100.bitwardenCli;
    const upgraded = plan({ users: [alice, bob], previousUsers: previous, settings: vault, previousSettings: recordedBy100 });
    expect(upgraded.lines).toEqual([
      '~ bitwarden.cli (not recorded by the last run) -> "/usr/bin/bw": the vault step runs it with the vault session (and BW_PASSWORD, BW_CLIENTSECRET when unattended)',
    ]);
    const newVault = plan({
      users: [alice, bob],
      previousUsers: previous,
      settings: { ...vault, bitwardenCli: null },
      previousSettings: settings,
    });
    expect(newVault.lines).toContain(
      "~ bitwarden.cli (no vault) -> (the pinned @bitwarden/cli): the vault step runs it with the vault session (and BW_PASSWORD, BW_CLIENTSECRET when unattended)",
    );
    // No vault, no vault step: nothing to say.
    expect(plan({ users: [alice, bob], previousUsers: previous, settings }).lines).toEqual([]);
  });

  it("names a server file's new owner and group, old -> new, as who can read the hashes", () => {
    const label = "gpu (x@10.0.0.9:22:/etc/api.yaml)";
    const server = (owner: string | null, group: string | null) => ({ ...target("server-gpu", label), ownership: { owner, group } });
    const recorded = (owner: string | null, group: string | null) => ({ ...was("server-gpu", label, null), owner, group });
    const changed = plan({
      users: [alice, bob],
      previousUsers: previous,
      targets: [server("root", "users")],
      previousTargets: [recorded(null, null)],
    });
    expect(changed.lines).toEqual([
      `~ ${label}: owner (kept as found) -> root:users: each write gives the file to root:users, its mode kept: whoever that lets read it reads the hashes`,
    ]);
    const group = plan({
      users: [alice, bob],
      previousUsers: previous,
      targets: [server("root", "users")],
      previousTargets: [recorded("root", "fetchml")],
    });
    expect(group.lines).toEqual([
      `~ ${label}: owner root:fetchml -> root:users: each write gives the file to root:users, its mode kept: whoever that lets read it reads the hashes`,
    ]);
    const dropped = plan({
      users: [alice, bob],
      previousUsers: previous,
      targets: [server(null, null)],
      previousTargets: [recorded("root", "users")],
    });
    expect(dropped.lines).toEqual([`~ ${label}: owner root:users -> (kept as found): writes no longer change it`]);
    const same = plan({
      users: [alice, bob],
      previousUsers: previous,
      targets: [server("root", "users")],
      previousTargets: [recorded("root", "users")],
    });
    expect(same.lines).toEqual([]);
  });

  it("names a server's login changing (the target itself the same), as whom the reload command and the writes now run", () => {
    // attack42 5: fetchml -> root kept the identity (host key, real path) and the command text: no line at all.
    const identity = "ssh:SHA256:abc:/etc/fetchml/api.yaml";
    const server = (login: string) => ({
      resourceName: "server-box",
      reading: reading([alice, bob], {}, { label: `box (${login}@10.0.0.5:22:/etc/fetchml/api.yaml)`, identity }),
      reload: { command: "sudo -n /usr/local/sbin/fetchml-reload", where: `as ${login} on 10.0.0.5` },
    });
    const recorded = {
      ...was("server-box", "box (fetchml@10.0.0.5:22:/etc/fetchml/api.yaml)", "sudo -n /usr/local/sbin/fetchml-reload"),
      identity,
    };
    const changed = plan({ users: [alice, bob], previousUsers: previous, targets: [server("root")], previousTargets: [recorded] });
    expect(changed.lines).toEqual([
      "~ box (root@10.0.0.5:22:/etc/fetchml/api.yaml): logs in as root (was fetchml): the reload command and every write there run as root",
    ]);
    const same = plan({ users: [alice, bob], previousUsers: previous, targets: [server("fetchml")], previousTargets: [recorded] });
    expect(same.lines).toEqual([]);
  });

  it("names a server reached at another address with the same host key and file (a clone answers with that key too; attack45 F6)", () => {
    const identity = "ssh:SHA256:abc:/etc/fetchml/api.yaml";
    const at = (address: string, login = "fetchml") => ({
      resourceName: "server-box",
      reading: reading([alice, bob], {}, { label: `box (${login}@${address}:/etc/fetchml/api.yaml)`, identity }),
      reload: { command: "true", where: `as ${login} on ${address}` },
    });
    const recorded = { ...was("server-box", "box (fetchml@10.0.0.5:22:/etc/fetchml/api.yaml)", "true"), identity };
    const moved = plan({ users: [alice, bob], previousUsers: previous, targets: [at("10.0.0.9:22")], previousTargets: [recorded] });
    expect(moved.lines).toEqual([
      "~ box (fetchml@10.0.0.9:22:/etc/fetchml/api.yaml): was reached as box (fetchml@10.0.0.5:22:/etc/fetchml/api.yaml); the same host " +
        "key and file answer at the new address, so up writes every hash there as to the same server (a machine cloned from it answers " +
        "with the same host key: make sure it is that server)",
    ]);
    // A login change alone has its own line, and the same address none.
    expect(
      plan({ users: [alice, bob], previousUsers: previous, targets: [at("10.0.0.5:22", "root")], previousTargets: [recorded] }).lines,
    ).toHaveLength(1);
    expect(plan({ users: [alice, bob], previousUsers: previous, targets: [at("10.0.0.5:22")], previousTargets: [recorded] }).lines).toEqual(
      [],
    );
  });

  it("says a server file's owner when there is nothing to compare: a first run, a record from 1.0.0", () => {
    const label = "gpu (x@10.0.0.9:22:/etc/api.yaml)";
    const server = { ...target("server-gpu", label), ownership: { owner: "root", group: "users" } };
    const why = "each write gives the file to root:users, its mode kept: whoever that lets read it reads the hashes";
    expect(plan({ users: [alice, bob], targets: [server] }).lines).toEqual([
      "+ alice (admin): new key",
      "+ bob (researcher): new key",
      `+ ${label}: owner root:users: ${why}`,
    ]);
    const by100 = plan({
      users: [alice, bob],
      previousUsers: previous,
      targets: [server],
      previousTargets: [was("server-gpu", label, null)],
    });
    expect(by100.lines).toEqual([`+ ${label}: owner root:users (not recorded by the last run): ${why}`]);
    // Unset, the file keeps its owner: nothing to say.
    const unset = { ...server, ownership: { owner: null, group: null } };
    expect(
      plan({ users: [alice, bob], previousUsers: previous, targets: [unset], previousTargets: [was("server-gpu", label, null)] }).lines,
    ).toEqual([]);
  });

  it("names a Bitwarden user's collections, old -> new, and where a new one's key goes", () => {
    const vaultBob = user("bob", "researcher", { delivery: "bitwarden", collectionIds: ["everyone"] });
    const dan = user("dan", "researcher", { delivery: "bitwarden", collectionIds: ["dan-only"] });
    const p = plan({
      users: [vaultBob, dan],
      previousUsers: new Map([["bob", record(vaultBob, { collectionIds: ["bob-only"] })]]),
      keys: new Map<string, KeyPlan>([
        ["bob", { keeper: "0", autoRotations: 0 }],
        ["dan", { keeper: "0", autoRotations: 0, change: "new" }],
      ]),
    });
    expect(p.lines).toEqual([
      "~ bob: vault collections [bob-only] -> [everyone]: whoever can read [everyone] can read bob's key",
      "+ dan (researcher): new key",
      "+ dan: key goes to the vault, collections [dan-only] (an existing item of the user's name is used only if it is in these collections, and then cleared first)",
    ]);
  });

  it("warns about a collection that holds more than one user's item", () => {
    const a = user("alice", "admin", { delivery: "bitwarden", collectionIds: ["shared", "alice-only"] });
    const b = user("bob", "researcher", { delivery: "bitwarden", collectionIds: ["shared"] });
    const p = plan({
      users: [a, b],
      previousUsers: new Map([
        ["alice", record(a, { collectionIds: ["shared", "alice-only"] })],
        ["bob", record(b, { collectionIds: ["shared"] })],
      ]),
    });
    expect(p.lines).toEqual([
      "! vault collection shared holds the items of alice, bob: whoever can read it reads all their keys (give each user a collection of their own: users.<name>.bitwarden.collectionIds)",
    ]);
  });
});
