/**
 * The Robot dynamic providers called directly (create/read/diff/update/delete) against the local
 * mock Robot server, plus the serialised copy Pulumi would store and run in its provider process.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  productMatches,
  locationOfDc,
  prepareRobotSource,
  robotFirewallRules,
  robotServerProvider,
  robotVswitchProvider,
  type RobotServerInputs,
  type RobotServerOutputs,
  type RobotVswitchInputs,
} from "../components/hetzner/robotProvider";
import type { FirewallRule } from "../core/hetzner/robot";
import { startRobotMock, type RecordedRequest, type RobotMock } from "./helpers/robot-mock";

const USER = "robot-user";
const PASSWORD = "s3cret-Pa55";
const FINGERPRINT = "56:29:99:a4:5d:ed:ac:95:c1:f5:88:82:90:5d:dd:10";
const CIDRS = ["203.0.113.0/24", "2001:db8::/48"];
const RULES = robotFirewallRules({ sshAllowedCidrs: CIDRS });

const provider = {
  async create(inputs: RobotServerInputs): Promise<{ id: string; outs: RobotServerOutputs }> {
    const { id, outs } = await robotServerProvider.create(inputs);
    if (!outs) throw new Error("create returned no outputs");
    return { id, outs };
  },
  read: robotServerProvider.read!,
  diff: robotServerProvider.diff!,
  update: robotServerProvider.update!,
  delete: robotServerProvider.delete!,
};

/** Runs `fn`, expecting it to reject, and returns the error message. */
async function failure(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error("expected a rejection, but the call succeeded");
}

/** The incoming rules of a recorded `POST /firewall/{n}` body, in order. */
function inputRules(req: RecordedRequest): Record<string, string>[] {
  const rules: Record<string, string>[] = [];
  for (const [k, v] of Object.entries(req.body)) {
    const m = /^rules\[input\]\[(\d+)\]\[(\w+)\]$/.exec(k);
    if (m) rules[Number(m[1])] = { ...(rules[Number(m[1])] ?? {}), [m[2] as string]: String(v) };
  }
  return rules;
}

describe("robotFirewallRules", () => {
  it("lets SSH in only from the given CIDRs, then TCP answers (ack only) and ICMP", () => {
    expect(RULES).toEqual([
      { name: "ssh-1", ipVersion: "ipv4", srcIp: "203.0.113.0/24", dstPort: "22", protocol: "tcp", action: "accept" },
      { name: "ssh-2", ipVersion: "ipv6", srcIp: "2001:db8::/48", dstPort: "22", protocol: "tcp", action: "accept" },
      { name: "tcp-replies", dstPort: "32768-65535", protocol: "tcp", tcpFlags: "ack", action: "accept" },
      { name: "icmp", protocol: "icmp", action: "accept" },
    ]);
  });

  it("opens the HTTPS port to anywhere, or to given sources, and the serving port to the private network", () => {
    expect(robotFirewallRules({ sshAllowedCidrs: [], httpsPort: 443 })).toContainEqual({ name: "https", dstPort: "443", protocol: "tcp", action: "accept" });
    const rules = robotFirewallRules({ sshAllowedCidrs: [], httpsPort: 8443, httpsAllowedCidrs: ["198.51.100.0/24"], privateNetwork: { ipRange: "10.100.0.0/16", port: 8000 } });
    expect(rules.slice(0, 2)).toEqual([
      { name: "https-1", ipVersion: "ipv4", srcIp: "198.51.100.0/24", dstPort: "8443", protocol: "tcp", action: "accept" },
      { name: "private-network", ipVersion: "ipv4", srcIp: "10.100.0.0/16", dstPort: "8000", protocol: "tcp", action: "accept" },
    ]);
  });

  it("has no SSH rule at all without CIDRs", () => {
    expect(robotFirewallRules({ sshAllowedCidrs: [] }).filter((r) => r.dstPort === "22")).toEqual([]);
  });

  it("refuses more rules than Robot takes (10 per direction), saying how many CIDRs fit", () => {
    const cidrs = Array.from({ length: 9 }, (_, i) => `198.51.100.${i * 16}/28`);
    expect(() => robotFirewallRules({ sshAllowedCidrs: cidrs })).toThrow(
      "sshAllowedCidrs: 9 CIDRs need 11 Robot firewall rules, but Robot takes at most 10 per direction; merge them into fewer, wider CIDRs (at most 8)",
    );
  });

  it("refuses a port outside 1–65535", () => {
    expect(() => robotFirewallRules({ sshAllowedCidrs: [], httpsPort: 70000 })).toThrow("httpsPort: 70000 is not a TCP port; use an integer from 1 to 65535");
  });
});

describe("product and location matching", () => {
  it.each([
    ["GEX45", "GEX45", true],
    ["Dedicated Server GEX45", "gex45", true],
    ["GEX131", "GEX13", false],
    ["GEX44", "GEX45", false],
    ["GEX45", "", false],
  ])("productMatches(%j, %j) is %s", (actual, wanted, expected) => {
    expect(productMatches(actual, wanted)).toBe(expected);
  });

  it.each([
    ["FSN1-DC14", "fsn1"],
    ["HEL1", "hel1"],
    ["", null],
    [undefined, null],
  ])("reads the location of data centre %j as %j", (dc, loc) => {
    expect(locationOfDc(dc)).toBe(loc);
  });
});

describe("RobotServer provider against the mock Robot", () => {
  let mock: RobotMock;
  const base = (over: Partial<RobotServerInputs> = {}): RobotServerInputs => ({
    robotUser: USER,
    robotPassword: PASSWORD,
    baseUrl: mock.url,
    productId: "GEX45",
    location: "fsn1",
    authorizedKeys: [FINGERPRINT],
    confirmOrder: false,
    firewallRules: RULES,
    dist: "Ubuntu 24.04 LTS base",
    addons: ["primary_ipv4"],
    pollMs: 10,
    ...over,
  });

  beforeAll(async () => {
    mock = await startRobotMock({ user: USER, password: PASSWORD, orderScript: { readyAfterPolls: 2, serverNumber: 321 } });
  });
  afterAll(async () => {
    await mock.close();
  });
  beforeEach(() => {
    mock.requests.length = 0;
  });

  it("adopts server 321: reads it, checks the product, sets the firewall and orders nothing", async () => {
    const { id, outs } = await provider.create(base({ serverNumber: 321 }));
    expect(id).toBe("321");
    expect(outs).toMatchObject({ robotServerNumber: 321, serverIp: "192.0.2.21", serverIpv6Net: "2001:db8::", product: "GEX45", dc: "FSN1-DC14", origin: "adopted", transactionId: null });
    expect(mock.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /server/321", "POST /firewall/321"]);
    expect(mock.requestsFor("POST /order/server/transaction")).toEqual([]);
  });

  it("refuses to adopt a server of another product, naming both", async () => {
    expect(await failure(() => provider.create(base({ serverNumber: 321, productId: "GEX131" })))).toBe(
      'hetzner RobotServer adopt 321: Robot server 321 is a "GEX45", not a GEX131; set product to the server\'s product, or serverNumber to a GEX131 you have',
    );
    expect(mock.requestsFor("POST /firewall/321")).toEqual([]);
  });

  it("refuses to adopt a server in another location", async () => {
    expect(await failure(() => provider.create(base({ serverNumber: 321, location: "hel1" })))).toBe(
      'hetzner RobotServer adopt 321: Robot server 321 is in FSN1-DC14, not in hel1; set location: "fsn1" for this host',
    );
  });

  it("without confirmOrder runs the order in test mode and fails saying nothing was ordered", async () => {
    const message = await failure(() => provider.create(base()));
    expect(message).toBe(
      "hetzner RobotServer order GEX45: Robot accepted a test order for GEX45 in fsn1 (test transaction B-TEST), but NOTHING WAS ORDERED: confirmOrder is not true. " +
        "An order costs money (monthly rent plus a setup fee) and cannot be undone through the API. " +
        "To order: enable ordering in Robot (Administration → Settings → Web service settings → Ordering), set confirmOrder: true for this host in the stack, and run pulumi up again. " +
        "To use a server you already have, set serverNumber instead.",
    );
    const orders = mock.requestsFor("POST /order/server/transaction");
    expect(orders).toHaveLength(1);
    expect(orders[0]!.body).toEqual({ product_id: "GEX45", location: "FSN1", "authorized_key[]": [FINGERPRINT], dist: "Ubuntu 24.04 LTS base", "addon[]": ["primary_ipv4"], test: "true" });
    expect(mock.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /order/server/transaction"]);
  });

  it("with confirmOrder places a real order, waits until it is ready, then sets the firewall (SSH only from the CIDRs)", async () => {
    const { id, outs } = await provider.create(base({ confirmOrder: true }));
    expect(id).toBe("321");
    expect(outs).toMatchObject({ robotServerNumber: 321, serverIp: "192.0.2.21", origin: "ordered", transactionId: "B20261130-1" });
    const orders = mock.requestsFor("POST /order/server/transaction");
    expect(orders.map((r) => r.body.test)).toEqual(["false"]);
    // Two polls answer "in process", the third "ready".
    expect(mock.requestsFor("GET /order/server/transaction/B20261130-1")).toHaveLength(3);
    const fw = mock.requestsFor("POST /firewall/321");
    expect(fw).toHaveLength(1);
    expect(fw[0]!.body).toMatchObject({ status: "active", whitelist_hos: "true", filter_ipv6: "true" });
    const rules = inputRules(fw[0]!);
    const toSsh = rules.filter((r) => r.dst_port === "22");
    expect(toSsh.map((r) => r.src_ip)).toEqual(CIDRS);
    expect(toSsh.every((r) => r.action === "accept" && r.protocol === "tcp")).toBe(true);
    // No other rule lets a new connection in: no rule without a port except ICMP, replies need the ack flag.
    expect(rules.filter((r) => r.dst_port === undefined).map((r) => r.protocol)).toEqual(["icmp"]);
    expect(rules.find((r) => r.name === "tcp-replies")).toEqual({ name: "tcp-replies", dst_port: "32768-65535", protocol: "tcp", tcp_flags: "ack", action: "accept" });
    expect(fw[0]!.body["rules[output][0][action]"]).toBe("accept");
  });

  it("fails with a clear timeout when an order stays in process, warning that the order is placed", async () => {
    const stuck = await startRobotMock({ user: USER, password: PASSWORD, orderScript: { readyAfterPolls: null } });
    try {
      const message = await failure(() => provider.create({ ...base({ confirmOrder: true, readyTimeoutMs: 60, pollMs: 15 }), baseUrl: stuck.url }));
      expect(message).toMatch(/^hetzner RobotServer order GEX45: Robot order B20261130-1 still "in process" after \d+ ms \(timeout 60 ms\);/);
      expect(message).toContain(
        "The order for GEX45 in fsn1 IS placed and billed (transaction B20261130-1); running pulumi up again would order a second server. Once Robot shows the server, set serverNumber to its number for this host",
      );
      expect(stuck.requestsFor("POST /order/server/transaction")).toHaveLength(1);
      expect(stuck.requestsFor("GET /order/server/transaction/B20261130-1").length).toBeGreaterThanOrEqual(2);
    } finally {
      await stuck.close();
    }
  });

  it("reports a wrong password (401) once, clearly, without the password", async () => {
    const message = await failure(() => provider.create(base({ serverNumber: 321, robotPassword: "wrong-Pa55word" })));
    expect(message).toContain("hetzner RobotServer adopt 321: Robot GET /server/321 failed: 401 UNAUTHORIZED");
    expect(message).toContain('the Robot webservice user "robot-user" or its password is wrong');
    expect(message).not.toContain("wrong-Pa55word");
    expect(message).not.toContain(PASSWORD);
    expect(mock.requests).toHaveLength(1);
  });

  it("delete makes no Robot request at all: the server is forgotten, never cancelled", async () => {
    const { outs } = await provider.create(base({ serverNumber: 321 }));
    mock.requests.length = 0;
    await provider.delete("321", outs);
    expect(mock.requests).toEqual([]);
  });

  it("read refreshes the address and reports a server Robot no longer knows as gone", async () => {
    const { outs } = await provider.create(base({ serverNumber: 321 }));
    const read = await provider.read("321", { ...outs, serverIp: "198.51.100.1" });
    expect(read).toEqual({ id: "321", props: { ...outs, serverIp: "192.0.2.21" } });
    expect(await provider.read("999", { ...outs, robotServerNumber: 999 })).toEqual({});
  });

  describe("diff and update", () => {
    let ordered: RobotServerOutputs;
    let adopted: RobotServerOutputs;
    beforeAll(async () => {
      ordered = (await provider.create(base({ confirmOrder: true }))).outs;
      adopted = (await provider.create(base({ serverNumber: 321 }))).outs;
    });

    it("sees no change when nothing changed (confirmOrder and keys no longer matter once the server exists)", async () => {
      expect(await provider.diff("321", ordered, base({ confirmOrder: false, authorizedKeys: [] }))).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    });

    it("refuses to replace an ordered server when its product or location changes", async () => {
      const message = await failure(() => provider.diff("321", ordered, base({ confirmOrder: true, productId: "GEX131", location: "nbg1" })));
      expect(message).toBe(
        "hetzner RobotServer 321: productId GEX45 → GEX131, location fsn1 → nbg1 would replace server 321, which this stack ordered: " +
          "that means ordering a second server while the first stays billed (destroy never cancels). Refusing. " +
          "Change it back; or cancel server 321 in Robot and give the new server a new host name; or adopt an existing server with serverNumber.",
      );
    });

    it("lets an ordered server be adopted by its own number without any change", async () => {
      expect(await provider.diff("321", ordered, base({ serverNumber: 321 }))).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    });

    it("refuses to drop serverNumber from an adopted server (that would order one)", async () => {
      expect(await failure(() => provider.diff("321", adopted, base({ confirmOrder: true })))).toBe(
        "hetzner RobotServer 321: serverNumber was removed from an adopted server; that would order a new server. Set serverNumber: 321 again, or give the new server a new host name.",
      );
    });

    it("replaces an adopted server (forget and re-adopt) when serverNumber changes", async () => {
      expect(await provider.diff("321", adopted, base({ serverNumber: 322 }))).toEqual({ changes: true, replaces: ["serverNumber"], deleteBeforeReplace: false });
    });

    it("updates the firewall in place when the rules change", async () => {
      const rules: FirewallRule[] = robotFirewallRules({ sshAllowedCidrs: ["198.51.100.7/32"] });
      const news = base({ serverNumber: 321, firewallRules: rules });
      expect(await provider.diff("321", adopted, news)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
      mock.requests.length = 0;
      const { outs } = await provider.update("321", adopted, news);
      expect(mock.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /firewall/321"]);
      expect(inputRules(mock.requests[0]!).filter((r) => r.dst_port === "22").map((r) => r.src_ip)).toEqual(["198.51.100.7/32"]);
      expect(outs).toMatchObject({ robotServerNumber: 321, origin: "adopted", firewallRules: rules });
    });
  });
});

describe("RobotVswitch provider against the mock Robot", () => {
  let mock: RobotMock;
  beforeAll(async () => {
    mock = await startRobotMock({ user: USER, password: PASSWORD });
  });
  afterAll(async () => {
    await mock.close();
  });
  const inputs = (over: Partial<RobotVswitchInputs> = {}): RobotVswitchInputs => ({ robotUser: USER, robotPassword: PASSWORD, baseUrl: mock.url, name: "gpu-1-net", vlan: 4000, serverNumbers: [321], ...over });

  it("creates the vSwitch with its VLAN and adds the server", async () => {
    const { id, outs } = await robotVswitchProvider.create(inputs());
    expect(id).toBe("7000");
    expect(outs).toMatchObject({ vswitchId: 7000, vlan: 4000, serverNumbers: [321] });
    expect(mock.requestsFor("POST /vswitch")[0]!.body).toEqual({ name: "gpu-1-net", vlan: "4000" });
    expect(mock.requestsFor("POST /vswitch/7000/server")[0]!.body).toEqual({ "server[]": ["321"] });
  });

  it("refuses a VLAN outside 4000–4091 before any request", async () => {
    const before = mock.requests.length;
    expect(await failure(() => robotVswitchProvider.create(inputs({ vlan: 100 })))).toContain("hetzner RobotVswitch gpu-1-net (VLAN 100): createVswitch vlan: 100 is not allowed");
    expect(mock.requests.length).toBe(before);
  });

  it("forgets the vSwitch on delete without a request", async () => {
    const before = mock.requests.length;
    await robotVswitchProvider.delete!("7000", { ...inputs(), vswitchId: 7000 });
    expect(mock.requests.length).toBe(before);
  });
});

describe("serialised providers (what Pulumi stores and runs)", () => {
  let mock: RobotMock;
  beforeAll(async () => {
    mock = await startRobotMock({ user: USER, password: PASSWORD });
  });
  afterAll(async () => {
    await mock.close();
  });

  /** Serialises as `pulumi.dynamic.Resource` does, and loads the text as the dynamic-provider process does. */
  async function roundTrip<T>(p: T): Promise<{ text: string; provider: T }> {
    prepareRobotSource();
    const sf = await pulumi.runtime.serializeFunction(() => p, { allowSecrets: true });
    // @pulumi/pulumi/cmd/dynamic-provider loads providers with require-from-string.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const requireFromString = require("require-from-string") as (code: string) => { handler: () => T };
    return { text: sf.text, provider: requireFromString(sf.text).handler() };
  }

  it("the server provider serialises without credentials and adopts a server from the copy", async () => {
    const { text, provider: copy } = await roundTrip(robotServerProvider);
    expect(text).not.toContain(PASSWORD);
    expect(text).toContain("class RobotClient");
    const { id, outs } = await copy.create({ robotUser: USER, robotPassword: PASSWORD, baseUrl: mock.url, serverNumber: 321, productId: "GEX45", location: "fsn1", authorizedKeys: [], confirmOrder: false, firewallRules: RULES });
    expect(id).toBe("321");
    expect(outs?.serverIp).toBe("192.0.2.21");
    expect(mock.requestsFor("POST /firewall/321")).toHaveLength(1);
  });

  it("the vSwitch provider serialises and creates a vSwitch from the copy", async () => {
    const { provider: copy } = await roundTrip(robotVswitchProvider);
    const { outs } = await copy.create({ robotUser: USER, robotPassword: PASSWORD, baseUrl: mock.url, name: "net", vlan: 4001, serverNumbers: [321] });
    expect(outs?.vswitchId).toBe(7000);
  });
});
