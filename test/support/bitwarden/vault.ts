/**
 * A vault for a test: the Bitwarden test server, an account and organization seeded in it, and
 * the real `bw` (the version delivery pins) logged in with its own data dir.
 */
import { BW_DEFAULT, BwCli } from "./bwCli";
import { BitwardenTestServer, type SeededAccount, type SeededOrganization } from "./server";

export interface TestVault {
  server: BitwardenTestServer;
  account: SeededAccount;
  org: SeededOrganization;
  bw: BwCli;
  /** What the admin's shell holds for a run: the session, bw's data dir, trust in the server. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startVault(collections = ["FetchML"]): Promise<TestVault> {
  const server = await BitwardenTestServer.start();
  const { account, organization: org } = server.seed({ collections });
  const bw = new BwCli(server.url, server.caFile, BW_DEFAULT);
  await bw.configure();
  await bw.loginWithPassword(account.email, account.password);
  return {
    server,
    account,
    org,
    bw,
    env: { BW_SESSION: bw.session, BITWARDENCLI_APPDATA_DIR: bw.dataDir, NODE_EXTRA_CA_CERTS: server.caFile },
    async stop() {
      bw.cleanup();
      await server.stop();
    },
  };
}
