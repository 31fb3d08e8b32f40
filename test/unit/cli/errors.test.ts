import { describe, expect, it } from "vitest";
import { explainFailure } from "../../../cli/errors";

const failure = (stderr: string) =>
  `code: -2\n stdout: \n stderr: Command failed with exit code 255: pulumi up\n${stderr}\n err?: Error: Command failed`;

describe("explainFailure", () => {
  it("shows the engine's own message for a wrong passphrase, and what to do", () => {
    const e = explainFailure(failure("error: getting stack configuration: get stack secrets manager: incorrect passphrase"), "prod");
    expect(e.errors).toEqual(["getting stack configuration: get stack secrets manager: incorrect passphrase"]);
    expect(e.hint).toBe("set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to stack prod's passphrase, then run it again");
  });

  it("says how to release the lock a killed run left", () => {
    const e = explainFailure(
      failure(
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n  file:///x/.pulumi/locks/organization/fetchml-keys/dev/1.json: created by root@vm (pid 12) at 2026-11-26T10:00:00Z",
      ),
      "dev",
    );
    expect(e.errors).toEqual([
      "the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n" +
        "  file:///x/.pulumi/locks/organization/fetchml-keys/dev/1.json: created by root@vm (pid 12) at 2026-11-26T10:00:00Z",
    ]);
    expect(e.hint).toBe(
      "if no other run of stack dev is going on (a killed one leaves the lock), release it: npm run -s keys -- cancel --stack dev",
    );
  });

  it("prints each line once, without the engine's closing summary", () => {
    const e = explainFailure(
      failure(
        "error: refusing to take access from more than 50% ...\nerror: refusing to take access from more than 50% ...\nerror: update failed",
      ),
      "dev",
    );
    expect(e.errors).toEqual(["refusing to take access from more than 50% ..."]);
    expect(e.hint).toMatch(/--allow-mass-revocation/);
  });

  it("for a move, says to check the path first, and to override only once FetchML reads the new file", () => {
    const e = explainFailure(
      failure(
        "error: refusing to take access from more than 50% of a target's key holders: 2 of 2 on /srv/api.yaml (100%, the target moves): a, b.",
      ),
      "lab",
    );
    expect(e.hint).toMatch(
      /^check the path in stacks\/Pulumi\.lab\.yaml: it must name the file FetchML reads\. Only once FetchML reads the new file/,
    );
  });

  it("falls back on the first meaningful line of anything else", () => {
    expect(explainFailure("spawn pulumi ENOENT", "dev")).toEqual({ errors: ["spawn pulumi ENOENT"] });
  });
});
