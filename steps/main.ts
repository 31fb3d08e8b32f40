/**
 * The one entry point of every step the program's commands run: `bin/fetchml-keys-step
 * <step>`, the command string kept in state, which never changes when files move. The
 * request comes on stdin (checked against the step's schema); the result, if any, goes to
 * stdout as JSON; what the step did goes to stderr, one line each, names only.
 */
import { authRemove, authRevoke, authRevokeRequest, authWrite, authWriteRequest } from "./auth";
import { deliveryRemove, deliveryRequest, deliveryWrite } from "./delivery";
import { readRequest, safeMessage } from "./io";
import { STEPS, type StepName } from "./protocol";
import { vaultRequest, vaultStep } from "./vault";

/** The previous run's result, which the command provider hands to update and delete. */
const previous = process.env.PULUMI_COMMAND_STDOUT;

async function main(step: StepName): Promise<unknown> {
  switch (step) {
    case "auth-revoke":
      return authRevoke(await readRequest(authRevokeRequest));
    case "auth-write":
      return authWrite(await readRequest(authWriteRequest), previous);
    case "auth-remove":
      return authRemove(await readRequest(authWriteRequest), previous);
    case "vault-write":
      return vaultStep(await readRequest(vaultRequest), "write", previous);
    case "vault-remove":
      return vaultStep(await readRequest(vaultRequest), "remove", previous);
    case "delivery-write":
      return deliveryWrite(await readRequest(deliveryRequest), previous);
    case "delivery-remove":
      return deliveryRemove(await readRequest(deliveryRequest), previous);
  }
}

const step = process.argv[2] as StepName;
if (!STEPS.includes(step)) {
  process.stderr.write(`fetchml-keys-step: unknown step "${step}" (expected ${STEPS.join(", ")})\n`);
  process.exit(2);
}
main(step).then(
  (result) => {
    if (result !== undefined) process.stdout.write(JSON.stringify(result) + "\n");
  },
  (e: unknown) => {
    process.stderr.write(`${step}: ${safeMessage(e)}\n`);
    process.exit(1);
  },
);
