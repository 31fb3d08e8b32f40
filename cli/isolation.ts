/**
 * The runner's side of its isolation (scripts/isolated.sh, which bin/fetchml-keys and the npm
 * scripts start it through): the script marks the runner's environment FETCHML_KEYS_ISOLATED=1
 * (isolated) or 0 (it said why not). Unmarked, the runner was started some other way, and
 * says once what that exposes.
 */
export function isolationWarning(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FETCHML_KEYS_ISOLATED !== undefined) return undefined;
  return (
    "fetchml-keys: not isolated: started without scripts/isolated.sh (bin/fetchml-keys and npm run keys use it); " +
    "other local users can connect to the engine's and plugins' unauthenticated gRPC ports during this run (read the keys, run commands as you)"
  );
}
