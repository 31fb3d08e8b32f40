/**
 * An auth config on this machine. The configured path is followed to the real file (a
 * symlink is written through, never replaced by a regular file), so two spellings of one
 * file are one target.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readFileIfExists, removeFile, replaceFile } from "../lib/atomicFile";
import { assertSafePath } from "../lib/safePath";
import { recordPath } from "../lib/targetRecord";
import { childEnvironment, execute, firstLine } from "../lib/childProcess";
import { readConfigFile, pathError } from "./configFile";
import { placeOf, reloadFailed, TargetError, type TargetFiles, type TargetIO } from "./io";
import { type LocalTargetSpec, targetLabel } from "./spec";

export class LocalTarget implements TargetIO {
  readonly label: string;

  constructor(private readonly spec: LocalTargetSpec) {
    this.label = targetLabel(spec);
  }

  /** The real file: links followed; for a file not created yet, its real directory. */
  realPath(): string {
    // Every directory on the way closed to other accounts: nobody else can redirect the write.
    assertSafePath(this.spec.configPath, this.label);
    const configured = path.resolve(this.spec.configPath);
    try {
      return fs.realpathSync(configured);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw pathError(this.label, e);
    }
    if (isLink(configured)) throw new TargetError(`${this.label}: is a symbolic link to a file that does not exist`);
    try {
      return path.join(fs.realpathSync(path.dirname(configured)), path.basename(configured));
    } catch {
      throw new TargetError(`${this.label}: its directory ${path.dirname(configured)} does not exist`);
    }
  }

  /** The real path itself: two spellings of one file are one target. */
  async identity(): Promise<string> {
    return this.realPath();
  }

  async read(): Promise<TargetFiles> {
    const file = this.realPath();
    const config = readConfigFile(file, this.label);
    const st = statIfAny(file);
    return {
      config,
      record: readFileIfExists(recordPath(file)),
      ...placeOfFile(file, st),
      ...(config !== undefined && st ? { mode: st.mode & 0o7777 } : {}),
    };
  }

  async writeConfig(text: string, expected: string | undefined) {
    return replaceFile(this.realPath(), text, { expected });
  }

  async writeRecord(text: string | undefined) {
    const file = recordPath(this.realPath());
    if (text === undefined) removeFile(file);
    else replaceFile(file, text, { unchecked: true });
  }

  async reload() {
    if (!this.spec.reloadCommand) return;
    const r = await execute("/bin/sh", ["-c", this.spec.reloadCommand], { env: childEnvironment() });
    if (r.code !== 0) throw new TargetError(reloadFailed(this.label, r.code, firstLine(r.stderr || r.stdout)));
  }

  async close() {}
}

/** The file's stat, or undefined where it is not there or cannot be looked at. */
function statIfAny(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The file's place (targets/io.ts placeOf), from its stat `st`; none where the kernel's boot id cannot be read. */
function placeOfFile(file: string, st: fs.Stats | undefined): { place?: string } {
  try {
    const boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8");
    if (st) return { place: placeOf(boot, st.dev, st.ino) };
    const dir = fs.statSync(path.dirname(file));
    return { place: placeOf(boot, dir.dev, dir.ino, path.basename(file)) };
  } catch {
    return {};
  }
}

function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
