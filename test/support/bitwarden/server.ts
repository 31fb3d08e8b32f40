/**
 * A small Bitwarden-compatible server for tests, speaking enough of the protocol for the
 * real `bw` CLI (2026.8 and 2026.9): password and API-key login, unlock, sync, organization
 * collections, and cipher create/edit/trash/restore/delete. It stores what the client sends
 * and serves it back; ids, dates and permissions are its own. HTTPS on loopback with a
 * certificate made at start-up, because `bw` refuses plain HTTP.
 * Protocol facts: ../shared/reference/bitwarden-protocol.md.
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as bwc from "./crypto";

const KDF_ITERATIONS = 600_000;

interface Account {
  id: string;
  email: string;
  name: string;
  authHash: string;
  userKey: bwc.SymmetricKey;
  encryptedUserKey: string;
  publicKey: string;
  encryptedPrivateKey: string;
  rsa: bwc.RsaKeyPair;
  clientSecret: string;
  securityStamp: string;
  userKeyId: string | null;
  revision: number;
}

interface Organization {
  id: string;
  name: string;
  key: bwc.SymmetricKey;
  members: Map<string, number>; // user id -> member type (0 owner, 1 admin, 2 user)
}

interface Collection {
  id: string;
  organizationId: string;
  name: string;
  encryptedName: string;
}

interface Cipher {
  id: string;
  ownerId: string;
  organizationId: string | null;
  collectionIds: string[];
  data: Record<string, unknown>;
  creationDate: string;
  revisionDate: string;
  deletedDate: string | null;
}

/** One cipher as it stood after one request. */
export interface CipherState {
  request: string;
  id: string;
  organizationId: string | null;
  ownerId: string;
  collectionIds: string[];
  data: Record<string, unknown>;
}

/** Fields of a cipher that belong to the client (encrypted or plain); everything else is the server's. */
const CLIENT_FIELDS = [
  "type",
  "folderId",
  "name",
  "notes",
  "favorite",
  "login",
  "card",
  "identity",
  "secureNote",
  "sshKey",
  "fields",
  "passwordHistory",
  "reprompt",
  "key",
] as const;

export interface DecryptedCipher {
  name: string;
  notes?: string;
  username?: string;
  password?: string;
  uris: string[];
  fields: Record<string, string>;
}

export interface SeededAccount {
  id: string;
  email: string;
  password: string;
  clientId: string;
  clientSecret: string;
}

export interface SeededOrganization {
  id: string;
  name: string;
  collections: Record<string, string>; // name -> id
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown = {},
  ) {
    super(`HTTP ${status}`);
  }
}

export class BitwardenTestServer {
  readonly accounts = new Map<string, Account>();
  readonly organizations = new Map<string, Organization>();
  readonly collections = new Map<string, Collection>();
  readonly ciphers = new Map<string, Cipher>();
  /** Requests that matched no route: a missing route shows up here and in the log. */
  readonly unknownRoutes: string[] = [];
  /** Every request as "METHOD /path", for tests that count calls. */
  readonly requests: string[] = [];
  /** Every state a cipher was in, in order (after each create, edit and move), for tests that check what was never true. */
  readonly cipherStates: CipherState[] = [];
  private readonly accessTokens = new Map<string, string>();
  private readonly refreshTokens = new Map<string, string>();
  private clock = Date.now();
  private server: https.Server | undefined;
  private tlsDir: string | undefined;
  url = "";
  caFile = "";

  /** Starts on a free loopback port with a fresh self-signed certificate for 127.0.0.1. */
  static async start(): Promise<BitwardenTestServer> {
    const server = new BitwardenTestServer();
    await server.listen();
    return server;
  }

  /** Stops answering (connections refused) but keeps all data, as a server that went down. */
  async pause(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Answers again on the same address, with the same data and certificate. */
  async resume(): Promise<void> {
    const port = Number(new URL(this.url).port);
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
  }

  private async listen(): Promise<void> {
    this.tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), "bw-test-tls-"));
    const keyFile = path.join(this.tlsDir, "key.pem");
    this.caFile = path.join(this.tlsDir, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        this.caFile,
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
      ],
      { stdio: "ignore" },
    );
    this.server = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(this.caFile) }, (req, res) => {
      this.handle(req, res).catch((e) => {
        res.writeHead(500, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ message: String(e) }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (this.server?.listening) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
    this.server = undefined;
    if (this.tlsDir) fs.rmSync(this.tlsDir, { recursive: true, force: true });
  }

  // ---- fixtures -------------------------------------------------------------------------

  createAccount(email: string, password: string, name = email.split("@")[0]): SeededAccount {
    const master = bwc.masterKey(password, email.trim().toLowerCase(), KDF_ITERATIONS);
    const userKey = bwc.randomSymmetricKey();
    const rsa = bwc.rsaKeyPair();
    const account: Account = {
      id: crypto.randomUUID(),
      email: email.trim().toLowerCase(),
      name,
      authHash: bwc.serverAuthHash(master, password),
      userKey,
      encryptedUserKey: bwc.encrypt(bwc.keyBytes(userKey), bwc.stretch(master)),
      publicKey: rsa.publicKeyDer.toString("base64"),
      encryptedPrivateKey: bwc.encrypt(rsa.privateKeyDer, userKey),
      rsa,
      clientSecret: crypto.randomBytes(15).toString("base64url"),
      securityStamp: crypto.randomUUID(),
      userKeyId: null,
      revision: this.tick(),
    };
    this.accounts.set(account.id, account);
    return { id: account.id, email: account.email, password, clientId: `user.${account.id}`, clientSecret: account.clientSecret };
  }

  createOrganization(name: string, ownerId: string, collectionNames: string[] = []): SeededOrganization {
    const org: Organization = { id: crypto.randomUUID(), name, key: bwc.randomSymmetricKey(), members: new Map([[ownerId, 0]]) };
    this.organizations.set(org.id, org);
    const collections: Record<string, string> = {};
    for (const collectionName of collectionNames) collections[collectionName] = this.createCollection(org.id, collectionName);
    this.touchOrganization(org.id);
    return { id: org.id, name, collections };
  }

  createCollection(organizationId: string, name: string): string {
    const org = this.organizations.get(organizationId)!;
    const id = crypto.randomUUID();
    this.collections.set(id, { id, organizationId, name, encryptedName: bwc.encrypt(name, org.key) });
    this.touchOrganization(organizationId);
    return id;
  }

  addMember(organizationId: string, userId: string, type = 2): void {
    this.organizations.get(organizationId)!.members.set(userId, type);
    this.touchOrganization(organizationId);
  }

  /** "An admin with an org and its collections" in one call. */
  seed(options: { email?: string; password?: string; organization?: string; collections?: string[] } = {}) {
    const account = this.createAccount(options.email ?? "admin@example.test", options.password ?? "correct horse battery staple");
    const organization = this.createOrganization(options.organization ?? "Homelab", account.id, options.collections ?? ["FetchML"]);
    return { account, organization };
  }

  /** A cipher's decrypted name, login and fields, for assertions that do not go through `bw`. */
  decryptCipher(id: string): DecryptedCipher {
    return this.decryptState(this.ciphers.get(id)!);
  }

  /** A recorded state (or a cipher), decrypted with the key it was written with. */
  decryptState(cipher: Pick<Cipher, "organizationId" | "ownerId" | "data">): DecryptedCipher {
    const key = this.cipherKey(cipher);
    const dec = (s: unknown) => (typeof s === "string" ? bwc.decrypt(s, key).toString("utf8") : undefined);
    const login = (cipher.data.login ?? {}) as Record<string, unknown>;
    const fields = ((cipher.data.fields ?? []) as Array<Record<string, unknown>>).map((f) => [dec(f.name)!, dec(f.value) ?? ""]);
    const uris = ((login.uris ?? []) as Array<Record<string, unknown>>).map((u) => dec(u.uri) ?? "");
    return {
      name: dec(cipher.data.name)!,
      notes: dec(cipher.data.notes),
      username: dec(login.username),
      password: dec(login.password),
      uris,
      fields: Object.fromEntries(fields),
    };
  }

  private record(request: string, cipher: Cipher): void {
    const { id, organizationId, ownerId } = cipher;
    this.cipherStates.push({
      request,
      id,
      organizationId,
      ownerId,
      collectionIds: [...cipher.collectionIds],
      data: structuredClone(cipher.data),
    });
  }

  private cipherKey(cipher: Pick<Cipher, "organizationId" | "ownerId" | "data">): bwc.SymmetricKey {
    const base = cipher.organizationId ? this.organizations.get(cipher.organizationId)!.key : this.accounts.get(cipher.ownerId)!.userKey;
    // Per-cipher keys (if the client used one) are wrapped by the org or user key.
    return typeof cipher.data.key === "string" ? bwc.keyFromBytes(bwc.decrypt(cipher.data.key, base)) : base;
  }

  // ---- HTTP -----------------------------------------------------------------------------

  private tick(): number {
    this.clock = Math.max(this.clock + 1, Date.now());
    return this.clock;
  }

  private touchOrganization(organizationId: string): void {
    const now = this.tick();
    for (const userId of this.organizations.get(organizationId)?.members.keys() ?? []) {
      const account = this.accounts.get(userId);
      if (account) account.revision = now;
    }
  }

  private async handle(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    this.requests.push(`${method} ${url.pathname}`);
    const raw = await readBody(req);
    const send = (status: number, body?: unknown) => {
      if (body === undefined) {
        res.writeHead(status);
        res.end();
      } else {
        res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
        res.end(typeof body === "number" ? String(body) : JSON.stringify(body));
      }
    };
    try {
      const result = this.route(method, url, raw, req.headers.authorization);
      send(result.status ?? 200, result.body);
    } catch (e) {
      if (e instanceof HttpError) send(e.status, e.body);
      else throw e;
    }
  }

  private route(method: string, url: URL, raw: string, authorization: string | undefined): { status?: number; body?: unknown } {
    const p = url.pathname.replace(/\/+$/, "");
    const json = () => (raw ? JSON.parse(raw) : {});
    const user = () => this.authenticate(authorization);

    if (method === "GET" && (p === "/api/config" || p === "/config")) return { body: this.config() };
    if (method === "POST" && /^\/(identity\/accounts\/prelogin(\/password)?|api\/accounts\/prelogin)$/.test(p)) {
      return { body: this.prelogin(String(json().email ?? json().Email ?? "")) };
    }
    if (method === "POST" && p === "/identity/connect/token") return { body: this.token(new URLSearchParams(raw)) };
    if (method === "GET" && p === "/api/devices/knowndevice") return { body: true };
    if (method === "GET" && p === "/api/sync") return { body: this.sync(user()) };
    if (method === "GET" && p === "/api/accounts/revision-date") return { body: user().revision };
    if (method === "POST" && p === "/api/accounts/key-management/user-key-id") {
      const account = user();
      account.userKeyId = String(json().userKeyId ?? "") || null;
      return { status: 200 };
    }
    if (method === "POST" && p === "/api/accounts/verify-password") {
      if (json().masterPasswordHash !== user().authHash) {
        throw new HttpError(400, errorModel("Invalid password."));
      }
      return { body: {} };
    }
    if (method === "POST" && p === "/api/ciphers") return { body: this.createCipher(user(), json(), undefined) };
    if (method === "POST" && p === "/api/ciphers/create") {
      const body = json();
      return { body: this.createCipher(user(), body.cipher ?? body.Cipher, body.collectionIds ?? body.CollectionIds) };
    }
    let m = /^\/api\/ciphers\/([0-9a-f-]{36})(\/(delete|restore|collections|collections_v2))?$/.exec(p);
    if (m) {
      const account = user();
      const cipher = this.visibleCipher(account, m[1]);
      const action = m[3];
      if (method === "GET" && !action) return { body: this.cipherJson(cipher) };
      if (method === "PUT" && !action) return { body: this.editCipher(cipher, json()) };
      if ((method === "PUT" && action === "delete") || (method === "DELETE" && !action)) {
        if (action === "delete") cipher.deletedDate = new Date(this.tick()).toISOString();
        else this.ciphers.delete(cipher.id);
        this.touch(cipher);
        return { status: 200 };
      }
      if ((method === "PUT" || method === "POST") && (action === "collections" || action === "collections_v2")) {
        const ids = (json().collectionIds ?? json().CollectionIds ?? []).map(String);
        for (const id of ids) {
          if (this.collections.get(id)?.organizationId !== cipher.organizationId)
            throw new HttpError(400, errorModel(`Collection ${id} not found.`));
        }
        cipher.collectionIds = ids;
        cipher.revisionDate = new Date(this.tick()).toISOString();
        this.touch(cipher);
        this.record(`${method} ${p}`, cipher);
        const body = this.cipherJson(cipher);
        return { body: action === "collections_v2" ? { object: "optionalCipherDetails", unavailable: false, cipher: body } : body };
      }
      if (method === "PUT" && action === "restore") {
        cipher.deletedDate = null;
        this.touch(cipher);
        return { body: this.cipherJson(cipher) };
      }
    }
    m = /^\/api\/organizations\/([0-9a-f-]{36})\/collections(\/details)?$/.exec(p);
    if (m && method === "GET") {
      const account = user();
      const org = this.organizations.get(m[1]);
      if (!org || !org.members.has(account.id)) throw new HttpError(404, errorModel("Resource not found."));
      return {
        body: listOf(
          [...this.collections.values()].filter((c) => c.organizationId === org.id).map((c) => this.collectionJson(c, "collection")),
        ),
      };
    }
    if (method === "GET" && p === "/api/collections") {
      const account = user();
      return { body: listOf(this.collectionsOf(account).map((c) => this.collectionJson(c, "collectionDetails"))) };
    }
    this.unknownRoutes.push(`${method} ${p}`);
    process.stderr.write(`bitwarden test server: no route for ${method} ${p}\n`);
    throw new HttpError(404, errorModel("Resource not found."));
  }

  private authenticate(authorization: string | undefined): Account {
    const token = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
    const userId = token ? this.accessTokens.get(token) : undefined;
    const account = userId ? this.accounts.get(userId) : undefined;
    if (!account) throw new HttpError(401, errorModel("Unauthorized."));
    return account;
  }

  private config() {
    return {
      version: "2026.6.0",
      gitHash: null,
      server: { name: "fetchml-keys test server", url: this.url },
      environment: {
        cloudRegion: null,
        vault: this.url,
        api: `${this.url}/api`,
        identity: `${this.url}/identity`,
        notifications: `${this.url}/notifications`,
        sso: "",
      },
      featureStates: {},
      push: { pushTechnology: 0, vapidPublicKey: null },
      settings: { disableUserRegistration: true },
      object: "config",
    };
  }

  private prelogin(email: string) {
    const salt = email.trim().toLowerCase();
    return {
      kdf: 0,
      kdfIterations: KDF_ITERATIONS,
      kdfMemory: null,
      kdfParallelism: null,
      kdfSettings: { kdfType: 0, iterations: KDF_ITERATIONS, memory: null, parallelism: null },
      salt,
    };
  }

  private token(form: URLSearchParams) {
    const grant = form.get("grant_type");
    let account: Account | undefined;
    if (grant === "password") {
      account = [...this.accounts.values()].find((a) => a.email === (form.get("username") ?? "").trim().toLowerCase());
      if (!account || account.authHash !== form.get("password")) {
        throw new HttpError(400, {
          error: "invalid_grant",
          error_description: "invalid_username_or_password",
          ErrorModel: { Message: "Username or password is incorrect. Try again.", Object: "error" },
        });
      }
    } else if (grant === "client_credentials") {
      const id = /^user\.(.+)$/.exec(form.get("client_id") ?? "")?.[1];
      account = id ? this.accounts.get(id) : undefined;
      if (!account || account.clientSecret !== form.get("client_secret")) {
        throw new HttpError(400, {
          error: "invalid_client",
          error_description: "invalid_client",
          ErrorModel: { Message: "Invalid client credentials.", Object: "error" },
        });
      }
    } else if (grant === "refresh_token") {
      const userId = this.refreshTokens.get(form.get("refresh_token") ?? "");
      account = userId ? this.accounts.get(userId) : undefined;
      if (!account) throw new HttpError(400, { error: "invalid_grant", error_description: "invalid refresh token" });
    } else {
      throw new HttpError(400, { error: "unsupported_grant_type" });
    }
    return this.issueTokens(account, grant === "client_credentials" ? `user.${account.id}` : "cli");
  }

  private issueTokens(account: Account, clientId: string) {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const accessToken = [
      b64({ alg: "RS256", typ: "JWT" }),
      b64({
        nbf: now - 60,
        exp: now + 3600,
        iss: `${this.url}/identity`,
        sub: account.id,
        email: account.email,
        email_verified: true,
        name: account.name,
        premium: false,
        sstamp: account.securityStamp,
        device: crypto.randomUUID(),
        client_id: clientId,
        scope: ["api", "offline_access"],
        amr: ["Application"],
      }),
      crypto.randomBytes(32).toString("base64url"),
    ].join(".");
    const refreshToken = crypto.randomBytes(32).toString("base64url");
    this.accessTokens.set(accessToken, account.id);
    this.refreshTokens.set(refreshToken, account.id);
    const kdf = { KdfType: 0, Iterations: KDF_ITERATIONS, Memory: null, Parallelism: null };
    return {
      access_token: accessToken,
      expires_in: 3600,
      token_type: "Bearer",
      refresh_token: refreshToken,
      scope: "api offline_access",
      Key: account.encryptedUserKey,
      PrivateKey: account.encryptedPrivateKey,
      Kdf: 0,
      KdfIterations: KDF_ITERATIONS,
      KdfMemory: null,
      KdfParallelism: null,
      ResetMasterPassword: false,
      ForcePasswordReset: false,
      MasterPasswordPolicy: { Object: "masterPasswordPolicy" },
      AccountKeys: {
        publicKeyEncryptionKeyPair: {
          wrappedPrivateKey: account.encryptedPrivateKey,
          publicKey: account.publicKey,
          Object: "publicKeyEncryptionKeyPair",
        },
        Object: "privateKeys",
      },
      UserDecryptionOptions: {
        HasMasterPassword: true,
        MasterPasswordUnlock: {
          Kdf: kdf,
          MasterKeyEncryptedUserKey: account.encryptedUserKey,
          MasterKeyWrappedUserKey: account.encryptedUserKey,
          Salt: account.email,
        },
        Object: "userDecryptionOptions",
      },
    };
  }

  private organizationsOf(account: Account): Organization[] {
    return [...this.organizations.values()].filter((o) => o.members.has(account.id));
  }

  private collectionsOf(account: Account): Collection[] {
    const orgIds = new Set(this.organizationsOf(account).map((o) => o.id));
    return [...this.collections.values()].filter((c) => orgIds.has(c.organizationId));
  }

  private visibleCipher(account: Account, id: string): Cipher {
    const cipher = this.ciphers.get(id);
    const orgIds = new Set(this.organizationsOf(account).map((o) => o.id));
    if (!cipher || (cipher.organizationId ? !orgIds.has(cipher.organizationId) : cipher.ownerId !== account.id)) {
      throw new HttpError(404, errorModel("Resource not found."));
    }
    return cipher;
  }

  private sync(account: Account) {
    const orgIds = new Set(this.organizationsOf(account).map((o) => o.id));
    const accountKeys = {
      publicKeyEncryptionKeyPair: {
        wrappedPrivateKey: account.encryptedPrivateKey,
        publicKey: account.publicKey,
        object: "publicKeyEncryptionKeyPair",
      },
      object: "privateKeys",
    };
    return {
      object: "sync",
      profile: {
        id: account.id,
        name: account.name,
        email: account.email,
        emailVerified: true,
        premium: false,
        premiumFromOrganization: false,
        culture: "en-US",
        twoFactorEnabled: false,
        key: account.encryptedUserKey,
        privateKey: account.encryptedPrivateKey,
        accountKeys,
        securityStamp: account.securityStamp,
        forcePasswordReset: false,
        usesKeyConnector: false,
        avatarColor: null,
        creationDate: new Date(0).toISOString(),
        organizations: this.organizationsOf(account).map((o) => this.profileOrganization(o, account)),
        providers: [],
        providerOrganizations: [],
        object: "profile",
      },
      folders: [],
      collections: this.collectionsOf(account).map((c) => this.collectionJson(c, "collectionDetails")),
      ciphers: [...this.ciphers.values()]
        .filter((c) => (c.organizationId ? orgIds.has(c.organizationId) : c.ownerId === account.id))
        .map((c) => this.cipherJson(c)),
      policies: [],
      sends: [],
      domains: null,
      userDecryption: {
        masterPasswordUnlock: {
          kdf: { kdfType: 0, iterations: KDF_ITERATIONS, memory: null, parallelism: null },
          masterKeyEncryptedUserKey: account.encryptedUserKey,
          masterKeyWrappedUserKey: account.encryptedUserKey,
          salt: account.email,
        },
        userKeyId: account.userKeyId,
      },
    };
  }

  private profileOrganization(org: Organization, account: Account) {
    const type = org.members.get(account.id) ?? 2;
    return {
      id: org.id,
      name: org.name,
      key: bwc.rsaEncrypt(bwc.keyBytes(org.key), account.rsa.publicKeyDer),
      status: 2,
      type,
      enabled: true,
      userId: account.id,
      usePolicies: false,
      useGroups: false,
      useDirectory: false,
      useEvents: false,
      useTotp: true,
      use2fa: false,
      useApi: true,
      useResetPassword: false,
      useSso: false,
      useKeyConnector: false,
      useScim: false,
      useCustomPermissions: false,
      useActivateAutofillPolicy: false,
      useSecretsManager: false,
      usePasswordManager: true,
      useRiskInsights: false,
      useAdminSponsoredFamilies: false,
      selfHost: true,
      usersGetPremium: false,
      seats: 10,
      maxCollections: null,
      maxStorageGb: null,
      ssoBound: false,
      identifier: null,
      resetPasswordEnrolled: false,
      hasPublicAndPrivateKeys: true,
      providerId: null,
      providerName: null,
      providerType: null,
      familySponsorshipFriendlyName: null,
      familySponsorshipAvailable: false,
      familySponsorshipLastSyncDate: null,
      familySponsorshipValidUntil: null,
      familySponsorshipToDelete: null,
      accessSecretsManager: false,
      limitCollectionCreation: false,
      limitCollectionDeletion: false,
      limitItemDeletion: false,
      allowAdminAccessToAllCollectionItems: true,
      userIsManagedByOrganization: false,
      isAdminInitiated: false,
      keyConnectorEnabled: false,
      keyConnectorUrl: null,
      permissions: {
        accessEventLogs: false,
        accessImportExport: false,
        accessReports: false,
        createNewCollections: false,
        editAnyCollection: false,
        deleteAnyCollection: false,
        manageGroups: false,
        managePolicies: false,
        manageSso: false,
        manageUsers: false,
        manageResetPassword: false,
        manageScim: false,
      },
      object: "profileOrganization",
    };
  }

  private collectionJson(c: Collection, object: string) {
    return {
      id: c.id,
      organizationId: c.organizationId,
      name: c.encryptedName,
      externalId: null,
      readOnly: false,
      hidePasswords: false,
      manage: true,
      object,
    };
  }

  private createCipher(account: Account, request: Record<string, unknown> | undefined, collectionIds: unknown): unknown {
    if (!request) throw new HttpError(400, errorModel("No cipher in the request."));
    const organizationId = (request.organizationId as string | null) ?? null;
    if (organizationId && !this.organizations.get(organizationId)?.members.has(account.id)) {
      throw new HttpError(400, errorModel("You do not have permissions to edit this."));
    }
    const ids = Array.isArray(collectionIds) ? collectionIds.map(String) : [];
    for (const id of ids) {
      if (this.collections.get(id)?.organizationId !== organizationId) throw new HttpError(400, errorModel(`Collection ${id} not found.`));
    }
    const now = new Date(this.tick()).toISOString();
    const cipher: Cipher = {
      id: crypto.randomUUID(),
      ownerId: account.id,
      organizationId,
      collectionIds: ids,
      data: pickClientFields(request),
      creationDate: now,
      revisionDate: now,
      deletedDate: null,
    };
    this.ciphers.set(cipher.id, cipher);
    this.touch(cipher);
    this.record("create", cipher);
    return this.cipherJson(cipher);
  }

  private editCipher(cipher: Cipher, request: Record<string, unknown>): unknown {
    cipher.data = pickClientFields(request);
    cipher.revisionDate = new Date(this.tick()).toISOString();
    this.touch(cipher);
    this.record("edit", cipher);
    return this.cipherJson(cipher);
  }

  private touch(cipher: Cipher): void {
    if (cipher.organizationId) this.touchOrganization(cipher.organizationId);
    else this.accounts.get(cipher.ownerId)!.revision = this.tick();
  }

  private cipherJson(c: Cipher) {
    const d = c.data;
    return {
      object: "cipherDetails",
      id: c.id,
      organizationId: c.organizationId,
      folderId: d.folderId ?? null,
      type: d.type ?? 1,
      name: d.name ?? null,
      notes: d.notes ?? null,
      login: d.login ?? null,
      card: d.card ?? null,
      identity: d.identity ?? null,
      secureNote: d.secureNote ?? null,
      sshKey: d.sshKey ?? null,
      fields: d.fields ?? null,
      passwordHistory: d.passwordHistory ?? null,
      attachments: null,
      organizationUseTotp: true,
      favorite: d.favorite ?? false,
      reprompt: d.reprompt ?? 0,
      key: d.key ?? null,
      edit: true,
      viewPassword: true,
      permissions: { delete: true, restore: true },
      collectionIds: [...c.collectionIds],
      creationDate: c.creationDate,
      revisionDate: c.revisionDate,
      deletedDate: c.deletedDate,
      archivedDate: null,
    };
  }
}

function pickClientFields(request: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(CLIENT_FIELDS.filter((k) => request[k] !== undefined).map((k) => [k, request[k]]));
}

function errorModel(message: string) {
  return {
    message,
    validationErrors: null,
    exceptionMessage: null,
    exceptionStackTrace: null,
    innerExceptionMessage: null,
    object: "error",
  };
}

function listOf(data: unknown[]) {
  return { object: "list", data, continuationToken: null };
}

function readBody(req: import("node:http").IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
