/**
 * The runner's command-line options, parsed strictly (an unknown option is an error), and
 * their type, which every command reads.
 */
import { parseArgs } from "node:util";

export function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      stack: { type: "string", short: "s" },
      yes: { type: "boolean", short: "y", default: false },
      diff: { type: "boolean", default: false },
      target: { type: "string", multiple: true },
      replace: { type: "string", multiple: true },
      "expect-no-changes": { type: "boolean", default: false },
      "allow-mass-revocation": { type: "boolean", default: false },
      "show-secrets": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      role: { type: "string" },
      delivery: { type: "string" },
      "no-up": { type: "boolean", default: false },
      out: { type: "string" },
      force: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

export type Options = ReturnType<typeof parseOptions>["values"];
