/**
 * Sends log lines to the engine (its Engine.Log RPC), attached to a resource, the way the
 * real command provider streams a command's output: they show in the `up` output under the
 * resource. Lines written to a plugin's own stderr are not shown by the engine.
 */
import * as grpc from "@grpc/grpc-js";

const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const engineProto = require("@pulumi/pulumi/proto/engine_pb");

export type Logger = (urn: string, text: string) => Promise<void>;

/** The engine's address is the plugin's first non-flag argument. */
export function engineLogger(args: string[]): Logger {
  const address = args.find((a) => !a.startsWith("-"));
  if (!address) return async () => {};
  const client = new engineRpc.EngineClient(address, grpc.credentials.createInsecure());
  return (urn, text) =>
    new Promise((resolve) => {
      const request = new engineProto.LogRequest();
      request.setSeverity(engineProto.LogSeverity.INFO);
      request.setMessage(text);
      request.setUrn(urn);
      request.setEphemeral(false);
      client.log(request, () => resolve());
    });
}
