/**
 * actionlint (github.com/rhysd/actionlint), built once from the Go module proxy into the
 * same cache as the engine. Missing Go is a failure, not a skip.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const ACTIONLINT_VERSION = "v1.7.12";

export function ensureActionlint(): string {
  const root = process.env.FETCHML_KEYS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "fetchml-keys");
  const dir = path.join(root, `actionlint-${ACTIONLINT_VERSION}`);
  const binary = path.join(dir, "actionlint");
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(dir, { recursive: true });
  process.stderr.write(`building actionlint ${ACTIONLINT_VERSION} from its Go module into ${dir}\n`);
  execFileSync("go", ["install", `github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}`], {
    env: { ...process.env, GOBIN: dir, CGO_ENABLED: "0" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return binary;
}
