/** Unix sockets as the lock and `bw serve` leave them, for tests of what reads them. */
import * as fs from "node:fs";
import * as net from "node:net";

/** A socket listening at `file`, as a live command's. */
export async function listeningSocket(file: string): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(file, r));
  return server;
}

/**
 * A socket at `file` that nobody listens on, as a killed command leaves it (a server its own
 * process closes unlinks its socket; a killed one cannot): kept by a second name while closed.
 */
export async function deadSocket(file: string): Promise<void> {
  const server = await listeningSocket(file);
  fs.linkSync(file, `${file}.kept`);
  await new Promise((r) => server.close(r));
  fs.renameSync(`${file}.kept`, file);
}
