/** A FetchML server config as an admin's would look: other settings, comments, old entries. */
import { createHash } from "node:crypto";

export const SERVICE_HASH = createHash("sha256").update("svc-backup-key-managed-elsewhere").digest("hex");
export const MALLORY_HASH = createHash("sha256").update("a-key-nobody-declared").digest("hex");

export const SERVER_CONFIG = `# FetchML API server (e2e fixture)
server:
  address: ":9101"
  tls:
    enabled: true
    cert_file: "/etc/fetchml/tls/server.crt"   # homelab CA

auth:
  enabled: true
  # LAN and tunnel only
  ip_whitelist: ["127.0.0.1", "10.0.0.0/8"]
  api_keys:
    # nightly backup job, key managed by hand
    svc-backup:
      hash: "${SERVICE_HASH}"
      admin: false
      roles: ["service"]
      permissions:
        "jobs:read": true
    mallory:
      hash: "${MALLORY_HASH}"
      admin: true

logging:
  level: info     # debug while testing
  audit: true
`;

/** The fixture with the entries this project manages cut out: what must never change. */
export function withoutManagedEntries(text: string, managed: readonly string[]): string {
  const lines = text.split("\n");
  const out: string[] = [];
  let skipping = false;
  for (const line of lines) {
    const entry = /^ {4}([a-z][a-z0-9._-]*):\s*$/.exec(line);
    if (entry) skipping = managed.includes(entry[1]);
    else if (!/^ {6}/.test(line)) skipping = false;
    if (!skipping) out.push(line);
  }
  return out.join("\n");
}
