/**
 * Run by the DirectShare component's command: writes one user's ml config as a 0600 file
 * (`write`) or deletes it (`remove`). Input on stdin: {"path", "content"}.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { removeFile, writeFileAtomic } from "../lib/atomicFile";
import { InputError, readStdinJson, runWriter } from "./io";

runWriter("write-secret-file", async (mode) => {
  const request = await readStdinJson<{ path: string; content: string }>();
  if (typeof request?.path !== "string" || typeof request.content !== "string") {
    throw new InputError("stdin lacks path or content");
  }
  const file = path.resolve(request.path);
  if (mode === "write") {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileAtomic(file, request.content);
    console.log(`wrote ${file}`);
  } else if (mode === "remove") {
    console.log(removeFile(file) ? `removed ${file}` : `${file} already absent`);
  } else {
    throw new InputError(`unknown mode "${mode}" (expected write or remove)`);
  }
});
