import { encodeForm, findProduct, parseRetryAfter, productIdMatches, RobotClient, RobotError, type FirewallRule, type RobotProduct } from "../core/hetzner/robot";
import { robotFirewallRules } from "../core/hetzner/firewall";
import { DEFAULT_PRODUCTS, startRobotMock, type RobotMock, type RobotMockOptions } from "./helpers/robot-mock";

const USER = "robot-user";
const PASSWORD = "s3cret-Pa55";

/** Runs `fn`, expecting it to reject, and returns the error. */
async function failure(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`rejected with a non-Error: ${String(err)}`);
  }
  throw new Error("expected a rejection, but the call succeeded");
}

describe("RobotClient against a local Robot mock", () => {
  let mock: RobotMock;
  const sleeps: number[] = [];
  const client = (overrides: { password?: string; maxRetries?: number } = {}): RobotClient =>
    new RobotClient({
      baseUrl: mock.url,
      user: USER,
      password: overrides.password ?? PASSWORD,
      maxRetries: overrides.maxRetries,
      sleep: async (ms) => {
        sleeps.push(ms);
        await new Promise((resolve) => setTimeout(resolve, ms));
      },
    });

  beforeAll(async () => {
    mock = await startRobotMock({
      user: USER,
      password: PASSWORD,
      transactions: {
        "B-READY-3": { readyAfterPolls: 2, serverNumber: 4712 },
        "B-STUCK": { readyAfterPolls: null },
        "B-CANCEL": { readyAfterPolls: 1, cancel: true },
      },
      orderScript: { readyAfterPolls: 1, serverNumber: 4800 },
      rateLimit: { "GET /order/server/product": 2, "GET /firewall/322": Infinity },
      robotRateLimit: {
        "GET /server/321": { count: 1 },
        "POST /vswitch/7998/server": { count: 5, intervalSeconds: 3600 },
      },
      conflict: ["POST /vswitch/7999/server"],
    });
  });
  afterAll(async () => {
    await mock.close();
  });
  beforeEach(() => {
    mock.requests.length = 0;
    sleeps.length = 0;
  });

  it("reads server 321 with Basic auth, retrying Robot's 403 RATE_LIMIT_EXCEEDED once", async () => {
    const server = await client().getServer(321);
    expect(server).toMatchObject({ server_number: 321, server_ip: "192.0.2.21", product: "GEX45" });
    expect(mock.requests).toEqual([
      { method: "GET", path: "/server/321", body: {}, authorized: true },
      { method: "GET", path: "/server/321", body: {}, authorized: true },
    ]);
    expect(sleeps).toEqual([0]); // the error body's interval: 0
  });

  it("throws at once when Robot's rate-limit interval exceeds maxRetryWaitMs", async () => {
    const err = await failure(() => client().addServerToVswitch(7998, [321]));
    expect(err).toMatchObject({ status: 403, code: "RATE_LIMIT_EXCEEDED", path: "/vswitch/7998/server" });
    expect(err.message).toContain("Robot asks to wait 3600000 ms, more than maxRetryWaitMs 60000 ms");
    expect(mock.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("lists products including GEX45 with its FSN1 price, after retrying two 429s", async () => {
    const products = await client().listProducts();
    const gex45 = products.find((p) => p.id === "GEX45");
    // The documented shape: monthly and hourly prices together under `price`, the setup fee beside it.
    expect(gex45?.prices[0]).toEqual({
      location: "FSN1",
      price: { net: "212.3000", gross: "252.6370", hourly_net: "0.3402", hourly_gross: "0.4048" },
      price_setup: { net: "209.0000", gross: "248.7100" },
    });
    expect(products.map((p) => p.id)).toEqual(["GEX45", "GEX131-1"]);
    expect(mock.requestsFor("GET /order/server/product")).toHaveLength(3);
    expect(sleeps).toEqual([0, 0]); // Retry-After: 0 honoured instead of the 1 s default backoff
  });

  it("throws after maxRetries when 429 never ends", async () => {
    const err = await failure(() => client({ maxRetries: 2 }).getFirewall(322));
    expect(err).toBeInstanceOf(RobotError);
    expect(err).toMatchObject({ status: 429, code: "RATE_LIMIT_EXCEEDED", method: "GET", path: "/firewall/322" });
    expect(err.message).toContain("gave up after 2 retries");
    expect(mock.requestsFor("GET /firewall/322")).toHaveLength(3);
  });

  it("reports 404 with Robot's code, message, method and path", async () => {
    const err = await failure(() => client().getServer(999));
    expect(err).toMatchObject({ status: 404, code: "SERVER_NOT_FOUND", robotMessage: "Server not found", method: "GET", path: "/server/999" });
    expect(err.message).toBe("Robot GET /server/999 failed: 404 SERVER_NOT_FOUND: Server not found");
  });

  it("does not retry 401, explains the 10-minute IP block and never shows the password", async () => {
    const wrong = "wr0ng-Secret!";
    const err = await failure(() => client({ password: wrong }).getServer(321));
    expect(err).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    expect(err.message).toContain("webservice user");
    expect(err.message).toContain("three failed logins block this client IP for 10 minutes");
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(PASSWORD);
    expect(JSON.stringify(err)).not.toContain(wrong);
    expect(mock.requests).toHaveLength(1);
    expect(mock.requests[0]?.authorized).toBe(false);
    expect(sleeps).toEqual([]);
  });

  it("does not retry 409 conflicts", async () => {
    const err = await failure(() => client().addServerToVswitch(7999, [321]));
    expect(err).toMatchObject({ status: 409, code: "CONFLICT", method: "POST", path: "/vswitch/7999/server" });
    expect(err.message).toContain("not retried");
    expect(mock.requests).toHaveLength(1);
  });

  it("orders in test mode by default and never sends a comment", async () => {
    const tx = await client().orderServer({
      productId: "GEX45",
      location: "FSN1",
      authorizedKeys: ["aa:bb:cc", "dd:ee:ff"],
      dist: "Ubuntu 24.04 LTS base",
      addons: ["primary_ipv4"],
    });
    expect(tx).toMatchObject({ status: "in process", server_number: null });
    const [req] = mock.requestsFor("POST /order/server/transaction");
    expect(req?.body).toEqual({
      product_id: "GEX45",
      location: "FSN1",
      "authorized_key[]": ["aa:bb:cc", "dd:ee:ff"],
      dist: "Ubuntu 24.04 LTS base",
      "addon[]": ["primary_ipv4"],
      test: "true",
    });
    expect(req?.body).not.toHaveProperty("comment");
  });

  it("sends a real order only with test: false, then waits until it is ready", async () => {
    const c = client();
    const tx = await c.orderServer({ productId: "GEX45", location: "HEL1", authorizedKeys: ["aa:bb:cc"], test: false });
    expect(mock.requests[0]?.body["test"]).toBe("false");
    expect(mock.requests[0]?.body).not.toHaveProperty("comment");
    const ready = await c.waitForTransaction(tx.id, { pollMs: 1, timeoutMs: 5000 });
    expect(ready).toMatchObject({ serverNumber: 4800, serverIp: "192.0.2.47" });
  });

  it("waitForTransaction returns server number and IP after 3 polls", async () => {
    const ready = await client().waitForTransaction("B-READY-3", { pollMs: 1, timeoutMs: 5000 });
    expect(ready.serverNumber).toBe(4712);
    expect(ready.serverIp).toBe("192.0.2.47");
    expect(ready.transaction.status).toBe("ready");
    expect(mock.requestsFor("GET /order/server/transaction/B-READY-3")).toHaveLength(3);
  });

  it("waitForTransaction times out on an order stuck in process, naming id, status and elapsed time", async () => {
    const err = await failure(() => client().waitForTransaction("B-STUCK", { pollMs: 5, timeoutMs: 40 }));
    expect(err.message).toMatch(/^Robot order B-STUCK still "in process" after \d+ ms \(timeout 40 ms\)/);
    const elapsed = Number(/after (\d+) ms/.exec(err.message)?.[1]);
    expect(elapsed).toBeGreaterThanOrEqual(40);
    expect(mock.requestsFor("GET /order/server/transaction/B-STUCK").length).toBeGreaterThanOrEqual(2);
  });

  it("waitForTransaction throws when the order is cancelled", async () => {
    const err = await failure(() => client().waitForTransaction("B-CANCEL", { pollMs: 1, timeoutMs: 5000 }));
    expect(err.message).toContain("Robot order B-CANCEL was cancelled");
  });

  it("sets the firewall with rules[input][i][...] fields and reads it back", async () => {
    const c = client();
    const fw = await c.setFirewall(321, {
      status: "active",
      input: [
        { name: "ssh", ipVersion: "ipv4", dstPort: "22", protocol: "tcp", action: "accept" },
        { name: "rest", action: "discard" },
      ],
    });
    expect(fw).toMatchObject({ status: "in process", whitelist_hos: true });
    expect(fw.rules.input).toEqual([
      { name: "ssh", ip_version: "ipv4", dst_port: "22", protocol: "tcp", action: "accept" },
      { name: "rest", action: "discard" },
    ]);
    expect(mock.requests[0]?.body).toEqual({
      status: "active",
      whitelist_hos: "true",
      "rules[input][0][name]": "ssh",
      "rules[input][0][ip_version]": "ipv4",
      "rules[input][0][dst_port]": "22",
      "rules[input][0][protocol]": "tcp",
      "rules[input][0][action]": "accept",
      "rules[input][1][name]": "rest",
      "rules[input][1][action]": "discard",
    });
    const read = await c.getFirewall(321);
    expect(read).toMatchObject({ server_number: 321, status: "active", whitelist_hos: true });
    expect(read.rules.input).toHaveLength(2);
  });

  it("creates a vSwitch and adds servers to it", async () => {
    // Server 4711 became 654: the stricter mock answers SERVER_NOT_FOUND for servers Robot does not know.
    const c = client();
    const vs = await c.createVswitch("gpu-fleet", 4000);
    expect(vs).toMatchObject({ name: "gpu-fleet", vlan: 4000, cancelled: false });
    await expect(c.addServerToVswitch(vs.id, [321, 654])).resolves.toBeUndefined();
    expect(mock.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ["POST", "/vswitch", { name: "gpu-fleet", vlan: "4000" }],
      ["POST", `/vswitch/${vs.id}/server`, { "server[]": ["321", "654"] }],
    ]);
  });

  it.each([3999, 4092, 4000.5])("rejects vlan %p before making any request", async (vlan) => {
    const err = await failure(() => client().createVswitch("gpu-fleet", vlan));
    expect(err.message).toBe(
      `createVswitch vlan: ${vlan} is not allowed; Robot vSwitch VLAN IDs are integers from 4000 to 4091. Pick one in that range (e.g. 4000).`,
    );
    expect(mock.requests).toHaveLength(0);
  });

  it("rejects an order without SSH keys before making any request", async () => {
    const err = await failure(() => client().orderServer({ productId: "GEX45", location: "FSN1", authorizedKeys: [] }));
    expect(err.message).toContain("orderServer authorizedKeys: empty");
    expect(mock.requests).toHaveLength(0);
  });
});

describe("RobotClient retry and error handling with a fake fetch", () => {
  it("retries 503 with doubling backoff when no Retry-After is sent, then throws", async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const c = new RobotClient({
      user: USER,
      password: PASSWORD,
      retryBaseMs: 100,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      fetchImpl: async () => {
        calls++;
        return new Response("<html>maintenance</html>", { status: 503 });
      },
    });
    const err = await failure(() => c.getServer(321));
    expect(err).toMatchObject({ status: 503, code: "HTTP_503", robotMessage: "<html>maintenance</html>" });
    expect(calls).toBe(4);
    expect(sleeps).toEqual([100, 200, 400]);
  });

  it("wraps a network failure without retrying and without the password", async () => {
    let calls = 0;
    const c = new RobotClient({
      baseUrl: "http://127.0.0.1:1",
      user: USER,
      password: PASSWORD,
      fetchImpl: async () => {
        calls++;
        throw new TypeError(`connect ECONNREFUSED (password was ${PASSWORD})`);
      },
    });
    const err = await failure(() => c.orderServer({ productId: "GEX45", location: "FSN1", authorizedKeys: ["k"] }));
    expect(err).toMatchObject({ status: 0, code: "NETWORK_ERROR", method: "POST", path: "/order/server/transaction" });
    expect(err.message).toBe("Robot POST /order/server/transaction failed before a response: connect ECONNREFUSED (password was ***)");
    expect(calls).toBe(1);
  });
});

describe("RobotClient response checks with a fake fetch", () => {
  it("does not retry a 403 that is not a rate limit", async () => {
    let calls = 0;
    const c = new RobotClient({
      user: USER,
      password: PASSWORD,
      fetchImpl: async () => {
        calls++;
        return Response.json({ error: { status: 403, code: "ORDER_NOT_ENABLED", message: "Ordering is not enabled" } }, { status: 403 });
      },
    });
    const err = await failure(() => c.listProducts());
    expect(err.message).toBe("Robot GET /order/server/product failed: 403 ORDER_NOT_ENABLED: Ordering is not enabled");
    expect(calls).toBe(1);
  });

  it("reports a non-JSON success body with method and path", async () => {
    const c = new RobotClient({ user: USER, password: PASSWORD, fetchImpl: async () => new Response("<html>proxy</html>", { status: 200 }) });
    const err = await failure(() => c.getServer(321));
    expect(err).toMatchObject({ code: "INVALID_JSON", method: "GET", path: "/server/321" });
  });
});

describe("Robot form and header helpers", () => {
  it("encodes arrays as key[]=a&key[]=b and leaves undefined out", () => {
    expect(encodeForm({ product_id: "GEX45", authorized_key: ["a:b", "c d"], dist: undefined, test: true })).toBe(
      "product_id=GEX45&authorized_key[]=a%3Ab&authorized_key[]=c%20d&test=true",
    );
  });

  it.each([
    ["0", 0],
    ["2", 2000],
    [null, null],
    ["soon", null],
    ["Mon, 30 Nov 2026 08:00:05 GMT", 5000],
  ])("reads Retry-After %p as %p ms", (header, ms) => {
    expect(parseRetryAfter(header, Date.parse("Mon, 30 Nov 2026 08:00:00 GMT"))).toBe(ms);
  });
});

/** A client against `mock` that records its sleeps instead of waiting. */
function fastClient(mock: RobotMock, sleeps: number[] = []): RobotClient {
  let now = 0;
  return new RobotClient({
    baseUrl: mock.url,
    user: USER,
    password: PASSWORD,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  });
}

/** Runs `fn` against a fresh mock and closes it afterwards. */
async function withMock<T>(options: RobotMockOptions, fn: (mock: RobotMock) => Promise<T>): Promise<T> {
  const mock = await startRobotMock({ user: USER, password: PASSWORD, ...options });
  try {
    return await fn(mock);
  } finally {
    await mock.close();
  }
}

/** The `invalid` and `missing` lists of a 400 INVALID_INPUT answer, from the client's error message. */
function invalidFields(err: Error): string {
  return /\((invalid: [^)]*)\)$/.exec(err.message)?.[1] ?? err.message;
}

describe("the mock Robot enforces the documented firewall limits (webservice doc, Firewall)", () => {
  /**
   * The rules robotFirewallRules built before this fix, for sshAllowedCidrs [203.0.113.0/24,
   * 2001:db8::/48] and httpsPort 443 without sources: an IPv6 rule with src_ip, and protocol filters
   * without ip_version. A real Robot refuses them; the old mock accepted them.
   */
  const OLD_RULES: FirewallRule[] = [
    { name: "ssh-1", ipVersion: "ipv4", srcIp: "203.0.113.0/24", dstPort: "22", protocol: "tcp", action: "accept" },
    { name: "ssh-2", ipVersion: "ipv6", srcIp: "2001:db8::/48", dstPort: "22", protocol: "tcp", action: "accept" },
    { name: "https", dstPort: "443", protocol: "tcp", action: "accept" },
    { name: "tcp-replies", dstPort: "32768-65535", protocol: "tcp", tcpFlags: "ack", action: "accept" },
    { name: "icmp", protocol: "icmp", action: "accept" },
  ];

  it("rejects the old rule shapes with 400 INVALID_INPUT naming each offending field", async () => {
    await withMock({}, async (mock) => {
      const err = await failure(() => fastClient(mock).setFirewall(321, { status: "active", filterIpv6: true, input: OLD_RULES }));
      expect(err).toMatchObject({ status: 400, code: "INVALID_INPUT", path: "/firewall/321" });
      expect(invalidFields(err)).toBe("invalid: rules[input][1][src_ip], rules[input][2][protocol], rules[input][3][protocol], rules[input][4][protocol]");
      // Nothing was applied.
      expect((await fastClient(mock).getFirewall(321)).rules.input).toEqual([]);
    });
  });

  it.each<[string, FirewallRule[], string]>([
    ["dst_ip without ip_version ipv4", [{ ipVersion: "ipv6", dstIp: "2001:db8::2/128", action: "accept" }], "invalid: rules[input][0][dst_ip]"],
    ["ICMP over IPv6 (ICMPv6 cannot be filtered)", [{ ipVersion: "ipv6", protocol: "icmp", action: "accept" }], "invalid: rules[input][0][protocol]"],
    ["11 rules in one direction", Array.from({ length: 11 }, (_, i): FirewallRule => ({ name: `r ${i}`, ipVersion: "ipv4", dstPort: String(1000 + i), protocol: "tcp", action: "accept" })), "invalid: rules[input]"],
  ])("rejects %s", async (_what, input, fields) => {
    await withMock({}, async (mock) => {
      const err = await failure(() => fastClient(mock).setFirewall(321, { status: "active", input }));
      expect(err).toMatchObject({ status: 400, code: "INVALID_INPUT" });
      expect(invalidFields(err)).toBe(fields);
    });
  });

  it.each([
    ["SSH only", { sshAllowedCidrs: ["203.0.113.0/24", "198.51.100.7/32"] }],
    ["HTTPS to anyone", { sshAllowedCidrs: ["203.0.113.0/24"], httpsPort: 443 }],
    ["HTTPS from sources and the private network", { sshAllowedCidrs: ["203.0.113.0/24"], httpsPort: 8443, httpsAllowedCidrs: ["198.51.100.0/24"], privateNetwork: { ipRange: "10.100.0.0/16", port: 8000 } }],
    ["the most SSH CIDRs that fit", { sshAllowedCidrs: Array.from({ length: 6 }, (_, i) => `198.51.100.${i * 16}/28`) }],
  ])("accepts what robotFirewallRules builds: %s", async (_what, options) => {
    await withMock({}, async (mock) => {
      const c = fastClient(mock);
      const input = robotFirewallRules(options);
      await expect(c.setFirewall(321, { status: "active", filterIpv6: true, input })).resolves.toMatchObject({ status: "in process" });
      const fw = await c.getFirewall(321);
      expect(fw).toMatchObject({ status: "active", filter_ipv6: true });
      expect(fw.rules.input).toHaveLength(input.length);
    });
  });
});

describe("products with id suffixes", () => {
  it.each([
    ["GEX131-1", "GEX131", true],
    ["GEX131-12", "gex131", true],
    ["Dedicated Server GEX45", "GEX45", true],
    ["GEX45", "GEX45", true],
    ["GEX1311", "GEX131", false],
    ["GEX131", "GEX13", false],
    ["GEX131-A", "GEX131", false],
    ["GEX131", "GEX131-1", false],
    ["GEX45", "", false],
  ])("productIdMatches(%j, %j) is %s", (actual, wanted, expected) => {
    expect(productIdMatches(actual, wanted)).toBe(expected);
  });

  const products = DEFAULT_PRODUCTS as unknown as RobotProduct[];
  const ids = (r: { product: RobotProduct } | { error: string }): string => ("product" in r ? r.product.id : r.error);

  it("picks the exact id, else the one suffixed id, where the product is offered", () => {
    expect(ids(findProduct(products, "GEX45", "FSN1"))).toBe("GEX45");
    expect(ids(findProduct(products, "gex131", "nbg1"))).toBe("GEX131-1");
    expect(ids(findProduct([...products, { ...products[1]!, id: "GEX131" }], "GEX131", "NBG1"))).toBe("GEX131");
  });

  it("explains what Robot lists when nothing fits", () => {
    expect(findProduct(products, "GEX63", "FSN1")).toEqual({ error: 'Robot lists no product "GEX63" (nor "GEX63-<n>"); it lists GEX45, GEX131-1' });
    expect(findProduct(products, "GEX131", "HEL1")).toEqual({ error: "Robot lists GEX131-1 but not in HEL1; offered in NBG1, FSN1" });
    expect(findProduct([...products, { ...products[1]!, id: "GEX131-2" }], "GEX131", "NBG1")).toEqual({
      error: 'several Robot products match "GEX131": GEX131-1, GEX131-2; name the one to order',
    });
  });

  it("orders a suffixed id, and the mock refuses the bare one as Robot would", async () => {
    await withMock({}, async (mock) => {
      const c = fastClient(mock);
      const bare = await failure(() => c.orderServer({ productId: "GEX131", location: "NBG1", authorizedKeys: ["aa:bb"] }));
      expect(bare).toMatchObject({ status: 404, code: "PRODUCT_NOT_FOUND" });
      await expect(c.orderServer({ productId: "GEX131-1", location: "NBG1", authorizedKeys: ["aa:bb"] })).resolves.toMatchObject({ id: "B-TEST" });
      expect(await c.getServer(654)).toMatchObject({ server_number: 654, product: "GEX131-1", dc: "NBG1-DC3" });
    });
  });
});

describe("RobotClient vSwitch calls (asynchronous per-server changes)", () => {
  it("reads the per-server status: in process for a while, then ready", async () => {
    await withMock({}, async (mock) => {
      const c = fastClient(mock);
      const vs = await c.createVswitch("net", 4010);
      await c.addServerToVswitch(vs.id, [321]);
      expect((await c.getVswitch(vs.id)).server).toEqual([{ server_ip: "192.0.2.21", server_ipv6_net: "2001:db8::", server_number: 321, status: "in process" }]);
      const sleeps: number[] = [];
      const ready = await fastClient(mock, sleeps).waitForVswitchServers(vs.id, [321], { pollMs: 7, timeoutMs: 1000 });
      expect(ready.server?.map((s) => [s.server_number, s.status])).toEqual([[321, "ready"]]);
      expect(mock.requestsFor(`GET /vswitch/${vs.id}`)).toHaveLength(3);
      expect(sleeps).toEqual([7]);
    });
  });

  it("waitForVswitchServers names a server that failed", async () => {
    await withMock({ vswitchFailServers: [654] }, async (mock) => {
      const c = fastClient(mock);
      const vs = await c.createVswitch("net", 4011);
      await c.addServerToVswitch(vs.id, [321, 654]);
      const err = await failure(() => c.waitForVswitchServers(vs.id, [321, 654], { pollMs: 1, timeoutMs: 1000 }));
      expect(err.message).toBe(
        `Robot vSwitch ${vs.id}: adding server 654 failed (status "failed"); remove it from the vSwitch in Robot (or with DELETE /vswitch/${vs.id}/server) and try again.`,
      );
    });
  });

  it("waitForVswitchServers times out naming the servers still pending", async () => {
    await withMock({ vswitchBusyRequests: 100 }, async (mock) => {
      const c = fastClient(mock);
      const vs = await c.createVswitch("net", 4012);
      await c.addServerToVswitch(vs.id, [321]);
      const err = await failure(() => c.waitForVswitchServers(vs.id, [321, 654], { pollMs: 10, timeoutMs: 30 }));
      expect(err.message).toBe(
        `Robot vSwitch ${vs.id}: server 321 "in process", 654 not listed yet after 30 ms (timeout 30 ms); check the vSwitch in Robot, then run again with a longer timeout.`,
      );
      expect(mock.requestsFor(`GET /vswitch/${vs.id}`)).toHaveLength(4);
    });
  });

  it("waits out 409 VSWITCH_IN_PROCESS before renaming in place, then renames", async () => {
    await withMock({}, async (mock) => {
      const sleeps: number[] = [];
      const c = fastClient(mock, sleeps);
      const vs = await c.createVswitch("net", 4013);
      await c.addServerToVswitch(vs.id, [321]);
      await c.updateVswitch(vs.id, "renamed", 4014, { pollMs: 5, timeoutMs: 1000 });
      const posts = mock.requestsFor(`POST /vswitch/${vs.id}`);
      expect(posts.map((r) => r.status)).toEqual([409, 409, 201]);
      expect(posts[2]?.body).toEqual({ name: "renamed", vlan: "4014" });
      expect(sleeps).toEqual([5, 5]);
      expect(mock.vswitch(vs.id)).toMatchObject({ id: vs.id, name: "renamed", vlan: 4014 });
    });
  });

  it("gives up on VSWITCH_IN_PROCESS after timeoutMs, saying so", async () => {
    await withMock({ vswitchBusyRequests: 100 }, async (mock) => {
      const c = fastClient(mock);
      const vs = await c.createVswitch("net", 4015);
      await c.addServerToVswitch(vs.id, [321]);
      const err = await failure(() => c.addServerToVswitch(vs.id, [654], { pollMs: 10, timeoutMs: 20 }));
      expect(err).toMatchObject({ status: 409, code: "VSWITCH_IN_PROCESS" });
      expect(err.message).toBe(
        `Robot POST /vswitch/${vs.id}/server failed: 409 VSWITCH_IN_PROCESS: There is a update running, therefore the vswitch can not be updated (an earlier change of this vSwitch is still being applied); still so after 20 ms (timeout 20 ms): check vSwitch ${vs.id} in Robot and try again`,
      );
      expect(mock.requestsFor(`POST /vswitch/${vs.id}/server`)).toHaveLength(4);
    });
  });

  it("refuses a VLAN another vSwitch uses, on create and on change, with 409 VSWITCH_VLAN_NOT_UNIQUE", async () => {
    await withMock({ vswitches: [{ id: 6000, name: "other", vlan: 4020 }] }, async (mock) => {
      const c = fastClient(mock);
      const create = await failure(() => c.createVswitch("net", 4020));
      expect(create).toMatchObject({ status: 409, code: "VSWITCH_VLAN_NOT_UNIQUE" });
      expect(create.message).toBe(
        "Robot POST /vswitch failed: 409 VSWITCH_VLAN_NOT_UNIQUE: The VLAN ID is not unique (the VLAN ID is already used by another vSwitch: pick another VLAN ID from 4000 to 4091)",
      );
      const vs = await c.createVswitch("net", 4021);
      expect(await failure(() => c.updateVswitch(vs.id, "net", 4020))).toMatchObject({ status: 409, code: "VSWITCH_VLAN_NOT_UNIQUE" });
      expect(mock.vswitch(vs.id)?.vlan).toBe(4021);
    });
  });

  it("removes servers with DELETE /vswitch/{id}/server and waits until they are gone", async () => {
    await withMock({ vswitches: [{ id: 6001, name: "net", vlan: 4030, servers: [321, 654] }] }, async (mock) => {
      const c = fastClient(mock);
      await c.removeServersFromVswitch(6001, [654]);
      expect(mock.requestsFor("DELETE /vswitch/6001/server")[0]?.body).toEqual({ "server[]": ["654"] });
      const vs = await c.waitForVswitchServersRemoved(6001, [654], { pollMs: 1, timeoutMs: 1000 });
      expect(vs.server?.map((s) => s.server_number)).toEqual([321]);
      expect(mock.vswitch(6001)?.server).toEqual([{ server_number: 321, status: "ready" }]);
    });
  });

  it("cancels a vSwitch with DELETE /vswitch/{id} and a cancellation_date, checked before sending", async () => {
    await withMock({ vswitches: [{ id: 6002, name: "net", vlan: 4031 }] }, async (mock) => {
      const c = fastClient(mock);
      await expect(c.cancelVswitch(6002, "31.12.2026")).rejects.toThrow('cancelVswitch cancellationDate: "31.12.2026" is neither "now" nor a date such as 2026-12-31 (yyyy-mm-dd).');
      expect(mock.requests).toEqual([]);
      await c.cancelVswitch(6002, "now");
      expect(mock.requestsFor("DELETE /vswitch/6002")[0]?.body).toEqual({ cancellation_date: "now" });
      expect(mock.vswitch(6002)?.cancelled).toBe(true);
      expect((await c.listVswitches()).map((v) => [v.id, v.cancelled])).toEqual([[6002, true]]);
    });
  });
});

describe("RobotClient server cancellation", () => {
  it("reads the earliest date, cancels on it without reserving the location, and withdraws", async () => {
    await withMock({}, async (mock) => {
      const c = fastClient(mock);
      expect(await c.getServerCancellation(321)).toMatchObject({ server_number: 321, cancelled: false, earliest_cancellation_date: "2026-12-31", cancellation_date: null });
      const done = await c.cancelServer(321, { cancellationDate: "2026-12-31" });
      expect(mock.requestsFor("POST /server/321/cancellation")[0]?.body).toEqual({ cancellation_date: "2026-12-31", reserve_location: "false" });
      expect(done).toMatchObject({ cancelled: true, cancellation_date: "2026-12-31", reserved: false });
      expect(mock.cancellation(321)).toEqual({ date: "2026-12-31", reserveLocation: false });
      expect(await c.getServer(321)).toMatchObject({ cancelled: true });
      await c.withdrawServerCancellation(321);
      expect(mock.cancellation(321)).toBeUndefined();
    });
  });

  it("passes Robot's INVALID_INPUT details on: a date before the earliest one", async () => {
    await withMock({}, async (mock) => {
      const err = await failure(() => fastClient(mock).cancelServer(321, { cancellationDate: "2026-12-01", reason: "Upgrade to a new server" }));
      expect(err.message).toBe("Robot POST /server/321/cancellation failed: 400 INVALID_INPUT: invalid input (invalid: cancellation_date)");
      expect(mock.requestsFor("POST /server/321/cancellation")[0]?.body).toEqual({ cancellation_date: "2026-12-01", cancellation_reason: "Upgrade to a new server", reserve_location: "false" });
      expect(mock.cancellation(321)).toBeUndefined();
    });
  });
});
