/**
 * What is in the delivery directory now, read by the program at preview and at up (read-only),
 * like a target: the directory is its real path, so another spelling of it changes nothing,
 * and a delivered file that was deleted or changed by hand is drift the preview shows and up
 * repairs. File contents stay in this process as digests only (they hold keys).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { AdminError } from "../lib/adminError";
import { type DeliveryReading, fileDigest } from "../lib/deliveryPlan";
import { MANIFEST, parseManifest } from "../steps/delivery";

/** Why a delivery directory cannot be used, in one plain line (the program refuses with it). */
export class DeliveryDirError extends AdminError {}

export function readDelivery(configured: string, files: readonly string[]): DeliveryReading {
  const dir = realDirectory(configured);
  const digests = new Map<string, string>();
  for (const file of files) {
    const full = path.join(dir, file);
    const st = fs.lstatSync(full, { throwIfNoEntry: false });
    if (st?.isFile() && st.uid === process.getuid!()) digests.set(file, fileDigest(fs.readFileSync(full, "utf8")));
  }
  const manifest = parseManifest(readIfFile(path.join(dir, MANIFEST)));
  return {
    dir,
    digests,
    ...(manifest ? { manifest: manifest.files } : {}),
    ...(manifest?.stack ? { stack: manifest.stack } : {}),
    ...(manifest?.replaced ? { unfinishedReplacement: true } : {}),
  };
}

function realDirectory(configured: string): string {
  const resolved = path.resolve(configured);
  const problem = (what: string) => new DeliveryDirError(`deliveryDir ${configured}: ${what}`);
  try {
    const real = fs.realpathSync(resolved);
    if (!fs.statSync(real).isDirectory()) throw problem("is not a directory; name a directory (it is created 0700 if missing)");
    return real;
  } catch (e) {
    if (e instanceof DeliveryDirError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENAMETOOLONG") throw problem("the path is too long (Linux takes at most 4095 bytes, and 255 for each name)");
    if (code === "ENOTDIR") throw problem("a part of the path is a file, not a directory");
    if (code !== "ENOENT") throw problem(`cannot be read (${code ?? (e as Error).message})`);
  }
  const parent = path.dirname(resolved);
  try {
    return path.join(fs.realpathSync(parent), path.basename(resolved));
  } catch {
    throw problem(`its parent ${parent} does not exist; create it (the directory itself is created 0700)`);
  }
}

function readIfFile(file: string): string | undefined {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st?.isFile() ? fs.readFileSync(file, "utf8") : undefined;
}
