import { describe, expect, it } from "vitest";
import { missingTargets, type MissingCheck } from "../../../lib/missingTarget";

const local = (over: Partial<MissingCheck> = {}): MissingCheck => ({
  resourceName: "auth-config",
  label: "/srv/apii.yaml",
  setting: "authConfigPath",
  createIfMissing: false,
  reading: { identity: "/srv/apii.yaml", exists: false },
  ...over,
});
const FILE = "stacks/Pulumi.lab.yaml";

describe("missingTargets", () => {
  it("refuses a file that does not exist, naming the path, the stack file and the setting that allows creating it", () => {
    expect(missingTargets([local()], [], FILE)).toEqual([
      "authConfigPath: /srv/apii.yaml does not exist. Check authConfigPath in stacks/Pulumi.lab.yaml: it must name the file FetchML reads. " +
        "If this stack is to create it, set fetchml-keys:createIfMissing: true there.",
    ]);
  });

  it("on an existing stack whose entries are elsewhere, says check the path and how to move safely, never to create it or override the guard", () => {
    const [problem] = missingTargets(
      [local()],
      [{ name: "auth-config", label: "/srv/api.yaml", identity: "/srv/api.yaml", managed: ["alice", "bob"] }],
      FILE,
    );
    expect(problem).toMatch(
      /^authConfigPath: \/srv\/apii\.yaml does not exist, and at the last run this stack's entries \(alice, bob\) were in \/srv\/api\.yaml\. Check authConfigPath in stacks\/Pulumi\.lab\.yaml/,
    );
    expect(problem).toContain("cp -p /srv/api.yaml /srv/apii.yaml");
    expect(problem).not.toMatch(/createIfMissing|--allow-mass-revocation/);
  });

  it("names a server's own settings", () => {
    const [problem] = missingTargets(
      [
        local({
          resourceName: "server-a",
          label: "a (u@h:22:/x.yaml)",
          setting: "servers[1].configPath",
          reading: { identity: "ssh:k:/x.yaml", exists: false },
        }),
      ],
      [],
      FILE,
    );
    expect(problem).toMatch(
      /^servers\[1\]\.configPath: a \(u@h:22:\/x\.yaml\) does not exist\. .*set createIfMissing: true in servers\[1\] there\.$/,
    );
  });

  it("lets pass a file that exists, one allowed to be created, and a server that cannot be reached now", () => {
    expect(
      missingTargets(
        [
          local({ reading: { identity: "/srv/api.yaml", exists: true } }),
          local({ createIfMissing: true }),
          local({ reading: { exists: false, unreachable: "ECONNREFUSED" } }),
        ],
        [],
        FILE,
      ),
    ).toEqual([]);
  });
});
