/**
 * The user's side: `~/.ml/config.toml` for FetchML's `ml` CLI, in the flat form the seed
 * page shows. Rendered with a TOML library so quoting is never hand-rolled.
 */
import { stringify } from "smol-toml";
import type { ClientSettings } from "../config/settings";

export function renderMlConfig(apiKey: string, client: ClientSettings): string {
  return (
    stringify({
      api_key: apiKey,
      worker_host: client.workerHost,
      worker_port: client.workerPort,
      api_url: client.apiUrl,
    }).trimEnd() + "\n"
  );
}
