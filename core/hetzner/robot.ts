/**
 * A small client for the Hetzner Robot webservice (dedicated servers, orders, firewall, vSwitch).
 *
 * Pure apart from the injected `fetch` and `sleep`: no `@pulumi/*` import, so it can back a Pulumi
 * dynamic provider, the CLI and tests alike. Facts: https://robot.hetzner.com/doc/webservice/en.html
 * (read 2026-11-30; see shared/facts/providers-gpus-power.md §1.2).
 *
 * Safety rules built in: orders default to `test=true`, `comment` is never sent (any comment sends an
 * order to manual processing), 401 is never retried (three failed logins block the client IP for
 * 10 minutes), and the password never appears in an error message.
 */

/** Default Robot webservice endpoint. */
export const ROBOT_BASE_URL = "https://robot-ws.your-server.de";

/** Lowest VLAN ID Robot accepts for a vSwitch. */
export const VSWITCH_VLAN_MIN = 4000;
/** Highest VLAN ID Robot accepts for a vSwitch. */
export const VSWITCH_VLAN_MAX = 4091;
/** Most servers one vSwitch can hold (docs.hetzner.com, vSwitch limits). */
export const VSWITCH_MAX_SERVERS = 100;

/** The `fetch` signature the client needs; Node 20's global `fetch` fits. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Options for {@link RobotClient}. */
export interface RobotClientOptions {
  /** Webservice endpoint, without trailing slash. @default "https://robot-ws.your-server.de" */
  baseUrl?: string;
  /** Robot webservice user (Robot → Settings → Web service settings), not a Cloud API token. */
  user: string;
  /** Robot webservice password. Sent only in the Authorization header, never in messages. */
  password: string;
  /** HTTP implementation. @default the global `fetch` */
  fetchImpl?: FetchLike;
  /** Waits between retries and polls, milliseconds. @default a `setTimeout` promise */
  sleep?: (ms: number) => Promise<void>;
  /** Clock for `waitForTransaction`, milliseconds since the epoch. @default `Date.now` */
  now?: () => number;
  /** Extra attempts after a 429 or 503 (so at most `maxRetries + 1` requests). @default 3 */
  maxRetries?: number;
  /** First backoff when Robot gives no wait hint, doubled per retry, ms. @default 1000 */
  retryBaseMs?: number;
  /**
   * Longest single wait before a retry, ms. If Robot asks for longer (e.g. an hourly order limit),
   * the client throws at once instead of blocking. @default 60_000
   */
  maxRetryWaitMs?: number;
}

/** Form values: arrays are sent as repeated `key[]=…` fields; `undefined` is left out. */
export type FormValue = string | number | boolean | readonly (string | number)[] | undefined;

/** A Robot error body, `{"error":{"status":404,"code":"SERVER_NOT_FOUND","message":"…"}}`. */
export interface RobotErrorBody {
  status: number;
  code: string;
  message: string;
  /** With `RATE_LIMIT_EXCEEDED`: the limit's window, seconds. */
  interval?: number;
  /** With `RATE_LIMIT_EXCEEDED`: requests allowed per window. */
  max_request?: number;
}

/**
 * A failed Robot call: the HTTP status, Robot's error code and message, and the method and path
 * (never the credentials).
 */
export class RobotError extends Error {
  /** HTTP status, e.g. 404; 0 when no response arrived. */
  public readonly status: number;
  /** Robot's error code, e.g. `SERVER_NOT_FOUND`, or `HTTP_<status>` / `NETWORK_ERROR`. */
  public readonly code: string;
  /** Robot's own message text. */
  public readonly robotMessage: string;
  /** HTTP method of the failed call. */
  public readonly method: string;
  /** Path of the failed call, e.g. `/server/321`. */
  public readonly path: string;

  /** Builds the error; `message` is the full human-readable text. */
  constructor(args: { status: number; code: string; robotMessage: string; method: string; path: string; message: string }) {
    super(args.message);
    this.name = "RobotError";
    this.status = args.status;
    this.code = args.code;
    this.robotMessage = args.robotMessage;
    this.method = args.method;
    this.path = args.path;
  }
}

/** A dedicated server as `GET /server/{n}` returns it (fields as Robot names them). */
export interface RobotServer {
  server_ip: string | null;
  server_ipv6_net?: string | null;
  server_number: number;
  server_name: string;
  product: string;
  dc: string;
  status: string;
  cancelled: boolean;
  paid_until?: string;
  ip?: string[];
}

/** A price of a product at one location, EUR as decimal strings. */
export interface RobotProductPrice {
  location: string;
  price: { net: string; gross: string };
  price_setup: { net: string; gross: string };
  price_hourly?: { net: string; gross: string };
}

/** A standard product from `GET /order/server/product`. */
export interface RobotProduct {
  id: string;
  name: string;
  description: string[];
  traffic: string;
  dist: string[];
  lang: string[];
  location: string[];
  prices: RobotProductPrice[];
  orderable_addons?: { id: string; name: string }[];
}

/** Order status values Robot reports. */
export type RobotTransactionStatus = "in process" | "ready" | "cancelled";

/** A server order transaction. `server_number` and `server_ip` are set once `ready`. */
export interface RobotTransaction {
  id: string;
  date: string;
  status: RobotTransactionStatus;
  server_number: number | null;
  server_ip: string | null;
  authorized_key?: unknown[];
  comment?: string | null;
  product?: { id: string; name?: string };
}

/** Arguments of {@link RobotClient.orderServer}. */
export interface OrderServerArgs {
  /** Product ID, e.g. `GEX45`. */
  productId: string;
  /** Location, e.g. `FSN1`, `NBG1`, `HEL1`. */
  location: string;
  /** SSH key fingerprints already stored in Robot (`/key`); at least one. */
  authorizedKeys: readonly string[];
  /** Distribution name from the product's `dist` list. */
  dist?: string;
  /** Language from the product's `lang` list. */
  lang?: string;
  /** Addon IDs, e.g. `primary_ipv4` (new servers are IPv6-only without it). */
  addons?: readonly string[];
  /**
   * Only check the order (Robot's `test=true`). An order costs money, so a real order needs an
   * explicit `false`. @default true
   */
  test?: boolean;
}

/** Options of {@link RobotClient.waitForTransaction}. */
export interface WaitOptions {
  /** Give up after this long, ms. @default 3_600_000 (one hour) */
  timeoutMs?: number;
  /** Wait between polls, ms. @default 30_000 */
  pollMs?: number;
}

/** What a ready order yields. */
export interface ReadyServer {
  serverNumber: number;
  serverIp: string | null;
  transaction: RobotTransaction;
}

/** One firewall rule; fields left out match anything. */
export interface FirewallRule {
  name?: string;
  ipVersion?: "ipv4" | "ipv6";
  srcIp?: string;
  dstIp?: string;
  srcPort?: string;
  dstPort?: string;
  protocol?: "tcp" | "udp" | "gre" | "icmp" | "ipip" | "ah" | "esp";
  tcpFlags?: string;
  action: "accept" | "discard";
}

/** Firewall settings for {@link RobotClient.setFirewall}. */
export interface FirewallSettings {
  /** `active` filters traffic; `disabled` lets everything through. */
  status: "active" | "disabled";
  /** Let Hetzner services (rescue, backup, DNS) through. @default true */
  whitelistHos?: boolean;
  /** Filter IPv6 traffic as well. @default left to Robot */
  filterIpv6?: boolean;
  /** Incoming rules, first match wins. */
  input: readonly FirewallRule[];
  /** Outgoing rules. @default none sent */
  output?: readonly FirewallRule[];
}

/** The firewall as Robot returns it (fields as Robot names them). */
export interface RobotFirewall {
  server_ip?: string;
  server_number: number;
  status: string;
  filter_ipv6?: boolean;
  whitelist_hos: boolean;
  port?: string;
  rules: { input: Record<string, unknown>[]; output?: Record<string, unknown>[] };
}

/** A vSwitch as Robot returns it. */
export interface RobotVswitch {
  id: number;
  name: string;
  vlan: number;
  cancelled: boolean;
  server?: unknown[];
  subnet?: unknown[];
  cloud_network?: unknown[];
}

/**
 * Encodes fields as `application/x-www-form-urlencoded`, arrays as `key[]=a&key[]=b`, leaving
 * `undefined` out. Brackets in keys stay literal for readability; values are percent-encoded.
 */
export function encodeForm(fields: Record<string, FormValue>): string {
  const key = (k: string): string => encodeURIComponent(k).replace(/%5B/g, "[").replace(/%5D/g, "]");
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) {
      for (const item of v as readonly (string | number)[]) parts.push(`${key(`${k}[]`)}=${encodeURIComponent(String(item))}`);
    } else {
      parts.push(`${key(k)}=${encodeURIComponent(String(v))}`);
    }
  }
  return parts.join("&");
}

/**
 * Reads a `Retry-After` header (seconds or an HTTP date) as milliseconds; `null` if absent or
 * unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

/** Throws unless `vlan` is an integer Robot accepts for a vSwitch (4000–4091). */
export function validateVlan(vlan: number): void {
  if (!Number.isInteger(vlan) || vlan < VSWITCH_VLAN_MIN || vlan > VSWITCH_VLAN_MAX) {
    throw new RangeError(
      `createVswitch vlan: ${vlan} is not allowed; Robot vSwitch VLAN IDs are integers from ${VSWITCH_VLAN_MIN} to ${VSWITCH_VLAN_MAX}. Pick one in that range (e.g. 4000).`,
    );
  }
}

function parseErrorBody(text: string): RobotErrorBody | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: RobotErrorBody } | null;
    return parsed?.error;
  } catch {
    return undefined;
  }
}

function firewallRuleFields(direction: "input" | "output", rules: readonly FirewallRule[]): Record<string, FormValue> {
  const out: Record<string, FormValue> = {};
  rules.forEach((r, i) => {
    const p = `rules[${direction}][${i}]`;
    out[`${p}[name]`] = r.name;
    out[`${p}[ip_version]`] = r.ipVersion;
    out[`${p}[src_ip]`] = r.srcIp;
    out[`${p}[dst_ip]`] = r.dstIp;
    out[`${p}[src_port]`] = r.srcPort;
    out[`${p}[dst_port]`] = r.dstPort;
    out[`${p}[protocol]`] = r.protocol;
    out[`${p}[tcp_flags]`] = r.tcpFlags;
    out[`${p}[action]`] = r.action;
  });
  return out;
}

/** Client for the Hetzner Robot webservice. See the module comment for its safety rules. */
export class RobotClient {
  readonly #baseUrl: string;
  readonly #user: string;
  readonly #password: string;
  readonly #authorization: string;
  readonly #fetch: FetchLike;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #maxRetryWaitMs: number;

  /** Creates a client; makes no request. */
  constructor(options: RobotClientOptions) {
    this.#baseUrl = (options.baseUrl ?? ROBOT_BASE_URL).replace(/\/+$/, "");
    this.#user = options.user;
    this.#password = options.password;
    this.#authorization = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString("base64")}`;
    this.#fetch = options.fetchImpl ?? ((url, init) => fetch(url, init));
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#now = options.now ?? Date.now;
    this.#maxRetries = options.maxRetries ?? 3;
    this.#retryBaseMs = options.retryBaseMs ?? 1000;
    this.#maxRetryWaitMs = options.maxRetryWaitMs ?? 60_000;
    if (!Number.isInteger(this.#maxRetries) || this.#maxRetries < 0) {
      throw new RangeError(`RobotClient maxRetries: ${String(options.maxRetries)} must be an integer ≥ 0.`);
    }
  }

  /** `GET /server/{n}`: one dedicated server. */
  async getServer(serverNumber: number): Promise<RobotServer> {
    const body = await this.#request<{ server: RobotServer }>("GET", `/server/${serverNumber}`);
    return body.server;
  }

  /** `GET /order/server/product`: standard products with prices per location. */
  async listProducts(): Promise<RobotProduct[]> {
    const body = await this.#request<{ product: RobotProduct }[]>("GET", "/order/server/product");
    return body.map((entry) => entry.product);
  }

  /**
   * `POST /order/server/transaction`. Sends `test=true` unless `test: false` is passed; never sends
   * `comment`. Validates before any request.
   */
  async orderServer(args: OrderServerArgs): Promise<RobotTransaction> {
    if (args.productId.trim() === "") throw new Error("orderServer productId: empty; pass a Robot product ID such as GEX45.");
    if (args.location.trim() === "") throw new Error("orderServer location: empty; pass FSN1, NBG1 or HEL1.");
    if (args.authorizedKeys.length === 0) {
      throw new Error("orderServer authorizedKeys: empty; pass at least one SSH key fingerprint stored in Robot (/key).");
    }
    const form = encodeForm({
      product_id: args.productId,
      location: args.location,
      authorized_key: args.authorizedKeys,
      dist: args.dist,
      lang: args.lang,
      addon: args.addons && args.addons.length > 0 ? args.addons : undefined,
      test: args.test === false ? "false" : "true",
    });
    const body = await this.#request<{ transaction: RobotTransaction }>("POST", "/order/server/transaction", form);
    return body.transaction;
  }

  /** `GET /order/server/transaction/{id}`: one order's status. */
  async getTransaction(id: string): Promise<RobotTransaction> {
    const body = await this.#request<{ transaction: RobotTransaction }>(
      "GET",
      `/order/server/transaction/${encodeURIComponent(id)}`,
    );
    return body.transaction;
  }

  /**
   * Polls an order until it is `ready` with a server number. Throws on `cancelled`, and on timeout
   * with the transaction ID, its last status and the elapsed time.
   */
  async waitForTransaction(id: string, options: WaitOptions = {}): Promise<ReadyServer> {
    const timeoutMs = options.timeoutMs ?? 3_600_000;
    const pollMs = options.pollMs ?? 30_000;
    const start = this.#now();
    for (;;) {
      const tx = await this.getTransaction(id);
      if (tx.status === "ready" && tx.server_number !== null && tx.server_number !== undefined) {
        return { serverNumber: tx.server_number, serverIp: tx.server_ip ?? null, transaction: tx };
      }
      if (tx.status === "cancelled") {
        throw new Error(`Robot order ${id} was cancelled; check the order in Robot and order again.`);
      }
      const elapsed = this.#now() - start;
      if (elapsed >= timeoutMs) {
        const status = tx.status === "ready" ? "ready (no server_number yet)" : tx.status;
        throw new Error(
          `Robot order ${id} still "${status}" after ${elapsed} ms (timeout ${timeoutMs} ms); ` +
            "it may need manual processing by Hetzner: check the order in Robot, then wait again with a longer timeoutMs.",
        );
      }
      await this.#sleep(Math.min(pollMs, timeoutMs - elapsed));
    }
  }

  /** `GET /firewall/{n}`: the server's firewall. */
  async getFirewall(serverNumber: number): Promise<RobotFirewall> {
    const body = await this.#request<{ firewall: RobotFirewall }>("GET", `/firewall/${serverNumber}`);
    return body.firewall;
  }

  /** `POST /firewall/{n}`: replaces the firewall's status and rules. */
  async setFirewall(serverNumber: number, settings: FirewallSettings): Promise<RobotFirewall> {
    const form = encodeForm({
      status: settings.status,
      whitelist_hos: settings.whitelistHos ?? true,
      filter_ipv6: settings.filterIpv6,
      ...firewallRuleFields("input", settings.input),
      ...firewallRuleFields("output", settings.output ?? []),
    });
    const body = await this.#request<{ firewall: RobotFirewall }>("POST", `/firewall/${serverNumber}`, form);
    return body.firewall;
  }

  /** `POST /vswitch`: creates a vSwitch; `vlan` (4000–4091) is checked before any request. */
  async createVswitch(name: string, vlan: number): Promise<RobotVswitch> {
    validateVlan(vlan);
    if (name.trim() === "") throw new Error("createVswitch name: empty; pass a name such as \"gpu-fleet\".");
    return this.#request<RobotVswitch>("POST", "/vswitch", encodeForm({ name, vlan }));
  }

  /** `POST /vswitch/{id}/server`: adds servers (at most 100 per vSwitch). */
  async addServerToVswitch(vswitchId: number, serverNumbers: readonly number[]): Promise<void> {
    if (serverNumbers.length === 0 || serverNumbers.length > VSWITCH_MAX_SERVERS) {
      throw new RangeError(
        `addServerToVswitch serverNumbers: ${serverNumbers.length} servers; pass 1 to ${VSWITCH_MAX_SERVERS} server numbers.`,
      );
    }
    await this.#request<unknown>("POST", `/vswitch/${vswitchId}/server`, encodeForm({ server: serverNumbers }));
  }

  /** Removes the password from text that might echo it. */
  #redact(text: string): string {
    return this.#password.length > 0 ? text.split(this.#password).join("***") : text;
  }

  async #request<T>(method: "GET" | "POST", path: string, form?: string): Promise<T> {
    const headers: Record<string, string> = { Authorization: this.#authorization, Accept: "application/json" };
    if (form !== undefined) headers["Content-Type"] = "application/x-www-form-urlencoded";
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.#fetch(`${this.#baseUrl}${path}`, { method, headers, body: form });
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new RobotError({
          status: 0,
          code: "NETWORK_ERROR",
          robotMessage: this.#redact(why),
          method,
          path,
          message: `Robot ${method} ${path} failed before a response: ${this.#redact(why)}`,
        });
      }
      const text = await res.text();
      if (res.ok) {
        if (text.trim() === "") return undefined as T;
        try {
          return JSON.parse(text) as T;
        } catch {
          const snippet = this.#redact(text.slice(0, 200));
          const message = `Robot ${method} ${path} answered ${res.status} with a body that is not JSON: ${snippet}`;
          throw new RobotError({ status: res.status, code: "INVALID_JSON", robotMessage: snippet, method, path, message });
        }
      }
      const body = parseErrorBody(text);
      // Robot signals rate limits as 429, or as 403 with code RATE_LIMIT_EXCEEDED (community.hrobot
      // test fixtures); 503 is maintenance. All three mean "not processed", so a retry is safe.
      const rateLimited = res.status === 429 || res.status === 503 || (res.status === 403 && body?.code === "RATE_LIMIT_EXCEEDED");
      if (rateLimited && attempt < this.#maxRetries) {
        const hinted =
          parseRetryAfter(res.headers.get("retry-after"), this.#now()) ??
          (typeof body?.interval === "number" ? body.interval * 1000 : null);
        const wait = hinted ?? this.#retryBaseMs * 2 ** attempt;
        if (wait <= this.#maxRetryWaitMs) {
          await this.#sleep(wait);
          continue;
        }
        throw this.#error(method, path, res.status, body, text, attempt, `Robot asks to wait ${wait} ms, more than maxRetryWaitMs ${this.#maxRetryWaitMs} ms`);
      }
      throw this.#error(method, path, res.status, body, text, attempt, rateLimited ? undefined : null);
    }
  }

  /** `rateNote`: undefined = retries exhausted, string = gave up early, null = not a rate limit. */
  #error(
    method: string,
    path: string,
    status: number,
    body: RobotErrorBody | undefined,
    text: string,
    retries: number,
    rateNote: string | null | undefined,
  ): RobotError {
    const code = body?.code ?? `HTTP_${status}`;
    const robotMessage = this.#redact(body?.message ?? text.slice(0, 200));
    let message = `Robot ${method} ${path} failed: ${status} ${code}: ${robotMessage}`;
    if (status === 401) {
      message +=
        ` — the Robot webservice user "${this.#redact(this.#user)}" or its password is wrong` +
        " (use the webservice user from Robot → Settings → Web service settings, not a Cloud API token)." +
        " Not retried: three failed logins block this client IP for 10 minutes.";
    } else if (rateNote !== null) {
      const why = rateNote ?? `gave up after ${retries} ${retries === 1 ? "retry" : "retries"}`;
      message += ` (${why}; Robot rate-limits requests, order POSTs most tightly: try again later)`;
    } else if (status === 409) {
      message += " (conflict: not retried; the resource or transaction is already in that state or in progress)";
    }
    return new RobotError({ status, code, robotMessage, method, path, message });
  }
}
