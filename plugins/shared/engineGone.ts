/**
 * A plugin ends with the engine that started it. The engine gives every plugin a pipe on
 * stdin and never writes to it, so its end means the engine is gone, however it ended
 * (SIGKILL included; the engine starts plugins in process groups of their own, so a kill
 * of the run's group does not reach them). A plugin left running would go on serving its
 * unauthenticated gRPC port to every local account, so it stops whatever it started and exits.
 */
import * as fs from "node:fs";

export function exitWithEngine(stopChildren: () => void = () => {}): void {
  let fromEngine = false;
  try {
    fromEngine = fs.fstatSync(0).isFIFO(); // run by hand (a terminal, /dev/null): no engine to watch
  } catch {
    return;
  }
  if (!fromEngine) return;
  const exit = () => {
    stopChildren();
    process.exit(0);
  };
  process.stdin.on("data", () => {});
  process.stdin.on("end", exit);
  process.stdin.on("error", exit);
}
