/** Ports for the tests' own servers (sshd, PostgreSQL, the Bitwarden test server). */
import * as net from "node:net";

/** A free TCP port on loopback (free when asked; the caller binds it right away). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
