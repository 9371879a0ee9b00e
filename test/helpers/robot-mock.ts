/**
 * A local stand-in for the Hetzner Robot webservice: real HTTP on 127.0.0.1, Basic auth, urlencoded
 * bodies, Robot-shaped JSON and error bodies, and a log of every request for assertions.
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
}

/** A running mock. */
export interface RobotMock {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Requests received for one `METHOD /path` key. */
  requestsFor(key: string): RecordedRequest[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Mock product row; prices from shared/facts/providers-gpus-power.md §1.1 (Oct 2026), for shape only. */
const GEX45 = {
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
      price: { net: "212.3000", gross: "252.6370" },
      price_setup: { net: "209.0000", gross: "248.7100" },
      price_hourly: { net: "0.3402", gross: "0.4048" },
    },
  ],
  orderable_addons: [{ id: "primary_ipv4", name: "Primary IPv4" }],
};

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

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(body === undefined ? "" : JSON.stringify(body));
}

function robotError(res: http.ServerResponse, status: number, code: string, message: string, headers?: Record<string, string>): void {
  send(res, status, { error: { status, code, message } }, headers);
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
  const requests: RecordedRequest[] = [];
  let firewall = { server_ip: "192.0.2.21", server_number: 321, status: "disabled", filter_ipv6: false, whitelist_hos: true, port: "main", rules: { input: [] as Record<string, unknown>[], output: [] as Record<string, unknown>[] } };
  let nextOrder = 1;
  let nextVswitch = 7000;
  const vswitches = new Map<number, { id: number; name: string; vlan: number; cancelled: boolean; server: { server_number: number }[] }>();

  const transactionBody = (id: string, status: string, script?: ScriptedTransaction) => ({
    transaction: {
      id,
      date: "2026-11-30T08:00:00+01:00",
      status,
      server_number: status === "ready" ? (script?.serverNumber ?? 4711) : null,
      server_ip: status === "ready" ? "192.0.2.47" : null,
      authorized_key: [],
      comment: null,
      product: { id: "GEX45", name: "Dedicated Server GEX45" },
    },
  });

  const rulesFrom = (body: Record<string, string | string[]>, direction: string): Record<string, unknown>[] => {
    const rules: Record<string, unknown>[] = [];
    const re = new RegExp(`^rules\\[${direction}\\]\\[(\\d+)\\]\\[(\\w+)\\]$`);
    for (const [k, v] of Object.entries(body)) {
      const m = re.exec(k);
      if (!m) continue;
      const i = Number(m[1]);
      rules[i] = { ...(rules[i] ?? {}), [m[2] as string]: v };
    }
    return rules;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const method = req.method ?? "GET";
      const path = new URL(req.url ?? "/", "http://mock").pathname;
      const body = parseForm(Buffer.concat(chunks).toString("utf8"));
      const authorized = req.headers.authorization === expectedAuth;
      requests.push({ method, path, body, authorized });
      const key = `${method} ${path}`;

      if (!authorized) return robotError(res, 401, "UNAUTHORIZED", "Unauthorized");
      const left = rateLimitLeft.get(key) ?? 0;
      if (left > 0) {
        rateLimitLeft.set(key, left - 1);
        return robotError(res, 429, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded", { "Retry-After": "0" });
      }
      const rl = robotRateLimitLeft.get(key);
      if (rl && rl.count > 0) {
        rl.count--;
        return send(res, 403, {
          error: { status: 403, code: "RATE_LIMIT_EXCEEDED", message: "Rate limit exceeded", interval: rl.intervalSeconds ?? 0, max_request: 200 },
        });
      }
      if (conflict.has(key)) return robotError(res, 409, "CONFLICT", "Conflict: an operation is already in progress");

      let m: RegExpExecArray | null;
      if (method === "GET" && (m = /^\/server\/(\d+)$/.exec(path))) {
        if (m[1] !== "321") return robotError(res, 404, "SERVER_NOT_FOUND", "Server not found");
        return send(res, 200, {
          server: { server_ip: "192.0.2.21", server_ipv6_net: "2001:db8::", server_number: 321, server_name: "gpu-1", product: "GEX45", dc: "FSN1-DC14", status: "ready", cancelled: false, paid_until: "2026-12-31", ip: ["192.0.2.21"] },
        });
      }
      if (method === "GET" && path === "/order/server/product") return send(res, 200, [{ product: GEX45 }]);
      if (method === "POST" && path === "/order/server/transaction") {
        if (body["product_id"] !== "GEX45") return robotError(res, 404, "PRODUCT_NOT_FOUND", "Product not found");
        if (body["test"] === "true") return send(res, 200, transactionBody("B-TEST", "in process"));
        const id = `B20261130-${nextOrder++}`;
        scripts.set(id, options.orderScript ?? { readyAfterPolls: 2 });
        return send(res, 201, transactionBody(id, "in process"));
      }
      if (method === "GET" && (m = /^\/order\/server\/transaction\/([^/]+)$/.exec(path))) {
        const id = decodeURIComponent(m[1] as string);
        const script = scripts.get(id);
        if (!script) return robotError(res, 404, "TRANSACTION_NOT_FOUND", "Transaction not found");
        const n = (polls.get(id) ?? 0) + 1;
        polls.set(id, n);
        const done = script.readyAfterPolls !== null && n > script.readyAfterPolls;
        return send(res, 200, transactionBody(id, done ? (script.cancel ? "cancelled" : "ready") : "in process", script));
      }
      if ((m = /^\/firewall\/(\d+)$/.exec(path))) {
        if (m[1] !== "321") return robotError(res, 404, "SERVER_NOT_FOUND", "Server not found");
        if (method === "POST") {
          firewall = {
            ...firewall,
            status: String(body["status"]),
            whitelist_hos: body["whitelist_hos"] === "true",
            rules: { input: rulesFrom(body, "input"), output: rulesFrom(body, "output") },
          };
          return send(res, 202, { firewall: { ...firewall, status: "in process" } });
        }
        return send(res, 200, { firewall });
      }
      if (method === "POST" && path === "/vswitch") {
        const vlan = Number(body["vlan"]);
        if (!(vlan >= 4000 && vlan <= 4091)) return robotError(res, 400, "INVALID_INPUT", "invalid input");
        const vs = { id: nextVswitch++, name: String(body["name"]), vlan, cancelled: false, server: [] };
        vswitches.set(vs.id, vs);
        return send(res, 201, { ...vs, subnet: [], cloud_network: [] });
      }
      if (method === "POST" && (m = /^\/vswitch\/(\d+)\/server$/.exec(path))) {
        const vs = vswitches.get(Number(m[1]));
        if (!vs) return robotError(res, 404, "NOT_FOUND", "vSwitch not found");
        for (const s of (body["server[]"] as string[] | undefined) ?? []) vs.server.push({ server_number: Number(s) });
        return send(res, 201, undefined);
      }
      return robotError(res, 404, "NOT_FOUND", `No such route: ${key}`);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsFor: (key) => requests.filter((r) => `${r.method} ${r.path}` === key),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
