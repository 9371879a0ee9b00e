import { encodeForm, parseRetryAfter, RobotClient, RobotError } from "../core/hetzner/robot";
import { startRobotMock, type RobotMock } from "./helpers/robot-mock";

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
    expect(gex45?.prices[0]).toMatchObject({ location: "FSN1", price: { net: "212.3000" } });
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
    const c = client();
    const vs = await c.createVswitch("gpu-fleet", 4000);
    expect(vs).toMatchObject({ name: "gpu-fleet", vlan: 4000, cancelled: false });
    await expect(c.addServerToVswitch(vs.id, [321, 4711])).resolves.toBeUndefined();
    expect(mock.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ["POST", "/vswitch", { name: "gpu-fleet", vlan: "4000" }],
      ["POST", `/vswitch/${vs.id}/server`, { "server[]": ["321", "4711"] }],
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
