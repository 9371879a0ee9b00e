/**
 * The Robot dynamic providers called directly (create/read/diff/update/delete) against the local
 * mock Robot server, plus the serialised copy Pulumi would store and run in its provider process.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  productMatches,
  locationOfDc,
  prepareRobotSource,
  ROBOT_FIREWALL_MAX_RULES,
  robotFirewallProblems,
  robotFirewallRules,
  robotServerProvider,
  robotVswitchProvider,
  type RobotFirewallOptions,
  type RobotServerInputs,
  type RobotServerOutputs,
  type RobotVswitchInputs,
  type RobotVswitchOutputs,
} from "../components/hetzner/robotProvider";
import type { FirewallRule } from "../core/hetzner/robot";
import { startRobotMock, type RecordedRequest, type RobotMock, type RobotMockOptions } from "./helpers/robot-mock";

const USER = "robot-user";
const PASSWORD = "s3cret-Pa55";
const FINGERPRINT = "56:29:99:a4:5d:ed:ac:95:c1:f5:88:82:90:5d:dd:10";
// IPv4 only: Robot's firewall cannot filter IPv6 by source address (an IPv6 CIDR is a problem now).
const CIDRS = ["203.0.113.0/24", "198.51.100.0/24"];
const RULES = robotFirewallRules({ sshAllowedCidrs: CIDRS });
/** The rules every server gets after the requested ones. */
const FIXED: FirewallRule[] = [
  { name: "tcp replies v4", ipVersion: "ipv4", dstPort: "32768-65535", protocol: "tcp", tcpFlags: "ack", action: "accept" },
  { name: "tcp replies v6", ipVersion: "ipv6", dstPort: "32768-65535", protocol: "tcp", tcpFlags: "ack", action: "accept" },
  { name: "udp replies v4", ipVersion: "ipv4", dstPort: "32768-65535", protocol: "udp", action: "accept" },
  { name: "icmp v4", ipVersion: "ipv4", protocol: "icmp", action: "accept" },
];

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
  // Updated: the old expectations encoded rules Robot refuses (an IPv6 rule with src_ip; TCP and ICMP
  // rules without ip_version). test/robot.test.ts shows the mock rejecting those shapes.
  it("lets SSH in only from the given IPv4 CIDRs, then TCP replies (ack only) over IPv4 and IPv6, UDP replies and ICMP over IPv4", () => {
    expect(RULES).toEqual([
      { name: "ssh 1", ipVersion: "ipv4", srcIp: "203.0.113.0/24", dstPort: "22", protocol: "tcp", action: "accept" },
      { name: "ssh 2", ipVersion: "ipv4", srcIp: "198.51.100.0/24", dstPort: "22", protocol: "tcp", action: "accept" },
      ...FIXED,
    ]);
  });

  it("opens the HTTPS port to anyone over IPv4 and IPv6, or to given IPv4 sources, and the serving port to the private network", () => {
    expect(robotFirewallRules({ sshAllowedCidrs: [], httpsPort: 443 })).toEqual([
      { name: "https v4", ipVersion: "ipv4", dstPort: "443", protocol: "tcp", action: "accept" },
      { name: "https v6", ipVersion: "ipv6", dstPort: "443", protocol: "tcp", action: "accept" },
      ...FIXED,
    ]);
    const rules = robotFirewallRules({ sshAllowedCidrs: [], httpsPort: 8443, httpsAllowedCidrs: ["198.51.100.0/24"], privateNetwork: { ipRange: "10.100.0.0/16", port: 8000 } });
    expect(rules).toEqual([
      { name: "https 1", ipVersion: "ipv4", srcIp: "198.51.100.0/24", dstPort: "8443", protocol: "tcp", action: "accept" },
      { name: "private network", ipVersion: "ipv4", srcIp: "10.100.0.0/16", dstPort: "8000", protocol: "tcp", action: "accept" },
      ...FIXED,
    ]);
  });

  it("has no SSH rule at all without CIDRs", () => {
    expect(robotFirewallRules({ sshAllowedCidrs: [] })).toEqual(FIXED);
  });

  const combos: [string, RobotFirewallOptions][] = [
    ["SSH", { sshAllowedCidrs: CIDRS }],
    ["HTTPS to anyone and the private network", { sshAllowedCidrs: ["203.0.113.0/24"], httpsPort: 443, privateNetwork: { ipRange: "10.100.0.0/16", port: 8000 } }],
    ["HTTPS from sources", { sshAllowedCidrs: ["203.0.113.0/24"], httpsPort: 443, httpsAllowedCidrs: ["198.51.100.0/24", "192.0.2.0/24"] }],
    ["six SSH CIDRs", { sshAllowedCidrs: Array.from({ length: 6 }, (_, i) => `198.51.100.${i * 16}/28`) }],
  ];
  it.each(combos)("builds only rules the Robot doc allows: %s", (_what, options) => {
    const rules = robotFirewallRules(options);
    expect(rules.length).toBeLessThanOrEqual(ROBOT_FIREWALL_MAX_RULES);
    // Addresses only with ip_version ipv4; protocols only with a version; no ICMPv6 rule; names without special characters.
    expect(rules.filter((r) => (r.srcIp !== undefined || r.dstIp !== undefined) && r.ipVersion !== "ipv4")).toEqual([]);
    expect(rules.filter((r) => r.protocol !== undefined && r.ipVersion === undefined)).toEqual([]);
    expect(rules.filter((r) => r.protocol === "icmp" && r.ipVersion === "ipv6")).toEqual([]);
    expect(rules.map((r) => r.name).filter((n) => !/^[A-Za-z0-9 ]+$/.test(n ?? ""))).toEqual([]);
    // No IPv6 rule opens SSH; every TCP rule without a source is a reply rule or the HTTPS port.
    expect(rules.filter((r) => r.dstPort === "22" && r.ipVersion !== "ipv4")).toEqual([]);
    expect(rules.filter((r) => r.protocol === "tcp" && r.srcIp === undefined && r.tcpFlags !== "ack").map((r) => r.dstPort)).toEqual(options.httpsPort !== undefined && !options.httpsAllowedCidrs ? ["443", "443"] : []);
  });

  it("refuses more rules than Robot takes (10 per direction), saying how many CIDRs fit", () => {
    // Updated: four fixed rules now (replies per IP version need their own rules), so 6 SSH CIDRs fit, not 8.
    const cidrs = Array.from({ length: 9 }, (_, i) => `198.51.100.${i * 16}/28`);
    const message =
      "sshAllowedCidrs: 9 CIDRs need 13 rules (9 for SSH, 4 fixed ones for TCP replies over IPv4 and IPv6, UDP replies and ICMP over IPv4), but Robot's firewall takes at most 10 per direction; merge them into at most 6 wider CIDRs";
    expect(robotFirewallProblems({ sshAllowedCidrs: cidrs })).toEqual([message]);
    expect(() => robotFirewallRules({ sshAllowedCidrs: cidrs })).toThrow(message);
    expect(robotFirewallProblems({ sshAllowedCidrs: cidrs.slice(0, 4), httpsPort: 443, privateNetwork: { ipRange: "10.100.0.0/16", port: 8000 } })).toEqual([
      "sshAllowedCidrs: 4 CIDRs need 11 rules (4 for SSH, 2 for HTTPS, 1 for the private network, 4 fixed ones for TCP replies over IPv4 and IPv6, UDP replies and ICMP over IPv4), but Robot's firewall takes at most 10 per direction; merge them into at most 3 wider CIDRs",
    ]);
    expect(robotFirewallProblems({ sshAllowedCidrs: [], httpsPort: 443, httpsAllowedCidrs: cidrs.slice(0, 7) })).toEqual([
      "httpsAllowedCidrs: 7 CIDRs need 11 rules (0 for SSH, 7 for HTTPS, 4 fixed ones for TCP replies over IPv4 and IPv6, UDP replies and ICMP over IPv4), but Robot's firewall takes at most 10 per direction; merge them into at most 6 wider CIDRs",
    ]);
  });

  it("refuses IPv6 sources, saying Robot cannot filter them, and malformed CIDRs, each by its path", () => {
    expect(robotFirewallProblems({ sshAllowedCidrs: ["203.0.113.0/24", "2001:db8::/48", "203.0.113.5/24", "10.0.0.0/33", "bastion", "203.0.113.0/24"], httpsPort: 443, httpsAllowedCidrs: ["::/0", "256.1.1.1/32"] })).toEqual([
      'sshAllowedCidrs[1]: "2001:db8::/48" is IPv6; Robot\'s firewall cannot filter IPv6 by source address (src_ip needs ip_version ipv4), so IPv6 is dropped here; list IPv4 CIDRs, and reach the server over IPv4',
      'sshAllowedCidrs[2]: "203.0.113.5/24" has host bits set; write 203.0.113.0/24 for the network, or 203.0.113.5/32 for the one address',
      'sshAllowedCidrs[3]: "10.0.0.0/33" is not an IPv4 CIDR; write an address and prefix length such as 203.0.113.0/24 (or 203.0.113.7/32 for one address)',
      'sshAllowedCidrs[4]: "bastion" is not an IPv4 CIDR; write an address and prefix length such as 203.0.113.0/24 (or 203.0.113.7/32 for one address)',
      'sshAllowedCidrs[5]: "203.0.113.0/24" repeats sshAllowedCidrs[0]; each CIDR takes one of Robot\'s 10 rules, so list it once',
      'httpsAllowedCidrs[0]: "::/0" is IPv6; Robot\'s firewall cannot filter IPv6 by source address (src_ip needs ip_version ipv4), so IPv6 is dropped here; list IPv4 CIDRs, and reach the server over IPv4',
      'httpsAllowedCidrs[1]: "256.1.1.1/32" is not an IPv4 CIDR; write an address and prefix length such as 203.0.113.0/24 (or 203.0.113.7/32 for one address)',
      "sshAllowedCidrs: 6 CIDRs need 12 rules (6 for SSH, 2 for HTTPS, 4 fixed ones for TCP replies over IPv4 and IPv6, UDP replies and ICMP over IPv4), but Robot's firewall takes at most 10 per direction; merge them into at most 4 wider CIDRs",
    ]);
    expect(() => robotFirewallRules({ sshAllowedCidrs: ["2001:db8::/48"] })).toThrow('sshAllowedCidrs[0]: "2001:db8::/48" is IPv6;');
  });

  it("refuses a port outside 1–65535, a bad private range, and sources without a port", () => {
    expect(() => robotFirewallRules({ sshAllowedCidrs: [], httpsPort: 70000 })).toThrow("httpsPort: 70000 is not a TCP port; use an integer from 1 to 65535");
    expect(robotFirewallProblems({ sshAllowedCidrs: [], httpsAllowedCidrs: ["198.51.100.0/24"], privateNetwork: { ipRange: "10.100.0.0/16 ", port: 0 } })).toEqual([
      "httpsAllowedCidrs: given without httpsPort; set httpsPort to the port the server serves HTTPS on, or leave httpsAllowedCidrs out",
      'privateNetwork.ipRange: "10.100.0.0/16 " is not an IPv4 CIDR; write an address and prefix length such as 203.0.113.0/24 (or 203.0.113.7/32 for one address)',
      "privateNetwork.port: 0 is not a TCP port; use an integer from 1 to 65535",
    ]);
    expect(robotFirewallProblems({ sshAllowedCidrs: ["0.0.0.0/0", "198.51.100.7/32"], httpsPort: 443, httpsAllowedCidrs: [] })).toEqual([]);
  });
});

describe("product and location matching", () => {
  it.each([
    ["GEX45", "GEX45", true],
    ["Dedicated Server GEX45", "gex45", true],
    ["GEX131-1", "GEX131", true],
    ["GEX1311", "GEX131", false],
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
        "An order costs money as soon as it is placed (monthly rent plus a one-time setup fee); cancelling the server later only ends it from the cancellation date on. " +
        "To order: enable ordering in Robot (Administration → Settings → Web service settings → Ordering), set confirmOrder: true for this host in the stack, and run pulumi up again. " +
        "To use a server you already have, set serverNumber instead.",
    );
    const orders = mock.requestsFor("POST /order/server/transaction");
    expect(orders).toHaveLength(1);
    expect(orders[0]!.body).toEqual({ product_id: "GEX45", location: "FSN1", "authorized_key[]": [FINGERPRINT], dist: "Ubuntu 24.04 LTS base", "addon[]": ["primary_ipv4"], test: "true" });
    // Updated: the product is looked up first, so a suffixed id ("GEX131-1") can be ordered.
    expect(mock.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /order/server/product", "POST /order/server/transaction"]);
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
    // No other rule lets a new connection in: no rule without a port except ICMP, TCP replies need the ack flag.
    // Updated: every rule names its IP version, as Robot requires for protocol filters.
    expect(rules.filter((r) => r.dst_port === undefined).map((r) => [r.protocol, r.ip_version])).toEqual([["icmp", "ipv4"]]);
    expect(rules.filter((r) => r.protocol === "tcp" && r.dst_port === "32768-65535")).toEqual([
      { name: "tcp replies v4", ip_version: "ipv4", dst_port: "32768-65535", protocol: "tcp", tcp_flags: "ack", action: "accept" },
      { name: "tcp replies v6", ip_version: "ipv6", dst_port: "32768-65535", protocol: "tcp", tcp_flags: "ack", action: "accept" },
    ]);
    expect(fw[0]!.body["rules[output][0][action]"]).toBe("accept");
    // The mock (which refuses what Robot refuses) took the rules.
    expect(fw[0]!.status).toBe(202);
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
    // A server this stack ordered is never forgotten: a later up with confirmOrder would order another.
    const ordered = await failure(() => provider.read("999", { ...outs, robotServerNumber: 999, origin: "ordered", transactionId: "B20261130-1" }));
    expect(ordered).toMatch(/^hetzner RobotServer read 999: Robot does not know server 999, which this stack ordered \(transaction B20261130-1\)\. It stays in the state/);
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
          "that means ordering a second server while the first stays billed. Refusing. " +
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

describe("RobotServer provider: product ids with suffixes", () => {
  let mock: RobotMock;
  beforeAll(async () => {
    mock = await startRobotMock({ user: USER, password: PASSWORD, orderScript: { readyAfterPolls: 1, serverNumber: 654 } });
  });
  afterAll(async () => {
    await mock.close();
  });
  beforeEach(() => {
    mock.requests.length = 0;
  });
  const gex131 = (over: Partial<RobotServerInputs> = {}): RobotServerInputs => ({
    robotUser: USER,
    robotPassword: PASSWORD,
    baseUrl: mock.url,
    productId: "GEX131",
    location: "nbg1",
    authorizedKeys: [FINGERPRINT],
    confirmOrder: false,
    firewallRules: RULES,
    pollMs: 5,
    ...over,
  });

  it("adopts server 654, which Robot reports as a GEX131-1, for product GEX131", async () => {
    const { id, outs } = await provider.create(gex131({ serverNumber: 654 }));
    expect(id).toBe("654");
    expect(outs).toMatchObject({ robotServerNumber: 654, product: "GEX131-1", dc: "NBG1-DC3", origin: "adopted", serverIp: "192.0.2.65" });
    expect(mock.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(["GET /server/654 200", "POST /firewall/654 202"]);
  });

  it("orders the id Robot lists (GEX131-1) for product GEX131, in test mode without confirmOrder", async () => {
    const message = await failure(() => provider.create(gex131()));
    expect(message).toMatch(/^hetzner RobotServer order GEX131: Robot accepted a test order for GEX131 \(Robot product GEX131-1\) in nbg1 \(test transaction B-TEST\), but NOTHING WAS ORDERED/);
    expect(mock.requestsFor("POST /order/server/transaction").map((r) => [r.body.product_id, r.body.location, r.body.test])).toEqual([["GEX131-1", "NBG1", "true"]]);
  });

  it("with confirmOrder orders GEX131-1 and sets the firewall of the delivered server", async () => {
    const { id, outs } = await provider.create(gex131({ confirmOrder: true }));
    expect(id).toBe("654");
    expect(outs).toMatchObject({ origin: "ordered", product: "GEX131-1", productId: "GEX131", transactionId: "B20261130-1" });
    expect(mock.requestsFor("POST /order/server/transaction").map((r) => [r.body.product_id, r.body.test])).toEqual([["GEX131-1", "false"]]);
    expect(mock.requestsFor("POST /firewall/654").map((r) => r.status)).toEqual([202]);
  });

  it("orders nothing when Robot lists no matching product, listing the ids it has", async () => {
    expect(await failure(() => provider.create(gex131({ productId: "GEX63", location: "fsn1" })))).toBe(
      'hetzner RobotServer order GEX63: Robot lists no product "GEX63" (nor "GEX63-<n>"); it lists GEX45, GEX131-1. Nothing was ordered; set robotProductId for this host to the id Robot lists for the product.',
    );
    expect(await failure(() => provider.create(gex131({ location: "hel1" })))).toBe(
      "hetzner RobotServer order GEX131: Robot lists GEX131-1 but not in HEL1; offered in NBG1, FSN1. Nothing was ordered; set robotProductId for this host to the id Robot lists for the product.",
    );
    expect(mock.requestsFor("POST /order/server/transaction")).toEqual([]);
  });

  it("treats GEX131 → GEX131-1 on an ordered server as no change (same product), but GEX131 → GEX45 as a refused replacement", async () => {
    const olds: RobotServerOutputs = { ...gex131({ confirmOrder: true }), robotServerNumber: 654, serverIp: "192.0.2.65", serverIpv6Net: null, product: "GEX131-1", dc: "NBG1-DC3", origin: "ordered", transactionId: "B1" };
    expect(await provider.diff("654", olds, gex131({ confirmOrder: true, productId: "GEX131-1" }))).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(await failure(() => provider.diff("654", olds, gex131({ confirmOrder: true, productId: "GEX45" })))).toContain("productId GEX131 → GEX45 would replace server 654, which this stack ordered");
  });
});

describe("RobotServer provider: cancelOnDestroy", () => {
  let mock: RobotMock;
  beforeEach(async () => {
    mock = await startRobotMock({ user: USER, password: PASSWORD });
  });
  afterEach(async () => {
    await mock.close();
  });
  const adopted = async (over: Partial<RobotServerInputs> = {}): Promise<RobotServerOutputs> =>
    (
      await provider.create({ robotUser: USER, robotPassword: PASSWORD, baseUrl: mock.url, serverNumber: 321, productId: "GEX45", location: "fsn1", authorizedKeys: [], confirmOrder: false, firewallRules: RULES, ...over })
    ).outs;

  it("by default delete sends nothing: the server stays in Robot, uncancelled", async () => {
    const outs = await adopted();
    mock.requests.length = 0;
    await provider.delete("321", outs);
    expect(mock.requests).toEqual([]);
    expect(mock.cancellation(321)).toBeUndefined();
  });

  it("with cancelOnDestroy cancels at the earliest date Robot allows, without reserving the location, once", async () => {
    const outs = await adopted({ cancelOnDestroy: true });
    mock.requests.length = 0;
    await provider.delete("321", outs);
    expect(mock.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /server/321/cancellation", "POST /server/321/cancellation"]);
    expect(mock.requestsFor("POST /server/321/cancellation")[0]!.body).toEqual({ cancellation_date: "2026-12-31", reserve_location: "false" });
    expect(mock.cancellation(321)).toEqual({ date: "2026-12-31", reserveLocation: false });
    // A second delete (e.g. a retried destroy) sees the cancellation and sends nothing more.
    mock.requests.length = 0;
    await provider.delete("321", outs);
    expect(mock.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /server/321/cancellation"]);
  });

  it("with cancelOnDestroy leaves a server Robot no longer knows alone", async () => {
    const outs = await adopted({ cancelOnDestroy: true });
    await expect(provider.delete("999", { ...outs, robotServerNumber: 999 })).resolves.toBeUndefined();
    expect(mock.requestsFor("POST /server/999/cancellation")).toEqual([]);
  });

  it("turning cancelOnDestroy on is an in-place change that only updates the state", async () => {
    const outs = await adopted();
    const news: RobotServerInputs = { ...outs, cancelOnDestroy: true };
    expect(await provider.diff("321", outs, news)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    mock.requests.length = 0;
    const { outs: updated } = await provider.update("321", outs, news);
    expect(mock.requests).toEqual([]);
    expect(updated).toMatchObject({ cancelOnDestroy: true, robotServerNumber: 321, origin: "adopted" });
  });
});

describe("RobotVswitch provider against the mock Robot", () => {
  let mock: RobotMock;
  const start = async (options: RobotMockOptions = {}): Promise<void> => {
    mock = await startRobotMock({ user: USER, password: PASSWORD, ...options });
  };
  afterEach(async () => {
    await mock.close();
  });
  const inputs = (over: Partial<RobotVswitchInputs> = {}): RobotVswitchInputs => ({ robotUser: USER, robotPassword: PASSWORD, baseUrl: mock.url, name: "gpu-1-net", vlan: 4000, serverNumbers: [321], pollMs: 1, ...over });
  const create = async (over: Partial<RobotVswitchInputs> = {}): Promise<RobotVswitchOutputs> => {
    const { outs } = await robotVswitchProvider.create(inputs(over));
    if (!outs) throw new Error("create returned no outputs");
    return outs;
  };
  const calls = (): string[] => mock.requests.map((r) => `${r.method} ${r.path} ${r.status}`);

  it("creates the vSwitch with its VLAN, adds the server and waits until Robot reports it ready", async () => {
    await start();
    const { id, outs } = await robotVswitchProvider.create(inputs());
    expect(id).toBe("7000");
    expect(outs).toMatchObject({ vswitchId: 7000, vlan: 4000, serverNumbers: [321] });
    expect(mock.requestsFor("POST /vswitch")[0]!.body).toEqual({ name: "gpu-1-net", vlan: "4000" });
    expect(mock.requestsFor("POST /vswitch/7000/server")[0]!.body).toEqual({ "server[]": ["321"] });
    // Updated: the provider now looks for a vSwitch to take over first, and waits for the server.
    expect(calls()).toEqual(["GET /vswitch 200", "POST /vswitch 201", "POST /vswitch/7000/server 201", "GET /vswitch/7000 200", "GET /vswitch/7000 200", "GET /vswitch/7000 200"]);
    expect(mock.vswitch(7000)?.server).toEqual([{ server_number: 321, status: "ready" }]);
  });

  it("takes over a vSwitch with the same name and VLAN left by a failed create, adding only missing servers", async () => {
    await start({ vswitches: [{ id: 6100, name: "gpu-1-net", vlan: 4000, servers: [654] }] });
    const outs = await create({ serverNumbers: [321] });
    expect(outs.vswitchId).toBe(6100);
    expect(mock.requestsFor("POST /vswitch")).toEqual([]);
    expect(mock.requestsFor("POST /vswitch/6100/server")[0]!.body).toEqual({ "server[]": ["321"] });
    expect(mock.vswitch(6100)?.server).toEqual([
      { server_number: 654, status: "ready" },
      { server_number: 321, status: "ready" },
    ]);
  });

  it("fails clearly when another vSwitch uses the VLAN", async () => {
    await start({ vswitches: [{ id: 6200, name: "other", vlan: 4000 }] });
    expect(await failure(() => robotVswitchProvider.create(inputs()))).toBe(
      "hetzner RobotVswitch gpu-1-net (VLAN 4000): Robot POST /vswitch failed: 409 VSWITCH_VLAN_NOT_UNIQUE: The VLAN ID is not unique (the VLAN ID is already used by another vSwitch: pick another VLAN ID from 4000 to 4091)",
    );
  });

  it("fails naming a server that Robot could not add, and says the vSwitch will be taken over next time", async () => {
    await start({ vswitchFailServers: [321] });
    expect(await failure(() => robotVswitchProvider.create(inputs()))).toBe(
      'hetzner RobotVswitch gpu-1-net (VLAN 4000): Robot vSwitch 7000: adding server 321 failed (status "failed"); remove it from the vSwitch in Robot (or with DELETE /vswitch/7000/server) and try again. vSwitch 7000 exists in Robot; running pulumi up again takes it over (same name and VLAN).',
    );
  });

  it("refuses a VLAN outside 4000–4091 before any request", async () => {
    await start();
    expect(await failure(() => robotVswitchProvider.create(inputs({ vlan: 100 })))).toContain("hetzner RobotVswitch gpu-1-net (VLAN 100): createVswitch vlan: 100 is not allowed");
    expect(mock.requests).toEqual([]);
  });

  it("renames and changes the VLAN in place (no replacement): one POST /vswitch/{id}, same ID", async () => {
    await start();
    const olds = await create();
    const news = inputs({ name: "gpu-net", vlan: 4001 });
    expect(await robotVswitchProvider.diff!("7000", olds, news)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    mock.requests.length = 0;
    const { outs } = await robotVswitchProvider.update!("7000", olds, news);
    expect(outs).toMatchObject({ vswitchId: 7000, name: "gpu-net", vlan: 4001, serverNumbers: [321] });
    expect(calls()).toEqual(["POST /vswitch/7000 201"]);
    expect(mock.requestsFor("POST /vswitch/7000")[0]!.body).toEqual({ name: "gpu-net", vlan: "4001" });
    expect(mock.vswitch(7000)).toMatchObject({ name: "gpu-net", vlan: 4001 });
  });

  it("adds and removes servers in place: DELETE for removals, each waited for", async () => {
    await start();
    const olds = await create({ serverNumbers: [321] });
    const news = inputs({ serverNumbers: [654] });
    expect(await robotVswitchProvider.diff!("7000", olds, news)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    mock.requests.length = 0;
    await robotVswitchProvider.update!("7000", olds, news);
    expect(calls()).toEqual([
      "DELETE /vswitch/7000/server 200",
      "GET /vswitch/7000 200",
      "GET /vswitch/7000 200",
      "GET /vswitch/7000 200",
      "POST /vswitch/7000/server 201",
      "GET /vswitch/7000 200",
      "GET /vswitch/7000 200",
      "GET /vswitch/7000 200",
    ]);
    expect(mock.requestsFor("DELETE /vswitch/7000/server")[0]!.body).toEqual({ "server[]": ["321"] });
    expect(mock.vswitch(7000)?.server).toEqual([{ server_number: 654, status: "ready" }]);
  });

  it("waits out 409 VSWITCH_IN_PROCESS when a change arrives while Robot is still busy", async () => {
    await start();
    const olds = await create({ serverNumbers: [] });
    // Add a server without waiting, as a second stack or Robot's own UI might.
    await fetch(`${mock.url}/vswitch/7000/server`, {
      method: "POST",
      headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: "server[]=654",
    });
    mock.requests.length = 0;
    await robotVswitchProvider.update!("7000", olds, inputs({ serverNumbers: [321] }));
    expect(mock.requestsFor("POST /vswitch/7000/server").map((r) => r.status)).toEqual([409, 409, 201]);
    expect(mock.vswitch(7000)?.server.map((s) => [s.server_number, s.status])).toEqual([
      [654, "ready"],
      [321, "ready"],
    ]);
  });

  it("read refreshes name, VLAN and servers, and reports a cancelled or unknown vSwitch as gone", async () => {
    await start({ vswitches: [{ id: 6300, name: "renamed-in-robot", vlan: 4002, servers: [654] }, { id: 6301, name: "old", vlan: 4003, cancelled: true }] });
    const props: RobotVswitchOutputs = { ...inputs({ serverNumbers: [321, 654] }), vswitchId: 6300 };
    expect(await robotVswitchProvider.read!("6300", props)).toEqual({ id: "6300", props: { ...props, name: "renamed-in-robot", vlan: 4002, serverNumbers: [654] } });
    expect(await robotVswitchProvider.read!("6301", { ...props, vswitchId: 6301 })).toEqual({});
    expect(await robotVswitchProvider.read!("6999", { ...props, vswitchId: 6999 })).toEqual({});
  });

  it("forgets the vSwitch on delete without a request by default", async () => {
    await start();
    const outs = await create();
    mock.requests.length = 0;
    await robotVswitchProvider.delete!("7000", outs);
    expect(mock.requests).toEqual([]);
    expect(mock.vswitch(7000)).toMatchObject({ cancelled: false, server: [{ server_number: 321, status: "ready" }] });
  });

  it("with cancelOnDestroy takes the servers out, waits, then cancels the vSwitch now", async () => {
    await start();
    const outs = await create({ cancelOnDestroy: true });
    mock.requests.length = 0;
    await robotVswitchProvider.delete!("7000", outs);
    expect(calls()).toEqual([
      "GET /vswitch/7000 200",
      "DELETE /vswitch/7000/server 200",
      "GET /vswitch/7000 200",
      "GET /vswitch/7000 200",
      "GET /vswitch/7000 200",
      "DELETE /vswitch/7000 200",
    ]);
    expect(mock.requestsFor("DELETE /vswitch/7000")[0]!.body).toEqual({ cancellation_date: "now" });
    expect(mock.vswitch(7000)).toEqual({ id: 7000, name: "gpu-1-net", vlan: 4000, cancelled: true, server: [] });
    // Deleting again finds it cancelled and does nothing more.
    mock.requests.length = 0;
    await robotVswitchProvider.delete!("7000", outs);
    expect(calls()).toEqual(["GET /vswitch/7000 200"]);
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

  it("the server provider serialises without credentials, adopts a GEX131-1 as GEX131 and cancels on delete from the copy", async () => {
    const { text, provider: copy } = await roundTrip(robotServerProvider);
    expect(text).not.toContain(PASSWORD);
    expect(text).toContain("class RobotClient");
    const { id, outs } = await copy.create({ robotUser: USER, robotPassword: PASSWORD, baseUrl: mock.url, serverNumber: 321, productId: "GEX45", location: "fsn1", authorizedKeys: [], confirmOrder: false, firewallRules: RULES });
    expect(id).toBe("321");
    expect(outs?.serverIp).toBe("192.0.2.21");
    expect(mock.requestsFor("POST /firewall/321").map((r) => r.status)).toEqual([202]);
    const big = await copy.create({ robotUser: USER, robotPassword: PASSWORD, baseUrl: mock.url, serverNumber: 654, productId: "GEX131", location: "nbg1", authorizedKeys: [], confirmOrder: false, firewallRules: RULES, cancelOnDestroy: true });
    expect(big.outs?.product).toBe("GEX131-1");
    await copy.delete!("654", big.outs!);
    expect(mock.cancellation(654)).toEqual({ date: "2026-12-31", reserveLocation: false });
  });

  it("the vSwitch provider serialises, creates a vSwitch and renames it in place from the copy", async () => {
    const { provider: copy } = await roundTrip(robotVswitchProvider);
    const ins: RobotVswitchInputs = { robotUser: USER, robotPassword: PASSWORD, baseUrl: mock.url, name: "net", vlan: 4001, serverNumbers: [321], pollMs: 1 };
    const { outs } = await copy.create(ins);
    expect(outs?.vswitchId).toBe(7000);
    await copy.update!("7000", outs!, { ...ins, name: "net-2" });
    expect(mock.vswitch(7000)).toMatchObject({ name: "net-2", vlan: 4001, server: [{ server_number: 321, status: "ready" }] });
  });
});
