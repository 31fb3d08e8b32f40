/**
 * The delivery step's twin of replaceKill.test.ts: `up --replace <delivery step urn>` SIGKILLed
 * after the new step wrote the manifest (its writer id) and before the engine saved the
 * replacement. A later destroy then deleted no delivered file, every user's key left on disk
 * (attack42, 4 of 5). Now the manifest names the step the new one took over from until that
 * one's delete has run: still there, the next preview names it and the next up rewrites it,
 * and the runner refuses a destroy until then.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { runRunner } from "../support/runner";

let e2e: E2EStack;
let deliveryDir: string;
const manifest = () => path.join(deliveryDir, ".fetchml-keys-delivery");
const writerOf = () => {
  try {
    return /^# writer (\S+)$/m.exec(fs.readFileSync(manifest(), "utf8"))?.[1];
  } catch {
    return undefined;
  }
};
const delivered = () =>
  fs
    .readdirSync(deliveryDir)
    .filter((f) => f.endsWith(".toml"))
    .sort();

beforeAll(async () => {
  e2e = await E2EStack.create({});
  const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  deliveryDir = path.join(e2e.dir, "handover");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  e2e.setConfig({
    authConfigPath: serverFile,
    deliveryDir,
    preserveEntries: ["svc-backup"],
    users: { alice: { role: "admin" }, bob: { role: "researcher" } },
  });
  await e2e.up();
});
afterAll(async () => {
  await e2e?.cleanup();
});

describe("a killed --replace of the delivery step", () => {
  it("leaves nothing that stops a later destroy from deleting the delivered files", async () => {
    expect(delivered()).toEqual(["alice.toml", "bob.toml"]);
    const oldWriter = writerOf();
    const { killed, outcome } = await e2e.replaceKilledWhen("::delivery-files", () => {
      const w = writerOf();
      return w !== undefined && w !== oldWriter;
    });
    expect(killed, "killed once the new writer's manifest was written").toBeGreaterThan(0);
    expect(outcome, "the kill landed before the up finished").toBe("failed");
    await e2e.stack.cancel();
    // The runner's destroy straight after the kill refuses, and says why and what to run.
    const refused = await runRunner(["destroy", "--yes", "--stack", e2e.name], { env: e2e.env });
    expect(refused.code, refused.all).toBe(1);
    expect(refused.stderr).toContain("its list of delivered files says a replacement of the delivery step did not finish");
    expect(delivered()).toEqual(["alice.toml", "bob.toml"]);
    expect([...(await e2e.summary())]).toContain(
      `! ${fs.realpathSync(deliveryDir)}: its list of delivered files says a replacement of the delivery step did not finish (a run was interrupted): up writes it again, so that destroy takes the files off`,
    );
    await e2e.up();
    const n = e2e.log.length;
    await e2e.destroy();
    const log = e2e.log
      .slice(n)
      .join("")
      .split("\n")
      .filter((l) => /handover|removed|nothing/.test(l))
      .join("\n");
    expect(delivered(), `after destroy:\n${log}`).toEqual([]);
  });
});
