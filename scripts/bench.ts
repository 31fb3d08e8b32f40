/**
 * Benchmarks: prints measured figures, asserts nothing (performance goals live here, not in
 * timed tests). Run with `npm run bench` (needs the engine; builds it if missing).
 *
 *   merge      mergeAuthConfig on a server config with N users (pure, in-process)
 *   engine     real-engine ups of a stack with N users: first up, no-change up, one rotation
 *   vault      the same with Bitwarden delivery against the test server (real bw)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { ROLE_PRESETS } from "../config/roles";
import { mergeAuthConfig } from "../lib/mergeAuthConfig";
import { BW_DEFAULT, BwCli } from "../test/support/bitwarden/bwCli";
import { BitwardenTestServer } from "../test/support/bitwarden/server";
import { E2EStack } from "../test/support/e2eStack";
import { SERVER_CONFIG } from "../test/support/fixtures";

const which = new Set(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["merge", "engine", "vault"]);

function hex(i: number, salt: number): string {
  return (i.toString(16).padStart(8, "0") + salt.toString(16).padStart(8, "0")).repeat(4);
}

async function timed<T>(label: string, work: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  const result = await work();
  console.log(`${label.padEnd(48)} ${((performance.now() - start) / 1000).toFixed(2)} s`);
  return result;
}

function benchMerge(): void {
  for (const n of [10, 100, 1000]) {
    const entries = new Map(
      Array.from({ length: n }, (_, i) => [`user${i}`, { hash: hex(i, 1), ...structuredClone(ROLE_PRESETS.researcher) }]),
    );
    const first = mergeAuthConfig(SERVER_CONFIG, entries, ["svc-backup"]).text;
    const rotated = new Map(entries).set("user0", { ...entries.get("user0")!, hash: hex(0, 2) });
    const runs = 20;
    const start = performance.now();
    for (let r = 0; r < runs; r++) mergeAuthConfig(first, rotated, ["svc-backup"]);
    console.log(
      `merge: ${String(n).padStart(4)} users, one rotated                 ${((performance.now() - start) / runs).toFixed(2)} ms per merge`,
    );
  }
}

async function benchEngine(users: number, bitwarden: boolean): Promise<void> {
  const label = bitwarden ? "vault" : "engine";
  let server: BitwardenTestServer | undefined;
  let bw: BwCli | undefined;
  const e2e = await E2EStack.create({});
  try {
    const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    fs.writeFileSync(serverFile, SERVER_CONFIG, { mode: 0o600 });
    const config: Record<string, any> = {
      authConfigPath: serverFile,
      preserveEntries: ["svc-backup"],
      users: Object.fromEntries(
        Array.from({ length: users }, (_, i) => [`user${i}`, { role: "researcher", delivery: bitwarden ? "bitwarden" : "direct" }]),
      ),
    };
    if (bitwarden) {
      server = await BitwardenTestServer.start();
      const { account, organization } = server.seed();
      bw = new BwCli(server.url, server.caFile, BW_DEFAULT);
      await bw.configure();
      await bw.loginWithPassword(account.email, account.password);
      for (const [name, value] of Object.entries({
        BW_SESSION: bw.session,
        BITWARDENCLI_APPDATA_DIR: bw.dataDir,
        NODE_EXTRA_CA_CERTS: server.caFile,
      })) {
        e2e.setProgramEnv(name, value);
      }
      config.bitwarden = { organizationId: organization.id, collectionIds: [organization.collections.FetchML] };
    }
    e2e.setConfig(config);
    await timed(`${label}: first up, ${users} users`, () => e2e.up());
    await timed(`${label}: no-change up, ${users} users`, () => e2e.up());
    config.users.user0.rotation = 1;
    e2e.setConfig(config);
    await timed(`${label}: rotate one of ${users} users`, () => e2e.up());
  } finally {
    await e2e.cleanup();
    bw?.cleanup();
    await server?.stop();
  }
}

(async () => {
  if (which.has("merge")) benchMerge();
  if (which.has("engine")) for (const n of [3, 25]) await benchEngine(n, false);
  if (which.has("vault")) await benchEngine(25, true);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
