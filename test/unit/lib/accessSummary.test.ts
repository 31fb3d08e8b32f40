import { describe, expect, it } from "vitest";
import { summarizeAccess } from "../../../lib/accessSummary";

const key = (user: string, op: string) => ({
  op,
  type: "random:index/randomPassword:RandomPassword",
  urn: `urn:pulumi:dev::fetchml-keys::fetchml:index:UserKey$random:index/randomPassword:RandomPassword::${user}-key`,
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
      ["~ bob: key rotated (rotation 1 -> 2)", "+ dave (analyst): new key"],
      [key("bob", "replace"), key("dave", "create"), key("erin", "replace"), key("carol", "same"), key("gone", "replace")],
      ["bob", "carol", "dave", "erin"],
    );
    expect(lines).toEqual([
      "~ bob: key rotated (rotation 1 -> 2)",
      "+ dave (analyst): new key",
      "~ erin: key replaced (asked for with --replace)",
    ]);
  });
});
