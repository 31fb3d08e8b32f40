/**
 * The offline Node.js language host (see plugins/README.md): serves the engine's
 * LanguageRuntime gRPC service and runs the program with @pulumi/pulumi's own `cmd/run`,
 * started the way the real host starts it (launch.ts). Used only where the real
 * `pulumi-language-nodejs` is not installed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { exitWithEngine } from "../shared/engineGone";
import { parseOptions, requiredPackages, runArguments, runEnvironment, runResult, type RunInput } from "./launch";

import type * as language from "@pulumi/pulumi/proto/language_pb";

// The generated gRPC code is plain JavaScript; its message types come from the .d.ts beside it.
const languageRpc = require("@pulumi/pulumi/proto/language_grpc_pb");
const languageProto = require("@pulumi/pulumi/proto/language_pb");
const pluginProto = require("@pulumi/pulumi/proto/plugin_pb");
// The Empty message from the same google-protobuf copy the generated code uses.
const emptyProto = require(
  require.resolve("google-protobuf/google/protobuf/empty_pb", { paths: [path.dirname(require.resolve("@pulumi/pulumi/package.json"))] }),
);

const HOST_VERSION = require("@pulumi/pulumi/package.json").version as string;

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

const argv = process.argv.slice(2);
if (argv.includes("-version") || argv.includes("--version")) {
  console.log(HOST_VERSION);
  process.exit(0);
}
const flagValue = (name: string) => {
  const i = argv.findIndex((a) => a === `-${name}` || a === `--${name}`);
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`-${name}=`) || a.startsWith(`--${name}=`))?.split("=")[1];
};
const tracing = flagValue("tracing") ?? "";
const positional = argv.filter((a, i) => !a.startsWith("-") && !(i > 0 && /^--?(tracing|runtime)$/.test(argv[i - 1])));
let engineAddress = positional[0] ?? "";
const running = new Set<ChildProcess>();

function unimplemented(method: string) {
  return (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: `method ${method} not implemented` });
}

function programInfo(info: language.ProgramInfo | undefined) {
  return {
    rootDirectory: info?.getRootDirectory() ?? "",
    programDirectory: info?.getProgramDirectory() ?? process.cwd(),
    entryPoint: info?.getEntryPoint() || ".",
    options: (info?.getOptions()?.toJavaScript() ?? {}) as Record<string, unknown>,
  };
}

/** `node -e require.resolve(...)` from the program directory, as the real host locates cmd/run. */
function locateRunPath(programDirectory: string): string {
  const override = process.env.PULUMI_LANGUAGE_NODEJS_RUN_PATH;
  return require.resolve(override || "@pulumi/pulumi/cmd/run", { paths: [programDirectory] });
}

const run: Unary<language.RunRequest, language.RunResponse> = (call, callback) => {
  const req = call.request;
  const info = programInfo(req.getInfo());
  const input: RunInput = {
    monitorAddress: req.getMonitorAddress(),
    engineAddress,
    organization: req.getOrganization(),
    project: req.getProject(),
    stack: req.getStack(),
    rootDirectory: info.rootDirectory,
    programDirectory: info.programDirectory,
    entryPoint: info.entryPoint,
    dryRun: req.getDryrun(),
    parallel: req.getParallel(),
    tracing,
    args: req.getArgsList(),
    config: Object.fromEntries(req.getConfigMap().entries()),
    configSecretKeys: req.getConfigsecretkeysList(),
    options: info.options,
  };
  const reply = (error: string, bail = false) => {
    const response = new languageProto.RunResponse();
    response.setError(error);
    response.setBail(bail);
    callback(null, response);
  };
  let args: string[];
  let env: NodeJS.ProcessEnv;
  let runPath: string;
  try {
    runPath = locateRunPath(info.programDirectory);
    args = runArguments(input, runPath);
    env = runEnvironment(input, process.env);
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND";
    return reply(missing ? "It looks like the Pulumi SDK has not been installed. Have you run pulumi install?" : (e as Error).message);
  }
  // `node` from PATH, like the real host; the program's output goes where ours goes (the engine).
  const child = spawn("node", args, { env, stdio: ["ignore", "inherit", "inherit"] });
  running.add(child);
  child.on("error", (e) => {
    running.delete(child);
    reply(`Problem executing program (could not run language executor): ${e.message}`);
  });
  child.on("exit", (code, signal) => {
    running.delete(child);
    const result = runResult(code, signal);
    reply(result.error, result.bail);
  });
};

const getRequiredPackages: Unary<language.GetRequiredPackagesRequest, language.GetRequiredPackagesResponse> = (call, callback) => {
  const info = programInfo(call.request.getInfo());
  const response = new languageProto.GetRequiredPackagesResponse();
  for (const dep of requiredPackages(info.programDirectory)) {
    const pkg = new pluginProto.PackageDependency();
    pkg.setName(dep.name);
    pkg.setKind(dep.kind);
    pkg.setVersion(dep.version);
    pkg.setServer(dep.server);
    response.addPackages(pkg);
  }
  callback(null, response);
};

const getPluginInfo: Unary<unknown, unknown> = (_call, callback) => {
  const response = new pluginProto.PluginInfo();
  response.setVersion(HOST_VERSION);
  callback(null, response);
};

const handshake: Unary<language.LanguageHandshakeRequest, language.LanguageHandshakeResponse> = (call, callback) => {
  engineAddress = call.request.getEngineAddress() || engineAddress;
  callback(null, new languageProto.LanguageHandshakeResponse());
};

const about: Unary<language.AboutRequest, language.AboutResponse> = (call, callback) => {
  const info = programInfo(call.request.getInfo());
  parseOptions(info.options);
  const response = new languageProto.AboutResponse();
  response.setExecutable(process.execPath);
  response.setVersion(process.version);
  response.getMetadataMap().set("packagemanager", "npm");
  callback(null, response);
};

const getProgramDependencies: Unary<language.GetProgramDependenciesRequest, language.GetProgramDependenciesResponse> = (call, callback) => {
  const info = programInfo(call.request.getInfo());
  const response = new languageProto.GetProgramDependenciesResponse();
  try {
    const pkg = require(path.join(info.programDirectory, "package.json"));
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
      const dep = new languageProto.DependencyInfo();
      dep.setName(name);
      try {
        dep.setVersion(require(require.resolve(`${name}/package.json`, { paths: [info.programDirectory] })).version);
      } catch {
        dep.setVersion("");
      }
      response.addDependencies(dep);
    }
  } catch {
    // no package.json: no dependencies to report
  }
  callback(null, response);
};

/** This host installs nothing (it is for machines that cannot reach the registries it would need). */
function installDependencies(call: grpc.ServerWritableStream<language.InstallDependenciesRequest, language.InstallDependenciesResponse>) {
  const response = new languageProto.InstallDependenciesResponse();
  response.setStderr(Buffer.from("offline language host: dependencies are installed by `npm ci` (scripts/fetchml-keys.sh)\n"));
  call.write(response);
  call.end();
}

const cancel: Unary<unknown, unknown> = (_call, callback) => {
  for (const child of running) child.kill("SIGINT");
  callback(null, new emptyProto.Empty());
};

/** Like the real host's health check: exit when the engine that started us is gone. */
function watchEngine(address: string) {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  const timer = setInterval(() => {
    const socket = net.connect({ host: host || "127.0.0.1", port });
    socket.once("connect", () => socket.destroy());
    socket.once("error", () => {
      for (const child of running) child.kill("SIGKILL");
      process.exit(1);
    });
  }, 1000);
  timer.unref();
}

const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
server.addService(languageRpc.LanguageRuntimeService, {
  handshake,
  getRequiredPlugins: unimplemented("GetRequiredPlugins"),
  getRequiredPackages,
  run,
  getPluginInfo,
  installDependencies,
  runtimeOptionsPrompts: unimplemented("RuntimeOptionsPrompts"),
  template: unimplemented("Template"),
  about,
  getProgramDependencies,
  runPlugin: unimplemented("RunPlugin"),
  generateProgram: unimplemented("GenerateProgram"),
  generateProject: unimplemented("GenerateProject"),
  generatePackage: unimplemented("GeneratePackage"),
  pack: unimplemented("Pack"),
  link: unimplemented("Link"),
  cancel,
});
exitWithEngine(() => {
  for (const child of running) child.kill("SIGKILL");
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`offline language host: ${err.message}`);
    process.exit(1);
  }
  // The engine reads the port from our first line of output.
  process.stdout.write(`${port}\n`);
  if (engineAddress) watchEngine(engineAddress);
});
