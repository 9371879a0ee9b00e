/**
 * A local stand-in for the Hetzner Robot webservice: real HTTP on 127.0.0.1, Basic auth, urlencoded
 * bodies, Robot-shaped JSON and error bodies, and a log of every request for assertions.
 *
 * It rejects what the webservice documentation says Robot rejects (read 2026-11-30:
 * https://robot.hetzner.com/doc/webservice/en.html, sections "Errors", "Server", "Ordering",
 * "Firewall", "vSwitch"; https://docs.hetzner.com/robot/dedicated-server/firewall/; summarised in
 * shared/facts/providers-gpus-power.md, "Robot webservice: limits that a real call enforces"). Those
 * checks are written here on their own, from the documentation, and deliberately do not use
 * core/hetzner/firewall.ts: the mock must catch that builder's mistakes, not repeat them.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** A request the mock received; keys ending in `[]` always hold arrays. */
export interface RecordedRequest {
  method: string;
  path: string;
  body: Record<string, string | string[]>;
  /** Whether the Basic credentials matched. */
  authorized: boolean;
  /** HTTP status the mock answered. */
  status?: number;
}

/** A scripted order transaction. */
export interface ScriptedTransaction {
  /** Polls answered `in process` before `ready`; `null` stays `in process` forever. */
  readyAfterPolls: number | null;
  /** Answer `cancelled` instead of `ready`. @default false */
  cancel?: boolean;
  /** Server number once ready. @default 4711 */
  serverNumber?: number;
}

/** A dedicated server the mock knows (`GET /server/{n}`). */
export interface MockServer {
  server_number: number;
  server_ip: string | null;
  server_ipv6_net: string | null;
  server_name: string;
  /** Product as Robot reports it, e.g. `GEX45` or `GEX131-1`. */
  product: string;
  dc: string;
  /** First date a cancellation may take effect. @default "2026-12-31" */
  earliest_cancellation_date?: string;
}

/** A vSwitch that exists before the test starts. */
export interface MockVswitchSeed {
  id: number;
  name: string;
  vlan: number;
  cancelled?: boolean;
  /** Servers already in it, all `ready`. */
  servers?: number[];
}

/** Options of {@link startRobotMock}. */
export interface RobotMockOptions {
  /** @default "robot-user" */
  user?: string;
  /** @default "s3cret-Pa55" */
  password?: string;
  /** Transactions known up front, by ID. */
  transactions?: Record<string, ScriptedTransaction>;
  /** Script for transactions created by real (`test=false`) orders. @default ready after 2 polls */
  orderScript?: ScriptedTransaction;
  /** Answer 429 (Retry-After: 0) this many times on `METHOD /path` (e.g. `GET /server/321`); `Infinity` for ever. */
  rateLimit?: Record<string, number>;
  /**
   * Answer Robot's other rate-limit form, 403 `RATE_LIMIT_EXCEEDED` with `interval` (seconds), this
   * many times on `METHOD /path`. @default interval 0
   */
  robotRateLimit?: Record<string, { count: number; intervalSeconds?: number }>;
  /** Answer 409 on these `METHOD /path` keys. */
  conflict?: readonly string[];
  /** Servers Robot knows. @default {@link DEFAULT_SERVERS} */
  servers?: readonly MockServer[];
  /** Products `GET /order/server/product` lists. @default {@link DEFAULT_PRODUCTS} */
  products?: readonly MockProduct[];
  /**
   * vSwitch requests (to `/vswitch/{id}…`) a per-server change stays `in process` for before it is
   * done; each request to that vSwitch, answered or refused, counts as time passing. @default 2
   */
  vswitchBusyRequests?: number;
  /** Servers whose vSwitch change ends `failed` instead of `ready`. */
  vswitchFailServers?: readonly number[];
  /** vSwitches that exist up front. */
  vswitches?: readonly MockVswitchSeed[];
}

/** A running mock. */
export interface RobotMock {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Requests received for one `METHOD /path` key. */
  requestsFor(key: string): RecordedRequest[];
  /** Current vSwitches, as `GET /vswitch/{id}` would show them (without advancing time). */
  vswitch(id: number): MockVswitchView | undefined;
  /** Current cancellation of a server, if any. */
  cancellation(serverNumber: number): { date: string; reserveLocation: boolean } | undefined;
  /** Stops the server. */
  close(): Promise<void>;
}

/** A vSwitch as the mock holds it. */
export interface MockVswitchView {
  id: number;
  name: string;
  vlan: number;
  cancelled: boolean;
  server: { server_number: number; status: string }[];
}

/** A product row as `GET /order/server/product` lists it. */
export interface MockProduct {
  id: string;
  name: string;
  description: string[];
  traffic: string;
  dist: string[];
  lang: string[];
  location: string[];
  prices: {
    location: string;
    price: { net: string; gross: string; hourly_net: string; hourly_gross: string };
    price_setup: { net: string; gross: string };
  }[];
  orderable_addons: { id: string; name: string }[];
}

/**
 * Products, prices from shared/facts/providers-gpus-power.md §1.1 (Oct 2026), for shape only. Prices
 * sit under `price` with the hourly ones beside the monthly ones, as in the webservice doc's examples
 * ("Ordering"). GEX131 is listed with an id suffix, as some accounts see it.
 */
export const DEFAULT_PRODUCTS: readonly MockProduct[] = [
  {
    id: "GEX45",
    name: "Dedicated Server GEX45",
    description: ["NVIDIA RTX PRO 4000 Blackwell SFF, 24 GB GDDR7", "Intel Core i5-13500, 64 GB RAM"],
    traffic: "unlimited",
    dist: ["Rescue system", "Ubuntu 24.04 LTS base"],
    lang: ["en"],
    location: ["FSN1", "HEL1", "NBG1"],
    prices: [
      {
        location: "FSN1",
        price: { net: "212.3000", gross: "252.6370", hourly_net: "0.3402", hourly_gross: "0.4048" },
        price_setup: { net: "209.0000", gross: "248.7100" },
      },
    ],
    orderable_addons: [{ id: "primary_ipv4", name: "Primary IPv4" }],
  },
  {
    id: "GEX131-1",
    name: "Dedicated Server GEX131",
    description: ["NVIDIA RTX PRO 6000 Blackwell Max-Q, 96 GB GDDR7 ECC", "Intel Xeon Gold 5412U, 256 GB RAM"],
    traffic: "unlimited",
    dist: ["Rescue system", "Ubuntu 24.04 LTS base"],
    lang: ["en"],
    location: ["NBG1", "FSN1"],
    prices: [
      {
        location: "NBG1",
        price: { net: "1497.3000", gross: "1781.7870", hourly_net: "2.3995", hourly_gross: "2.8554" },
        price_setup: { net: "1499.0000", gross: "1783.8100" },
      },
    ],
    orderable_addons: [{ id: "primary_ipv4", name: "Primary IPv4" }],
  },
];

/** Servers: 321 a GEX45 in FSN1; 654 a GEX131 that Robot reports with its id suffix. */
export const DEFAULT_SERVERS: readonly MockServer[] = [
  { server_number: 321, server_ip: "192.0.2.21", server_ipv6_net: "2001:db8::", server_name: "gpu-1", product: "GEX45", dc: "FSN1-DC14" },
  { server_number: 654, server_ip: "192.0.2.65", server_ipv6_net: "2001:db8:0:65::", server_name: "gpu-big", product: "GEX131-1", dc: "NBG1-DC3" },
];

function parseForm(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    if (k.endsWith("[]")) {
      const prev = out[k];
      out[k] = Array.isArray(prev) ? [...prev, v] : [v];
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Robot's error body for bad parameters (webservice doc, "Errors": INVALID_INPUT with `missing` and `invalid`). */
function invalidInput(invalid: string[], missing: string[] = []): { status: number; body: unknown } {
  return { status: 400, body: { error: { status: 400, code: "INVALID_INPUT", message: "invalid input", missing: missing.length > 0 ? missing : null, invalid: invalid.length > 0 ? invalid : null } } };
}

const PROTOCOLS = ["tcp", "udp", "gre", "icmp", "ipip", "ah", "esp"];
const DATE_OR_NOW = /^(now|\d{4}-\d{2}-\d{2})$/;

/**
 * The parameters of one direction's rules that Robot refuses, per the webservice doc, section
 * "Firewall" (POST /firewall/{server-number}) and the Hetzner firewall doc. Written independently of
 * core/hetzner/firewall.ts.
 */
function firewallRuleProblems(direction: string, rules: Record<string, string>[]): { invalid: string[]; missing: string[] } {
  const invalid: string[] = [];
  const missing: string[] = [];
  // "You can use a maximum of 10 rules per direction."
  if (rules.length > 10) invalid.push(`rules[${direction}]`);
  rules.forEach((rule, i) => {
    const p = `rules[${direction}][${i}]`;
    if (rule === undefined) {
      invalid.push(p);
      return;
    }
    const version = rule.ip_version;
    if (version !== undefined && version !== "ipv4" && version !== "ipv6") invalid.push(`${p}[ip_version]`);
    // src_ip / dst_ip only together with ip_version ipv4: rules for IPv6, or without a version, cannot
    // filter on addresses.
    for (const field of ["src_ip", "dst_ip"]) {
      if (rule[field] !== undefined && version !== "ipv4") invalid.push(`${p}[${field}]`);
    }
    // Without an ip_version a rule cannot filter on a protocol.
    if (rule.protocol !== undefined) {
      if (!PROTOCOLS.includes(rule.protocol)) invalid.push(`${p}[protocol]`);
      else if (version === undefined) invalid.push(`${p}[protocol]`);
      // ICMPv6 cannot be filtered.
      else if (rule.protocol === "icmp" && version === "ipv6") invalid.push(`${p}[protocol]`);
    }
    if (rule.action === undefined) missing.push(`${p}[action]`);
    else if (rule.action !== "accept" && rule.action !== "discard") invalid.push(`${p}[action]`);
  });
  return { invalid, missing };
}

interface VswitchServerState {
  server_number: number;
  status: "ready" | "in process" | "failed";
  /** vSwitch requests left until the pending change is done. */
  busy: number;
  /** The pending change is a removal. */
  removing: boolean;
}

interface VswitchState {
  id: number;
  name: string;
  vlan: number;
  cancelled: boolean;
  servers: VswitchServerState[];
}

/** Starts the mock on 127.0.0.1 on a free port. */
export async function startRobotMock(options: RobotMockOptions = {}): Promise<RobotMock> {
  const user = options.user ?? "robot-user";
  const password = options.password ?? "s3cret-Pa55";
  const expectedAuth = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const scripts = new Map(Object.entries(options.transactions ?? {}));
  const polls = new Map<string, number>();
  const rateLimitLeft = new Map(Object.entries(options.rateLimit ?? {}));
  const robotRateLimitLeft = new Map(Object.entries(options.robotRateLimit ?? {}).map(([k, v]) => [k, { ...v }]));
  const conflict = new Set(options.conflict ?? []);
  const servers = new Map((options.servers ?? DEFAULT_SERVERS).map((s) => [s.server_number, s]));
  const products = options.products ?? DEFAULT_PRODUCTS;
  const busyRequests = options.vswitchBusyRequests ?? 2;
  const failServers = new Set(options.vswitchFailServers ?? []);
  const requests: RecordedRequest[] = [];
  const firewalls = new Map<number, { status: string; filter_ipv6: boolean; whitelist_hos: boolean; port: string; rules: { input: Record<string, string>[]; output: Record<string, string>[] } }>();
  const cancellations = new Map<number, { date: string; reserveLocation: boolean; reason: string | null }>();
  const vswitches = new Map<number, VswitchState>(
    (options.vswitches ?? []).map((v) => [
      v.id,
      { id: v.id, name: v.name, vlan: v.vlan, cancelled: v.cancelled ?? false, servers: (v.servers ?? []).map((n) => ({ server_number: n, status: "ready" as const, busy: 0, removing: false })) },
    ]),
  );
  let nextOrder = 1;
  let nextVswitch = 7000;
  const orderedProducts = new Map<string, string>();

  const transactionBody = (id: string, status: string, script?: ScriptedTransaction) => ({
    transaction: {
      id,
      date: "2026-11-30T08:00:00+01:00",
      status,
      server_number: status === "ready" ? (script?.serverNumber ?? 4711) : null,
      server_ip: status === "ready" ? "192.0.2.47" : null,
      authorized_key: [],
      comment: null,
      product: { id: orderedProducts.get(id) ?? "GEX45", name: "Dedicated Server" },
    },
  });

  const rulesFrom = (body: Record<string, string | string[]>, direction: string): Record<string, string>[] => {
    const rules: Record<string, string>[] = [];
    const re = new RegExp(`^rules\\[${direction}\\]\\[(\\d+)\\]\\[(\\w+)\\]$`);
    for (const [k, v] of Object.entries(body)) {
      const m = re.exec(k);
      if (!m) continue;
      const i = Number(m[1]);
      rules[i] = { ...(rules[i] ?? {}), [m[2] as string]: String(v) };
    }
    return rules;
  };

  const firewallOf = (n: number) => {
    let fw = firewalls.get(n);
    if (!fw) {
      fw = { status: "disabled", filter_ipv6: false, whitelist_hos: true, port: "main", rules: { input: [], output: [] } };
      firewalls.set(n, fw);
    }
    return fw;
  };

  /** Time passes for a vSwitch: pending per-server changes count down and finish. */
  const tick = (vs: VswitchState): void => {
    for (const s of [...vs.servers]) {
      if (s.status !== "in process") continue;
      if (s.busy > 0) s.busy--;
      else if (s.removing) vs.servers.splice(vs.servers.indexOf(s), 1);
      else s.status = failServers.has(s.server_number) ? "failed" : "ready";
    }
  };
  const inProcess = (vs: VswitchState): boolean => vs.servers.some((s) => s.status === "in process");
  const serverRef = (n: number) => {
    const s = servers.get(n);
    return { server_ip: s?.server_ip ?? null, server_ipv6_net: s?.server_ipv6_net ?? null, server_number: n };
  };
  const vswitchBody = (vs: VswitchState) => ({
    id: vs.id,
    name: vs.name,
    vlan: vs.vlan,
    cancelled: vs.cancelled,
    server: vs.servers.map((s) => ({ ...serverRef(s.server_number), status: s.status })),
    subnet: [],
    cloud_network: [],
  });
  // vSwitch doc: a VLAN ID already used by another vSwitch of the account gives 409 VSWITCH_VLAN_NOT_UNIQUE.
  const vlanTaken = (vlan: number, except?: number): boolean => [...vswitches.values()].some((v) => v.id !== except && !v.cancelled && v.vlan === vlan);
  const IN_PROCESS = { status: 409, body: { error: { status: 409, code: "VSWITCH_IN_PROCESS", message: "There is a update running, therefore the vswitch can not be updated" } } };
  const NOT_UNIQUE = { status: 409, body: { error: { status: 409, code: "VSWITCH_VLAN_NOT_UNIQUE", message: "The VLAN ID is not unique" } } };

  const cancellationBody = (n: number) => {
    const s = servers.get(n) as MockServer;
    const c = cancellations.get(n);
    return {
      cancellation: {
        ...serverRef(n),
        server_name: s.server_name,
        earliest_cancellation_date: s.earliest_cancellation_date ?? "2026-12-31",
        cancelled: c !== undefined,
        reservation_possible: true,
        reserved: c?.reserveLocation ?? false,
        cancellation_date: c?.date ?? null,
        cancellation_reason: c ? c.reason : ["Upgrade to a new server", "Dissatisfied with the hardware"],
      },
    };
  };

  /** Answers one authorised request: [status, body, headers]. */
  const route = (method: string, path: string, body: Record<string, string | string[]>): { status: number; body?: unknown; headers?: Record<string, string> } => {
    const notFound = (code: string, message: string) => ({ status: 404, body: { error: { status: 404, code, message } } });
    let m: RegExpExecArray | null;

    // Server
    if (method === "GET" && (m = /^\/server\/(\d+)$/.exec(path))) {
      const s = servers.get(Number(m[1]));
      if (!s) return notFound("SERVER_NOT_FOUND", "Server not found");
      const { earliest_cancellation_date: _unused, ...rest } = s;
      return { status: 200, body: { server: { ...rest, status: "ready", cancelled: cancellations.has(s.server_number), paid_until: "2026-12-31", ip: s.server_ip ? [s.server_ip] : [] } } };
    }
    if ((m = /^\/server\/(\d+)\/cancellation$/.exec(path))) {
      const n = Number(m[1]);
      const s = servers.get(n);
      if (!s) return notFound("SERVER_NOT_FOUND", "Server not found");
      if (method === "GET") return { status: 200, body: cancellationBody(n) };
      if (method === "POST") {
        // Server doc: cancellation_date is "yyyy-mm-dd" (not before the earliest date) or "now";
        // reserve_location is "true" or "false".
        const date = body["cancellation_date"];
        if (date === undefined) return invalidInput([], ["cancellation_date"]);
        if (typeof date !== "string" || !DATE_OR_NOW.test(date) || (date !== "now" && date < (s.earliest_cancellation_date ?? "2026-12-31"))) return invalidInput(["cancellation_date"]);
        const reserve = body["reserve_location"];
        if (reserve !== undefined && reserve !== "true" && reserve !== "false") return invalidInput(["reserve_location"]);
        if (cancellations.has(n)) return { status: 409, body: { error: { status: 409, code: "CONFLICT", message: "The server is already cancelled" } } };
        cancellations.set(n, { date: date === "now" ? "2026-11-30" : date, reserveLocation: reserve === "true", reason: typeof body["cancellation_reason"] === "string" ? body["cancellation_reason"] : null });
        return { status: 200, body: cancellationBody(n) };
      }
      if (method === "DELETE") {
        if (!cancellations.delete(n)) return notFound("NOT_FOUND", "No cancellation to withdraw");
        return { status: 200 };
      }
    }

    // Ordering
    if (method === "GET" && path === "/order/server/product") return { status: 200, body: products.map((product) => ({ product })) };
    if (method === "POST" && path === "/order/server/transaction") {
      // Ordering doc: product_id must be a listed id, exactly (a suffixed one such as "GEX131-1" is its own id).
      const product = products.find((p) => p.id === body["product_id"]);
      if (!product) return notFound("PRODUCT_NOT_FOUND", "Product not found");
      if (!product.location.includes(String(body["location"]))) return invalidInput(["location"]);
      if (body["test"] === "true") return { status: 200, body: transactionBody("B-TEST", "in process") };
      const id = `B20261130-${nextOrder++}`;
      scripts.set(id, options.orderScript ?? { readyAfterPolls: 2 });
      orderedProducts.set(id, product.id);
      return { status: 201, body: transactionBody(id, "in process") };
    }
    if (method === "GET" && (m = /^\/order\/server\/transaction\/([^/]+)$/.exec(path))) {
      const id = decodeURIComponent(m[1] as string);
      const script = scripts.get(id);
      if (!script) return notFound("TRANSACTION_NOT_FOUND", "Transaction not found");
      const n = (polls.get(id) ?? 0) + 1;
      polls.set(id, n);
      const done = script.readyAfterPolls !== null && n > script.readyAfterPolls;
      return { status: 200, body: transactionBody(id, done ? (script.cancel ? "cancelled" : "ready") : "in process", script) };
    }

    // Firewall
    if ((m = /^\/firewall\/(\d+)$/.exec(path))) {
      const n = Number(m[1]);
      const s = servers.get(n);
      if (!s) return notFound("SERVER_NOT_FOUND", "Server not found");
      const fw = firewallOf(n);
      if (method === "POST") {
        const input = rulesFrom(body, "input");
        const output = rulesFrom(body, "output");
        const a = firewallRuleProblems("input", input);
        const b = firewallRuleProblems("output", output);
        const invalid = [...a.invalid, ...b.invalid];
        const missing = [...a.missing, ...b.missing];
        if (body["status"] !== "active" && body["status"] !== "disabled") (body["status"] === undefined ? missing : invalid).push("status");
        for (const flag of ["whitelist_hos", "filter_ipv6"]) {
          if (body[flag] !== undefined && body[flag] !== "true" && body[flag] !== "false") invalid.push(flag);
        }
        if (invalid.length > 0 || missing.length > 0) return invalidInput(invalid, missing);
        fw.status = String(body["status"]);
        fw.whitelist_hos = body["whitelist_hos"] === "true";
        if (body["filter_ipv6"] !== undefined) fw.filter_ipv6 = body["filter_ipv6"] === "true";
        fw.rules = { input, output };
        return { status: 202, body: { firewall: { server_ip: s.server_ip, server_number: n, ...fw, status: "in process" } } };
      }
      return { status: 200, body: { firewall: { server_ip: s.server_ip, server_number: n, ...fw } } };
    }

    // vSwitch
    if (method === "GET" && path === "/vswitch") return { status: 200, body: [...vswitches.values()].map((v) => ({ id: v.id, name: v.name, vlan: v.vlan, cancelled: v.cancelled })) };
    if (method === "POST" && path === "/vswitch") {
      const vlan = Number(body["vlan"]);
      if (!(Number.isInteger(vlan) && vlan >= 4000 && vlan <= 4091)) return invalidInput(["vlan"]);
      if (typeof body["name"] !== "string" || body["name"] === "") return invalidInput([], ["name"]);
      if (vlanTaken(vlan)) return NOT_UNIQUE;
      const vs: VswitchState = { id: nextVswitch++, name: body["name"], vlan, cancelled: false, servers: [] };
      vswitches.set(vs.id, vs);
      return { status: 201, body: vswitchBody(vs) };
    }
    if ((m = /^\/vswitch\/(\d+)(\/server)?$/.exec(path))) {
      const vs = vswitches.get(Number(m[1]));
      if (!vs) return notFound("NOT_FOUND", "vSwitch not found");
      // Each request to the vSwitch is time passing for its pending per-server changes.
      tick(vs);
      const serverPath = m[2] !== undefined;
      if (method === "GET" && !serverPath) return { status: 200, body: vswitchBody(vs) };
      if (vs.cancelled) return { status: 409, body: { error: { status: 409, code: "CONFLICT", message: "The vSwitch is cancelled" } } };
      // vSwitch doc: while a change is in process, another change is answered 409 VSWITCH_IN_PROCESS.
      if (inProcess(vs)) return IN_PROCESS;
      if (method === "POST" && !serverPath) {
        // POST /vswitch/{id}: name and vlan, changed in place.
        const missing = ["name", "vlan"].filter((k) => body[k] === undefined);
        if (missing.length > 0) return invalidInput([], missing);
        const vlan = Number(body["vlan"]);
        if (!(Number.isInteger(vlan) && vlan >= 4000 && vlan <= 4091)) return invalidInput(["vlan"]);
        if (vlanTaken(vlan, vs.id)) return NOT_UNIQUE;
        vs.name = String(body["name"]);
        vs.vlan = vlan;
        return { status: 201 };
      }
      if (method === "DELETE" && !serverPath) {
        // DELETE /vswitch/{id}: cancellation_date "yyyy-mm-dd" or "now".
        const date = body["cancellation_date"];
        if (date === undefined) return invalidInput([], ["cancellation_date"]);
        if (typeof date !== "string" || !DATE_OR_NOW.test(date)) return invalidInput(["cancellation_date"]);
        vs.cancelled = true;
        return { status: 200 };
      }
      const numbers = ((body["server[]"] as string[] | undefined) ?? []).map(Number);
      if (numbers.length === 0) return invalidInput([], ["server"]);
      const unknown = numbers.find((n) => !servers.has(n));
      if (unknown !== undefined) return notFound("SERVER_NOT_FOUND", `Server ${unknown} not found`);
      if (method === "POST") {
        // Adding is asynchronous: each server is "in process" for a while, then "ready" (or "failed").
        for (const n of numbers) {
          if (!vs.servers.some((s) => s.server_number === n)) vs.servers.push({ server_number: n, status: "in process", busy: busyRequests, removing: false });
        }
        return { status: 201 };
      }
      if (method === "DELETE") {
        const absent = numbers.find((n) => !vs.servers.some((s) => s.server_number === n));
        if (absent !== undefined) return notFound("SERVER_NOT_FOUND", `Server ${absent} is not in this vSwitch`);
        for (const s of vs.servers.filter((x) => numbers.includes(x.server_number))) Object.assign(s, { status: "in process", busy: busyRequests, removing: true });
        return { status: 200 };
      }
    }
    return notFound("NOT_FOUND", `No such route: ${method} ${path}`);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const method = req.method ?? "GET";
      const path = new URL(req.url ?? "/", "http://mock").pathname;
      const body = parseForm(Buffer.concat(chunks).toString("utf8"));
      const authorized = req.headers.authorization === expectedAuth;
      const record: RecordedRequest = { method, path, body, authorized };
      requests.push(record);
      const key = `${method} ${path}`;
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
        Object.defineProperty(record, "status", { value: status, enumerable: false, writable: true });
        res.writeHead(status, { "Content-Type": "application/json", ...headers });
        res.end(payload === undefined ? "" : JSON.stringify(payload));
      };

      if (!authorized) return send(401, { error: { status: 401, code: "UNAUTHORIZED", message: "Unauthorized" } });
      const left = rateLimitLeft.get(key) ?? 0;
      if (left > 0) {
        rateLimitLeft.set(key, left - 1);
        return send(429, { error: { status: 429, code: "RATE_LIMIT_EXCEEDED", message: "Rate limit exceeded" } }, { "Retry-After": "0" });
      }
      const rl = robotRateLimitLeft.get(key);
      if (rl && rl.count > 0) {
        rl.count--;
        return send(403, { error: { status: 403, code: "RATE_LIMIT_EXCEEDED", message: "Rate limit exceeded", interval: rl.intervalSeconds ?? 0, max_request: 200 } });
      }
      if (conflict.has(key)) return send(409, { error: { status: 409, code: "CONFLICT", message: "Conflict: an operation is already in progress" } });
      const answer = route(method, path, body);
      return send(answer.status, answer.body, answer.headers);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsFor: (key) => requests.filter((r) => `${r.method} ${r.path}` === key),
    vswitch: (id) => {
      const vs = vswitches.get(id);
      return vs ? { id: vs.id, name: vs.name, vlan: vs.vlan, cancelled: vs.cancelled, server: vs.servers.map((s) => ({ server_number: s.server_number, status: s.status })) } : undefined;
    },
    cancellation: (n) => {
      const c = cancellations.get(n);
      return c ? { date: c.date, reserveLocation: c.reserveLocation } : undefined;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
