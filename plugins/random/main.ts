/** The offline `random` plugin: serves RandomPassword over the provider protocol. */
import * as provider from "@pulumi/pulumi/provider";
import { exitWithEngine } from "../shared/engineGone";
import { sdkVersion, urnType } from "../shared/properties";
import * as password from "./randomPassword";

function only(urn: string): void {
  if (urnType(urn) !== password.RANDOM_PASSWORD) {
    throw new Error(`offline random plugin: only ${password.RANDOM_PASSWORD} is implemented (got ${urn})`);
  }
}

const randomProvider: provider.Provider = {
  version: sdkVersion("@pulumi/random"),
  check: async (urn, _olds, news) => (only(urn), password.check(news)),
  diff: async (_id, urn, olds, news) => (only(urn), password.diff(olds, news)),
  create: async (urn, inputs) => (only(urn), password.create(inputs)),
  update: async (_id, urn, olds, news) => (only(urn), password.update(olds, news)),
  read: async (id, urn, props) => (only(urn), password.read(id, props ?? {})),
  delete: async () => {},
};

exitWithEngine();
provider.main(randomProvider, process.argv.slice(2));
