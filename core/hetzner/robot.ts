/**
 * A small client for the Hetzner Robot webservice (dedicated servers, orders, firewall, vSwitch).
 *
 * Pure apart from the injected `fetch` and `sleep`: no `@pulumi/*` import, so it can back a Pulumi
 * dynamic provider, the CLI and tests alike. Facts: https://robot.hetzner.com/doc/webservice/en.html
 * (read 2026-11-30; see shared/facts/providers-gpus-power.md §1.2).
 *
 * vSwitch changes are asynchronous in Robot: the calls that change one wait out a 409
 * `VSWITCH_IN_PROCESS` (bounded), and `waitForVswitchServers` / `waitForVswitchServersRemoved` poll the
 * per-server status.
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
/** Default wait for a vSwitch change (per-server status, or a 409 `VSWITCH_IN_PROCESS`) to finish, ms. */
export const DEFAULT_VSWITCH_TIMEOUT_MS = 600_000;
/** Default wait between vSwitch polls, ms (community.hrobot's v_switch module waits 10 s too). */
export const DEFAULT_VSWITCH_POLL_MS = 10_000;

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
  /** With `INVALID_INPUT`: the parameters that are missing, or null (webservice doc, "Errors"). */
  missing?: string[] | null;
  /** With `INVALID_INPUT`: the parameters that are invalid, or null (webservice doc, "Errors"). */
  invalid?: string[] | null;
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

/**
 * The recurring price of a product at one location, EUR as decimal strings: monthly `net`/`gross` and,
 * in the same object, the hourly `hourly_net`/`hourly_gross` (webservice doc, "Ordering"; the same
 * shape appears in the doc's examples quoted by the hrobot crate, src/api/ordering/models.rs).
 */
export interface RobotRecurringPrice {
  /** Monthly price without VAT. */
  net: string;
  /** Monthly price with VAT. */
  gross: string;
  /** Hourly price without VAT (left out by some older answers). */
  hourly_net?: string;
  /** Hourly price with VAT (left out by some older answers). */
  hourly_gross?: string;
}

/** A price of a product at one location, as `GET /order/server/product` lists it under `prices`. */
export interface RobotProductPrice {
  location: string;
  /** Recurring price: monthly and hourly. */
  price: RobotRecurringPrice;
  /** One-time setup fee. */
  price_setup: { net: string; gross: string };
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

/** Options of the waiting calls ({@link RobotClient.waitForTransaction}, the vSwitch calls). */
export interface WaitOptions {
  /** Give up after this long, ms. @default 3_600_000 (one hour) for orders, 600_000 for vSwitches */
  timeoutMs?: number;
  /** Wait between polls, ms. @default 30_000 for orders, 10_000 for vSwitches */
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

/** Per-server status in a vSwitch: adding and removing servers is asynchronous (webservice doc, "vSwitch"). */
export type RobotVswitchServerStatus = "ready" | "in process" | "failed";

/** A server as `GET /vswitch/{id}` lists it. */
export interface RobotVswitchServer {
  server_ip: string | null;
  server_ipv6_net?: string | null;
  server_number: number;
  status: RobotVswitchServerStatus;
}

/** A vSwitch as Robot returns it (vSwitch answers are not wrapped in a `{"vswitch": …}` object). */
export interface RobotVswitch {
  id: number;
  name: string;
  vlan: number;
  cancelled: boolean;
  server?: RobotVswitchServer[];
  subnet?: unknown[];
  cloud_network?: unknown[];
}

/**
 * A server's cancellation state, `GET /server/{n}/cancellation` (webservice doc, "Server"). Before a
 * cancellation Robot reports `earliest_cancellation_date`; after one, `cancellation_date`.
 */
export interface RobotCancellation {
  server_ip: string | null;
  server_ipv6_net?: string | null;
  server_number: number;
  server_name?: string;
  /** First date a cancellation may take effect, `yyyy-mm-dd`. */
  earliest_cancellation_date?: string;
  cancelled: boolean;
  /** Whether the location can be reserved for a follow-up server. */
  reservation_possible?: boolean;
  reserved?: boolean;
  /** Date the cancellation takes effect, once cancelled. */
  cancellation_date?: string | null;
  cancellation_reason?: string[] | string | null;
}

/** Arguments of {@link RobotClient.cancelServer}. */
export interface CancelServerArgs {
  /** `yyyy-mm-dd` (not before `earliest_cancellation_date`) or `now` (the server ends at once). */
  cancellationDate: string;
  /** Keep the location reserved for a follow-up server. @default false */
  reserveLocation?: boolean;
  /** One of the reasons Robot lists in `cancellation_reason`. @default none sent */
  reason?: string;
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

/** Throws unless `date` is `now` or a `yyyy-mm-dd` date, as Robot's cancellation calls take it. */
export function validateCancellationDate(what: string, date: string): void {
  if (date !== "now" && !/^\d{4}-\d{2}-\d{2}$/.test(date)) {
    throw new RangeError(`${what} cancellationDate: "${date}" is neither "now" nor a date such as 2026-12-31 (yyyy-mm-dd).`);
  }
}

/**
 * Whether Robot's product name or id `actual` names the product `wanted`: the same id, the id with a
 * numeric suffix some accounts see ("GEX131-1" for "GEX131"), or a name ending in it ("Dedicated
 * Server GEX45" for "GEX45"). Not a longer id ("GEX1311" is not "GEX131"). Case-insensitive. Pure.
 */
export function productIdMatches(actual: string, wanted: string): boolean {
  const w = wanted.trim().toUpperCase().replace(/\s+/g, " ");
  if (w === "") return false;
  const a = actual.trim().toUpperCase().replace(/\s+/g, " ");
  const candidates = [a, a.split(" ").pop() as string];
  return candidates.some((c) => c === w || (c.startsWith(`${w}-`) && /^\d+$/.test(c.slice(w.length + 1))));
}

/**
 * Picks the product to order for `wanted` from `GET /order/server/product`: the exact id if listed,
 * else the one suffixed id ("GEX131-1"); only products offered in `location` when it is given. Returns
 * the product, or an error text naming the ids Robot lists. Pure.
 */
export function findProduct(products: readonly RobotProduct[], wanted: string, location?: string): { product: RobotProduct } | { error: string } {
  const matching = products.filter((p) => productIdMatches(p.id, wanted));
  if (matching.length === 0) {
    const ids = products.map((p) => p.id);
    return { error: `Robot lists no product "${wanted}" (nor "${wanted}-<n>"); it lists ${ids.length > 0 ? ids.join(", ") : "no products"}` };
  }
  const loc = location?.trim().toUpperCase();
  const offered = loc ? matching.filter((p) => !Array.isArray(p.location) || p.location.length === 0 || p.location.map((l) => l.toUpperCase()).includes(loc)) : matching;
  if (offered.length === 0) {
    const where = [...new Set(matching.flatMap((p) => p.location ?? []))];
    return { error: `Robot lists ${matching.map((p) => p.id).join(", ")} but not in ${loc}; offered in ${where.join(", ")}` };
  }
  const exact = offered.find((p) => p.id.toUpperCase() === wanted.trim().toUpperCase());
  if (exact) return { product: exact };
  if (offered.length === 1) return { product: offered[0] as RobotProduct };
  return { error: `several Robot products match "${wanted}": ${offered.map((p) => p.id).join(", ")}; name the one to order` };
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

  /** `GET /vswitch`: all vSwitches of the account (id, name, VLAN, cancelled; no servers). */
  async listVswitches(): Promise<RobotVswitch[]> {
    return this.#request<RobotVswitch[]>("GET", "/vswitch");
  }

  /** `GET /vswitch/{id}`: one vSwitch with its servers and their per-server status. */
  async getVswitch(vswitchId: number): Promise<RobotVswitch> {
    return this.#request<RobotVswitch>("GET", `/vswitch/${vswitchId}`);
  }

  /**
   * `POST /vswitch/{id}`: renames the vSwitch or changes its VLAN in place (the ID stays). Robot sends
   * no body back. A 409 `VSWITCH_IN_PROCESS` is waited out, see {@link RobotClient.addServerToVswitch}.
   */
  async updateVswitch(vswitchId: number, name: string, vlan: number, wait: WaitOptions = {}): Promise<void> {
    validateVlan(vlan);
    if (name.trim() === "") throw new Error("updateVswitch name: empty; pass a name such as \"gpu-fleet\".");
    await this.#whileVswitchBusy(vswitchId, wait, () => this.#request<unknown>("POST", `/vswitch/${vswitchId}`, encodeForm({ name, vlan })));
  }

  /**
   * `POST /vswitch/{id}/server`: adds servers (at most 100 per vSwitch). Robot adds them
   * asynchronously: follow with {@link RobotClient.waitForVswitchServers}. While an earlier change is
   * still in process Robot answers 409 `VSWITCH_IN_PROCESS`; that is retried every `wait.pollMs`
   * (default 10 s) for up to `wait.timeoutMs` (default 10 minutes), then thrown.
   */
  async addServerToVswitch(vswitchId: number, serverNumbers: readonly number[], wait: WaitOptions = {}): Promise<void> {
    if (serverNumbers.length === 0 || serverNumbers.length > VSWITCH_MAX_SERVERS) {
      throw new RangeError(
        `addServerToVswitch serverNumbers: ${serverNumbers.length} servers; pass 1 to ${VSWITCH_MAX_SERVERS} server numbers.`,
      );
    }
    const form = encodeForm({ server: serverNumbers });
    await this.#whileVswitchBusy(vswitchId, wait, () => this.#request<unknown>("POST", `/vswitch/${vswitchId}/server`, form));
  }

  /**
   * `DELETE /vswitch/{id}/server`: removes servers, asynchronously like adding (follow with
   * {@link RobotClient.waitForVswitchServersRemoved}). 409 `VSWITCH_IN_PROCESS` is waited out.
   */
  async removeServersFromVswitch(vswitchId: number, serverNumbers: readonly number[], wait: WaitOptions = {}): Promise<void> {
    if (serverNumbers.length === 0) throw new RangeError("removeServersFromVswitch serverNumbers: empty; pass the server numbers to remove.");
    const form = encodeForm({ server: serverNumbers });
    await this.#whileVswitchBusy(vswitchId, wait, () => this.#request<unknown>("DELETE", `/vswitch/${vswitchId}/server`, form));
  }

  /**
   * `DELETE /vswitch/{id}`: cancels the vSwitch on `cancellationDate` (`yyyy-mm-dd` or `now`).
   * 409 `VSWITCH_IN_PROCESS` is waited out.
   */
  async cancelVswitch(vswitchId: number, cancellationDate: string, wait: WaitOptions = {}): Promise<void> {
    validateCancellationDate("cancelVswitch", cancellationDate);
    const form = encodeForm({ cancellation_date: cancellationDate });
    await this.#whileVswitchBusy(vswitchId, wait, () => this.#request<unknown>("DELETE", `/vswitch/${vswitchId}`, form));
  }

  /**
   * Polls `GET /vswitch/{id}` until every server in `serverNumbers` is listed as `ready`. Throws naming
   * the server when one is `failed`, and on timeout naming the servers still pending.
   */
  async waitForVswitchServers(vswitchId: number, serverNumbers: readonly number[], options: WaitOptions = {}): Promise<RobotVswitch> {
    return this.#pollVswitch(vswitchId, options, (vs) => {
      const listed = new Map((vs.server ?? []).map((s) => [s.server_number, s.status]));
      const failed = serverNumbers.filter((n) => listed.get(n) === "failed");
      if (failed.length > 0) {
        throw new Error(
          `Robot vSwitch ${vswitchId}: adding server ${failed.join(", ")} failed (status "failed"); remove it from the vSwitch in Robot (or with DELETE /vswitch/${vswitchId}/server) and try again.`,
        );
      }
      const pending = serverNumbers.filter((n) => listed.get(n) !== "ready");
      return pending.length === 0 ? null : pending.map((n) => `${n} ${listed.has(n) ? `"${listed.get(n) as string}"` : "not listed yet"}`).join(", ");
    });
  }

  /**
   * Polls `GET /vswitch/{id}` until none of `serverNumbers` is listed any more. Throws naming the server
   * when one is `failed`, and on timeout naming the servers still listed.
   */
  async waitForVswitchServersRemoved(vswitchId: number, serverNumbers: readonly number[], options: WaitOptions = {}): Promise<RobotVswitch> {
    return this.#pollVswitch(vswitchId, options, (vs) => {
      const listed = new Map((vs.server ?? []).map((s) => [s.server_number, s.status]));
      const failed = serverNumbers.filter((n) => listed.get(n) === "failed");
      if (failed.length > 0) {
        throw new Error(`Robot vSwitch ${vswitchId}: removing server ${failed.join(", ")} failed (status "failed"); remove it in Robot (vSwitches) and try again.`);
      }
      const still = serverNumbers.filter((n) => listed.has(n));
      return still.length === 0 ? null : still.map((n) => `${n} "${listed.get(n) as string}"`).join(", ");
    });
  }

  /** `GET /server/{n}/cancellation`: whether the server is cancelled, and the earliest date it can be. */
  async getServerCancellation(serverNumber: number): Promise<RobotCancellation> {
    const body = await this.#request<{ cancellation: RobotCancellation }>("GET", `/server/${serverNumber}/cancellation`);
    return body.cancellation;
  }

  /**
   * `POST /server/{n}/cancellation`: cancels a dedicated server on `cancellationDate` (`yyyy-mm-dd`, or
   * `now` to end it at once). Sends `reserve_location=false` unless asked. Withdraw it with
   * {@link RobotClient.withdrawServerCancellation} before that date.
   */
  async cancelServer(serverNumber: number, args: CancelServerArgs): Promise<RobotCancellation> {
    validateCancellationDate("cancelServer", args.cancellationDate);
    const form = encodeForm({
      cancellation_date: args.cancellationDate,
      cancellation_reason: args.reason,
      reserve_location: args.reserveLocation === true ? "true" : "false",
    });
    const body = await this.#request<{ cancellation: RobotCancellation }>("POST", `/server/${serverNumber}/cancellation`, form);
    return body.cancellation;
  }

  /** `DELETE /server/{n}/cancellation`: withdraws a cancellation that has not taken effect yet. */
  async withdrawServerCancellation(serverNumber: number): Promise<void> {
    await this.#request<unknown>("DELETE", `/server/${serverNumber}/cancellation`);
  }

  /**
   * Runs a vSwitch change, retrying it while Robot answers 409 `VSWITCH_IN_PROCESS` (an earlier change
   * is still being applied), for at most `wait.timeoutMs`.
   */
  async #whileVswitchBusy<T>(vswitchId: number, wait: WaitOptions, call: () => Promise<T>): Promise<T> {
    const timeoutMs = wait.timeoutMs ?? DEFAULT_VSWITCH_TIMEOUT_MS;
    const pollMs = wait.pollMs ?? DEFAULT_VSWITCH_POLL_MS;
    const start = this.#now();
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof RobotError) || err.status !== 409 || err.code !== "VSWITCH_IN_PROCESS") throw err;
        const elapsed = this.#now() - start;
        if (elapsed >= timeoutMs) {
          throw new RobotError({
            status: err.status,
            code: err.code,
            robotMessage: err.robotMessage,
            method: err.method,
            path: err.path,
            message: `${err.message}; still so after ${elapsed} ms (timeout ${timeoutMs} ms): check vSwitch ${vswitchId} in Robot and try again`,
          });
        }
        await this.#sleep(Math.min(pollMs, timeoutMs - elapsed));
      }
    }
  }

  /** Polls a vSwitch until `pending` returns null; `pending` describes what is not done yet, or throws. */
  async #pollVswitch(vswitchId: number, options: WaitOptions, pending: (vs: RobotVswitch) => string | null): Promise<RobotVswitch> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_VSWITCH_TIMEOUT_MS;
    const pollMs = options.pollMs ?? DEFAULT_VSWITCH_POLL_MS;
    const start = this.#now();
    for (;;) {
      const vs = await this.getVswitch(vswitchId);
      const left = pending(vs);
      if (left === null) return vs;
      const elapsed = this.#now() - start;
      if (elapsed >= timeoutMs) {
        throw new Error(
          `Robot vSwitch ${vswitchId}: server ${left} after ${elapsed} ms (timeout ${timeoutMs} ms); check the vSwitch in Robot, then run again with a longer timeout.`,
        );
      }
      await this.#sleep(Math.min(pollMs, timeoutMs - elapsed));
    }
  }

  /** Removes the password from text that might echo it. */
  #redact(text: string): string {
    return this.#password.length > 0 ? text.split(this.#password).join("***") : text;
  }

  async #request<T>(method: "GET" | "POST" | "DELETE", path: string, form?: string): Promise<T> {
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
    // INVALID_INPUT names the offending parameters only in these arrays (webservice doc, "Errors").
    const fields = (label: string, list: unknown): string =>
      Array.isArray(list) && list.length > 0 ? `${label}: ${list.map((x) => this.#redact(String(x))).join(", ")}` : "";
    const details = [fields("invalid", body?.invalid), fields("missing", body?.missing)].filter((x) => x !== "");
    if (details.length > 0) message += ` (${details.join("; ")})`;
    if (status === 401) {
      message +=
        ` — the Robot webservice user "${this.#redact(this.#user)}" or its password is wrong` +
        " (use the webservice user from Robot → Settings → Web service settings, not a Cloud API token)." +
        " Not retried: three failed logins block this client IP for 10 minutes.";
    } else if (rateNote !== null) {
      const why = rateNote ?? `gave up after ${retries} ${retries === 1 ? "retry" : "retries"}`;
      message += ` (${why}; Robot rate-limits requests, order POSTs most tightly: try again later)`;
    } else if (status === 409 && code === "VSWITCH_IN_PROCESS") {
      message += " (an earlier change of this vSwitch is still being applied)";
    } else if (status === 409 && code === "VSWITCH_VLAN_NOT_UNIQUE") {
      message += " (the VLAN ID is already used by another vSwitch: pick another VLAN ID from 4000 to 4091)";
    } else if (status === 409) {
      message += " (conflict: not retried; the resource or transaction is already in that state or in progress)";
    }
    return new RobotError({ status, code, robotMessage, method, path, message });
  }
}
