/** The stack's settings, read from the engine's config and validated whole before anything is read or declared: a bad config changes nothing. */
import * as pulumi from "@pulumi/pulumi";
import { exposureProblems } from "../config/exposure";
import { ConfigError } from "../config/problems";
import { readNamespace, stackFileName, strayKeys } from "../config/rawConfig";
import { parseSettings, type Settings } from "../config/settings";
import { refusal } from "./refusal";

export function loadSettings(): Settings {
  try {
    const config = pulumi.runtime.allConfig();
    const settings = parseSettings(readNamespace(config), strayKeys(Object.keys(config)));
    const exposed = exposureProblems(settings, pulumi.getStack());
    if (exposed.length > 0) throw new ConfigError(exposed);
    return settings;
  } catch (e) {
    // Named by its file: the engine's own framing around a program's error never says which file.
    if (e instanceof ConfigError) throw refusal(`${stackFileName(pulumi.getStack())}: ${e.message}`);
    throw e;
  }
}
