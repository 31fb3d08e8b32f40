/** vitest global setup for the end-to-end project: the engine must exist, or the run fails. */
import { ensureEngine } from "../../cli/engine";

export default function setup(): void {
  const engine = ensureEngine();
  process.stderr.write(`e2e: engine pulumi ${engine.version} at ${engine.binary}\n`);
}
