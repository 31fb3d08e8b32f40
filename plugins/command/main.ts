/** The offline `command` plugin: serves local.Command over the provider protocol. */
import * as provider from "@pulumi/pulumi/provider";
import { exitWithEngine } from "../shared/engineGone";
import { engineLogger } from "../shared/engineLog";
import { sdkVersion, urnType } from "../shared/properties";
import * as local from "./localCommand";

function only(urn: string): void {
  if (urnType(urn) !== local.LOCAL_COMMAND) {
    throw new Error(`offline command plugin: only ${local.LOCAL_COMMAND} is implemented (got ${urn})`);
  }
}

const args = process.argv.slice(2);
const log = engineLogger(args);
const sink = (urn: string) => (text: string) => log(urn, text);

const commandProvider: provider.Provider = {
  version: sdkVersion("@pulumi/command"),
  check: async (urn, _olds, news) => (only(urn), { inputs: news, failures: [] }),
  diff: async (_id, urn, olds, news) => (only(urn), local.diff(olds, news)),
  create: async (urn, inputs) => (only(urn), local.create(inputs, sink(urn))),
  update: async (_id, urn, olds, news) => (only(urn), local.update(olds, news, sink(urn))),
  // A refresh changes nothing: a command's effects cannot be read back.
  read: async (id, urn, props) => (only(urn), { id, props, inputs: local.inputsOf(props ?? {}) }),
  delete: async (_id, urn, props) => (only(urn), local.remove(props, sink(urn))),
};

exitWithEngine(() => {
  for (const child of local.running) child.kill("SIGTERM");
});
provider.main(commandProvider, args);
