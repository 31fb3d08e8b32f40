/**
 * attack48 L1: VaultCheck's stop() handed `held` to its first caller only; a second caller
 * returned at once, while the first was still stopping the serve. Both cases failed on bdb8036.
 * `bw` is test/support's stand-in, changed where said.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it, vi } from "vitest";

vi.mock("@pulumi/pulumi", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@pulumi/pulumi")>();
  class ResourceHook {
    constructor(
      readonly name: string,
      readonly callback: () => Promise<void>,
    ) {}
  }
  return { ...actual, ResourceHook };
});

import { closeVaultChecks, VaultCheck } from "../../../program/vaultCheck";
import { runCheck, useFakeBw } from "../../support/bitwarden/fakeServe";

const STACK = "organization/fetchml-keys/dev";
const fake = useFakeBw("a48-stop-", { session: "session-of-run-a", tmp: true });

/** The stand-in, with `from` replaced by `to` (it must be there). */
function changeStandIn(from: string, to: string): void {
  const text = fs.readFileSync(fake.bw, "utf8");
  expect(text).toContain(from);
  fs.writeFileSync(fake.bw, text.replace(from, to), { mode: 0o700 });
}
const SIGTERM_EXIT = 'process.on("SIGTERM", () => process.exit(0));';

describe("VaultCheck.close() and the check's own error path, racing a stop already under way", () => {
  it("a second close() (the runner's closeVaultChecks as index.ts's close runs) waits until the serve is gone", async () => {
    // bw serve takes 2 s to finish on SIGTERM (writing its data file, say).
    changeStandIn(SIGTERM_EXIT, 'process.on("SIGTERM", () => setTimeout(() => process.exit(0), 2000));');
    const check = new VaultCheck(STACK, fake.settings());
    await runCheck(check);
    expect(fake.serves()).toHaveLength(1);
    const first = check.close(); // index.ts: the vault step's output resolved
    await closeVaultChecks(); // the runner: its up() returned
    const servesThen = fake.serves();
    await first;
    // closeVaultChecks is "stops every check's serve in this process": none may run once it returns.
    expect(servesThen).toEqual([]);
  }, 20_000);

  it("keeps bw's lock while its bw serve still runs, when the serve's top process ends mid-check (a bitwarden.cli wrapper)", async () => {
    // bitwarden.cli: a wrapper that runs bw as its child (no exec). At the check's own /status
    // (its second request) the wrapper ends (here: bw kills it; OOM or a stray kill alike) and
    // the request is cut; bw itself takes 3 s to finish on SIGTERM.
    changeStandIn(
      "if (++served === exitAt) process.exit(0);",
      'if (++served === exitAt) { process.kill(process.ppid, "SIGKILL"); q.socket.destroy(); return; }',
    );
    changeStandIn(SIGTERM_EXIT, 'process.on("SIGTERM", () => setTimeout(() => process.exit(0), 3000));');
    fs.writeFileSync(path.join(fake.dir, "exit-at"), "2");
    const wrapper = path.join(fake.dir, "bw-wrapper");
    fs.writeFileSync(wrapper, `#!/bin/sh\n${JSON.stringify(fake.bw)} "$@"\n`, { mode: 0o700 });
    const check = new VaultCheck(STACK, { ...fake.settings(), cli: wrapper });
    const outcome = await runCheck(check).then(
      () => "passed",
      (e: Error) => e.message,
    );
    const servesThen = fake.serves();
    const lockFreeThen = await fake.lockFree();
    await check.close();
    await new Promise((r) => setTimeout(r, 4000));
    // One bw at a time: the lock may go only once no bw serve of this check runs.
    expect(outcome).not.toBe("passed");
    expect(servesThen.length === 0 || !lockFreeThen, `${servesThen.length} serve(s) running, lock free: ${lockFreeThen}`).toBe(true);
  }, 30_000);
});
