import { describe, expect, it } from "vitest";
import { summarizeAccess, type StepEvent } from "../../../lib/accessSummary";

const urn = (type: string, name: string) => `urn:pulumi:dev::fetchml-keys::${type}::${name}`;
const user = (op: string, name: string, before?: object, after?: object): StepEvent => ({
  op,
  type: "fetchml:index:User",
  urn: urn("fetchml:index:User", name),
  old: before && { inputs: before as Record<string, unknown> },
  new: after && { inputs: after as Record<string, unknown> },
});
const key = (op: string, name: string): StepEvent => ({
  op,
  type: "random:index/randomPassword:RandomPassword",
  urn: urn("fetchml:index:User$random:index/randomPassword:RandomPassword", `${name}-key`),
});
const analyst = { role: "analyst", admin: false, roles: ["analyst"], permissions: { "jobs:read": true, "jobs:create": false }, delivery: "direct", status: "active" };
const researcher = { ...analyst, role: "researcher", roles: ["researcher"], permissions: { "jobs:read": true, "jobs:create": true } };

describe("summarizeAccess", () => {
  it("names new users, rotations, role changes and revocations, in name order", () => {
    const lines = summarizeAccess([
      user("create", "dave", undefined, researcher),
      key("create", "dave"),
      user("same", "bob", analyst, analyst),
      key("replace", "bob"),
      user("update", "carol", analyst, researcher),
      user("delete", "erin", analyst, undefined),
      key("delete", "erin"),
    ]);
    expect(lines).toEqual([
      "~ bob: key rotated",
      "~ carol: analyst -> researcher",
      "+ dave (researcher): new key",
      "- erin: access revoked",
    ]);
  });

  it("reports suspensions, restorations and permission overrides", () => {
    expect(summarizeAccess([user("update", "carol", analyst, { ...analyst, status: "suspended" })])).toEqual(["- carol: suspended (key kept)"]);
    expect(summarizeAccess([user("update", "carol", { ...analyst, status: "suspended" }, analyst)])).toEqual(["+ carol: access restored"]);
    expect(
      summarizeAccess([user("update", "carol", analyst, { ...analyst, permissions: { "jobs:read": true, "jobs:create": true } })]),
    ).toEqual(["~ carol: jobs:create false -> true"]);
  });

  it("appends the program's expiry warnings and ignores other diagnostics", () => {
    expect(summarizeAccess([], ["! frank: key is 95 days old (max 90); rotating it now", "using pulumi-resource-random from $PATH"])).toEqual([
      "! frank: key is 95 days old (max 90); rotating it now",
    ]);
  });

  it("says nothing when nothing changes", () => {
    expect(summarizeAccess([user("same", "bob", analyst, analyst), key("same", "bob")])).toEqual([]);
  });
});
