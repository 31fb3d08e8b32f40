import { describe, expect, it } from "vitest";
import { summarizeAccess } from "../../../lib/accessSummary";

const key = (user: string, op: string, name = `${user}-key`) => ({
  op,
  type: "random:index/randomPassword:RandomPassword",
  urn: `urn:pulumi:dev::fetchml-keys::fetchml:index:UserKeys$random:index/randomPassword:RandomPassword::${name}`,
});

describe("summarizeAccess", () => {
  it("keeps the program's plan lines, in order, once each, and drops other messages", () => {
    const lines = summarizeAccess([
      "+ dave (analyst): new key\n",
      "bitwarden: vault unlocked (a@b on c)",
      "- legacy: entry on /a.yaml is not declared by this stack: up removes it",
      "+ dave (analyst): new key",
      "! frank: key expires in 5 days (85 of max 90); the first up after that rotates it",
    ]);
    expect(lines).toEqual([
      "+ dave (analyst): new key",
      "- legacy: entry on /a.yaml is not declared by this stack: up removes it",
      "! frank: key expires in 5 days (85 of max 90); the first up after that rotates it",
    ]);
  });

  it("adds key replacements stack config does not explain (--replace), and only those", () => {
    const lines = summarizeAccess(
      ["~ bob: key rotated (rotation 1 -> 2)", "+ dave (analyst): new key", "- frank: access revoked"],
      [
        key("bob", "replace"),
        key("bob", "create-replacement"),
        key("bob", "delete-replaced"),
        key("dave", "create"),
        key("erin", "replace"),
        key("carol", "same"),
        key("frank", "delete"),
      ],
      ["bob", "carol", "dave", "erin"],
    );
    expect(lines).toEqual([
      "~ bob: key rotated (rotation 1 -> 2)",
      "+ dave (analyst): new key",
      "- frank: access revoked",
      "~ erin: key replaced (asked for with --replace)",
    ]);
  });

  // A pull request that renames the key resource: every key is created anew under the new name
  // and the old ones are deleted, while stack config (and so the plan) says nothing changed.
  it("says every key the engine creates or deletes that stack config does not explain", () => {
    const lines = summarizeAccess(
      [],
      [key("alice", "create"), key("alice", "delete", "alice-apikey"), key("gone", "replace"), key("carol", "delete")],
      ["alice", "carol"],
    );
    const why = "and stack config does not say why (renamed in the code, or changed in state?)";
    expect(lines).toEqual([
      "~ alice: new key (none in state under the name alice-key: renamed in the code, or removed from state?)",
      `! key alice-apikey: the engine deletes it, ${why}`,
      `! key gone-key: the engine replaces it, ${why}`,
      `! key carol-key: the engine deletes it, ${why}`,
    ]);
  });
});
