/**
 * Pulumi dynamic providers for Hetzner Robot, which no Pulumi provider covers
 * (shared/facts/providers-gpus-power.md §1.2): a dedicated server (adopted or ordered, with its
 * Robot firewall) and a vSwitch. Both are built on {@link RobotClient}.
 *
 * Safety rules:
 * - Ordering costs money (monthly rent plus a setup fee) and cannot be undone through the API. Without
 *   `confirmOrder: true` an order only runs in the webservice's test mode and the create FAILS, saying
 *   that nothing was ordered and how to confirm.
 * - `delete` never cancels anything. Cancelling a dedicated server is a manual action in Robot with a
 *   notice period; `pulumi destroy` only forgets the server (and keeps paying for it). The same goes for
 *   vSwitches.
 * - A product or location change of an ordered server fails the preview instead of replacing the
 *   server (a replacement would order a second one).
 *
 * Serialisation: Pulumi serialises the provider objects below into the stack state and runs them in a
 * separate process that has neither this file nor a TypeScript loader. Pulumi's closure serialiser
 * rebuilds classes method by method, which breaks ES private fields, and {@link RobotClient} keeps its
 * credentials in `#private` fields: capturing the class directly yields "Private field '#baseUrl' must
 * be declared in an enclosing class" at run time. So the providers capture only plain data (the
 * JavaScript text of `./robot`, filled in when a resource is declared) and plain functions, and load the
 * client inside each call from that text with `require("node:vm")`. They never touch `@pulumi/*` and
 * take credentials only from their inputs (never captured, so never written into the provider text).
 * `test/hetzner-provider.test.ts` serialises the providers and runs the copy against a mock Robot.
 *
 * It lives in components/ because it imports `@pulumi/pulumi` for the resource wrappers; the Robot
 * client it builds on (core/hetzner/robot.ts) is pure. The firewall rule builder and product matching
 * are exported separately and tested without Pulumi.
 */
import * as pulumi from "@pulumi/pulumi";
import type { FirewallRule, RobotClient, RobotServer as RobotServerInfo, RobotVswitch as RobotVswitchInfo } from "../../core/hetzner/robot";

/** Default wait for an order to become `ready`, ms (Hetzner delivers GPU servers within hours, sometimes longer). */
export const DEFAULT_READY_TIMEOUT_MS = 4 * 3_600_000;
/** Default wait between order status polls, ms. */
export const DEFAULT_POLL_MS = 30_000;
/** Robot's firewall takes at most this many rules per direction. */
export const ROBOT_FIREWALL_MAX_RULES = 10;
/** First port Linux hands out for outgoing connections (net.ipv4.ip_local_port_range). */
const EPHEMERAL_PORTS = "32768-65535";

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

/** Options of {@link robotFirewallRules}. */
export interface RobotFirewallOptions {
  /** CIDRs allowed to reach SSH (TCP 22), IPv4 or IPv6. Nothing else reaches port 22. */
  sshAllowedCidrs: readonly string[];
  /** Public HTTPS endpoint port served directly by the server, if any. @default none */
  httpsPort?: number;
  /** Sources allowed to reach `httpsPort`. @default anywhere (IPv4 and IPv6) */
  httpsAllowedCidrs?: readonly string[];
  /**
   * Traffic from the private network (a load balancer reaching the server through the vSwitch): the
   * network's IP range and the serving port. Added whether or not Robot's firewall filters vSwitch
   * traffic (not confirmed either way), so the load balancer works in both cases.
   */
  privateNetwork?: { ipRange: string; port: number };
}

const ipVersionOf = (cidr: string): "ipv4" | "ipv6" => (cidr.includes(":") ? "ipv6" : "ipv4");

/**
 * Incoming Robot firewall rules: SSH only from `sshAllowedCidrs`, the HTTPS port if given, the serving
 * port from the private network if given, then what a stateless filter needs for the server's own
 * outgoing traffic (TCP answers to ephemeral ports, flag `ack` only, so no new connection can start there;
 * ICMP for ping, path-MTU discovery and IPv6 neighbour discovery). Anything else is dropped: Robot
 * discards packets no rule accepts.
 *
 * @throws Error when more than {@link ROBOT_FIREWALL_MAX_RULES} rules would be needed, or a port is out of range.
 */
export function robotFirewallRules(options: RobotFirewallOptions): FirewallRule[] {
  const rules: FirewallRule[] = options.sshAllowedCidrs.map((cidr, i) => ({
    name: `ssh-${i + 1}`,
    ipVersion: ipVersionOf(cidr),
    srcIp: cidr,
    dstPort: "22",
    protocol: "tcp",
    action: "accept",
  }));
  const port = (p: number, what: string): string => {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`${what}: ${p} is not a TCP port; use an integer from 1 to 65535`);
    return String(p);
  };
  if (options.httpsPort !== undefined) {
    const dstPort = port(options.httpsPort, "httpsPort");
    const sources = options.httpsAllowedCidrs;
    if (sources === undefined) rules.push({ name: "https", dstPort, protocol: "tcp", action: "accept" });
    else sources.forEach((cidr, i) => rules.push({ name: `https-${i + 1}`, ipVersion: ipVersionOf(cidr), srcIp: cidr, dstPort, protocol: "tcp", action: "accept" }));
  }
  if (options.privateNetwork) {
    rules.push({
      name: "private-network",
      ipVersion: "ipv4",
      srcIp: options.privateNetwork.ipRange,
      dstPort: port(options.privateNetwork.port, "privateNetwork.port"),
      protocol: "tcp",
      action: "accept",
    });
  }
  rules.push({ name: "tcp-replies", dstPort: EPHEMERAL_PORTS, protocol: "tcp", tcpFlags: "ack", action: "accept" });
  rules.push({ name: "icmp", protocol: "icmp", action: "accept" });
  if (rules.length > ROBOT_FIREWALL_MAX_RULES) {
    throw new Error(
      `sshAllowedCidrs: ${options.sshAllowedCidrs.length} CIDRs need ${rules.length} Robot firewall rules, but Robot takes at most ${ROBOT_FIREWALL_MAX_RULES} per direction; merge them into fewer, wider CIDRs (at most ${ROBOT_FIREWALL_MAX_RULES - (rules.length - options.sshAllowedCidrs.length)})`,
    );
  }
  return rules;
}

/** Whether Robot's `product` string (e.g. `GEX45`, `Dedicated Server GEX45`) names the product `wanted`. */
export function productMatches(actual: string, wanted: string): boolean {
  const norm = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9]/g, "");
  const a = norm(actual);
  const w = norm(wanted);
  return w !== "" && (a === w || a.endsWith(w));
}

/** Location (e.g. `fsn1`) of a Robot data centre name such as `FSN1-DC14`; null when unreadable. */
export function locationOfDc(dc: string | undefined): string | null {
  const m = /^([A-Za-z]+\d+)(-|$)/.exec(dc ?? "");
  return m ? (m[1] as string).toLowerCase() : null;
}

// ---------------------------------------------------------------------------------------------
// Dedicated server provider
// ---------------------------------------------------------------------------------------------

/** Inputs of the dedicated server provider, as it receives them (secrets already unwrapped). */
export interface RobotServerInputs {
  /** Robot webservice user (secret). */
  robotUser: string;
  /** Robot webservice password (secret). */
  robotPassword: string;
  /** @default "https://robot-ws.your-server.de" */
  baseUrl?: string;
  /** Adopt this existing server instead of ordering one. */
  serverNumber?: number;
  /** Robot product ID, e.g. `GEX45`. */
  productId: string;
  /** Location, e.g. `fsn1` (sent upper-case, as Robot writes it). */
  location: string;
  /** Fingerprints of SSH keys stored in Robot; an order installs them for root. */
  authorizedKeys: string[];
  /** Place a real, billed order. Anything but `true` runs the order in test mode and fails. */
  confirmOrder: boolean;
  /** Incoming firewall rules, from {@link robotFirewallRules}. */
  firewallRules: FirewallRule[];
  /** Distribution installed on an ordered server, as listed by `GET /order/server/product/{id}`. */
  dist?: string;
  /** Order addons. @default none (the component passes `primary_ipv4`) */
  addons?: string[];
  /** Give up waiting for an order after this long, ms. @default 14_400_000 (4 hours) */
  readyTimeoutMs?: number;
  /** Wait between order status polls, ms. @default 30_000 */
  pollMs?: number;
}

/** Outputs: the inputs as given, plus what Robot reports. */
export interface RobotServerOutputs extends RobotServerInputs {
  /** The server's number in Robot (the resource ID as a number). */
  robotServerNumber: number;
  /** Main IPv4 address, or the server's `::2` address for IPv6-only servers. */
  serverIp: string;
  /** IPv6 /64 net, if any. */
  serverIpv6Net: string | null;
  /** Product as Robot names it. */
  product: string;
  /** Data centre, e.g. `FSN1-DC14`. */
  dc: string;
  /** How the server came in: ordered by this stack, or adopted by number. */
  origin: "ordered" | "adopted";
  /** Order transaction ID for ordered servers. */
  transactionId: string | null;
}

// ---------------------------------------------------------------------------------------------
// Loading the Robot client inside the serialised providers
// ---------------------------------------------------------------------------------------------

/** JavaScript text of `./robot`, captured by value into the serialised providers. */
const robotSource: { js?: string } = {};

/** Reads `./robot` as CommonJS JavaScript: the file itself when compiled, else transpiled with `typescript`. */
function readRobotSource(): string {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const fs = require("node:fs") as typeof import("node:fs");
  const file = require.resolve("../../core/hetzner/robot");
  const text = fs.readFileSync(file, "utf8");
  if (!file.endsWith(".ts")) return text;
  const ts = require("typescript") as typeof import("typescript");
  /* eslint-enable @typescript-eslint/no-require-imports */
  return ts.transpileModule(text, { fileName: file, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
}

/** Fills in the captured Robot source; called before a provider is serialised. */
export function prepareRobotSource(): void {
  robotSource.js ??= readRobotSource();
}

/** Evaluates the captured `./robot` text (it imports nothing) and returns its exports. */
function robotModule(): typeof import("../../core/hetzner/robot") {
  if (robotSource.js === undefined) prepareRobotSource();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const vm = require("node:vm") as typeof import("node:vm");
  const mod = { exports: {} as typeof import("../../core/hetzner/robot") };
  const noRequire = (id: string): never => {
    throw new Error(`robot.ts must not import anything at run time (asked for ${id})`);
  };
  const fn = vm.runInThisContext(`(function (exports, require, module) {\n${robotSource.js as string}\n})`, { filename: "gpu-hosting-robot.js" }) as (
    e: unknown,
    r: unknown,
    m: unknown,
  ) => void;
  fn(mod.exports, noRequire, mod);
  return mod.exports;
}

function robotClient(inputs: { robotUser: string; robotPassword: string; baseUrl?: string }): RobotClient {
  const { RobotClient: Client } = robotModule();
  return new Client({ user: inputs.robotUser, password: inputs.robotPassword, baseUrl: inputs.baseUrl });
}

function addressOf(server: RobotServerInfo): string {
  if (server.server_ip) return server.server_ip;
  // IPv6-only server: Hetzner's installimage configures ::2 of the /64.
  return server.server_ipv6_net ? `${server.server_ipv6_net.replace(/::?$/, "")}::2` : "";
}

function outputsFor(inputs: RobotServerInputs, server: RobotServerInfo, origin: "ordered" | "adopted", transactionId: string | null): RobotServerOutputs {
  return {
    ...inputs,
    robotServerNumber: server.server_number,
    serverIp: addressOf(server),
    serverIpv6Net: server.server_ipv6_net ?? null,
    product: server.product,
    dc: server.dc,
    origin,
    transactionId,
  };
}

async function applyFirewall(client: RobotClient, serverNumber: number, rules: FirewallRule[]): Promise<void> {
  // Robot's firewall is stateless and filters both IP versions here; outgoing traffic is left open.
  await client.setFirewall(serverNumber, {
    status: "active",
    whitelistHos: true,
    filterIpv6: true,
    input: rules,
    output: [{ name: "allow-all-out", action: "accept" }],
  });
}

async function adopt(inputs: RobotServerInputs): Promise<RobotServerOutputs> {
  const n = inputs.serverNumber as number;
  const client = robotClient(inputs);
  const server = await client.getServer(n);
  if (!productMatches(server.product, inputs.productId)) {
    throw new Error(
      `Robot server ${n} is a "${server.product}", not a ${inputs.productId}; set product to the server's product, or serverNumber to a ${inputs.productId} you have`,
    );
  }
  const loc = locationOfDc(server.dc);
  if (loc !== null && loc !== inputs.location.toLowerCase()) {
    throw new Error(`Robot server ${n} is in ${server.dc}, not in ${inputs.location.toLowerCase()}; set location: "${loc}" for this host`);
  }
  if (server.cancelled) {
    throw new Error(`Robot server ${n} is cancelled in Robot; withdraw the cancellation in Robot, or adopt another server`);
  }
  await applyFirewall(client, n, inputs.firewallRules);
  return outputsFor(inputs, server, "adopted", null);
}

async function order(inputs: RobotServerInputs): Promise<RobotServerOutputs> {
  const client = robotClient(inputs);
  const what = `${inputs.productId} in ${inputs.location.toLowerCase()}`;
  const args = {
    productId: inputs.productId,
    location: inputs.location.toUpperCase(),
    authorizedKeys: inputs.authorizedKeys,
    dist: inputs.dist,
    addons: inputs.addons,
  };
  if (inputs.confirmOrder !== true) {
    const tx = await client.orderServer({ ...args, test: true });
    throw new Error(
      `Robot accepted a test order for ${what} (test transaction ${tx.id}), but NOTHING WAS ORDERED: confirmOrder is not true. ` +
        "An order costs money (monthly rent plus a setup fee) and cannot be undone through the API. " +
        "To order: enable ordering in Robot (Administration → Settings → Web service settings → Ordering), " +
        "set confirmOrder: true for this host in the stack, and run pulumi up again. " +
        "To use a server you already have, set serverNumber instead.",
    );
  }
  const tx = await client.orderServer({ ...args, test: false });
  let ready;
  try {
    ready = await client.waitForTransaction(tx.id, { timeoutMs: inputs.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS, pollMs: inputs.pollMs ?? DEFAULT_POLL_MS });
  } catch (err) {
    throw new Error(
      `${messageOf(err)} The order for ${what} IS placed and billed (transaction ${tx.id}); running pulumi up again would order a second server. ` +
        "Once Robot shows the server, set serverNumber to its number for this host (and keep confirmOrder), then run pulumi up.",
    );
  }
  try {
    const server = await client.getServer(ready.serverNumber);
    await applyFirewall(client, ready.serverNumber, inputs.firewallRules);
    return outputsFor(inputs, server, "ordered", tx.id);
  } catch (err) {
    throw new Error(
      `${messageOf(err)} Server ${ready.serverNumber} was ordered (transaction ${tx.id}) but its firewall is not set; ` +
        `set serverNumber: ${ready.serverNumber} for this host and run pulumi up again (that adopts it and retries the firewall; another order would be billed).`,
    );
  }
}

/** An error's message; `instanceof Error` fails across realms (the client runs in a `vm` script). */
function messageOf(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === "string" ? m : String(err);
}

/** Names a failed call without credentials (RobotClient already redacts the password). */
function wrap(step: string, err: unknown): Error {
  return new Error(`hetzner RobotServer ${step}: ${messageOf(err)}`);
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The dynamic provider for a Robot dedicated server. */
export const robotServerProvider: pulumi.dynamic.ResourceProvider<RobotServerInputs, RobotServerOutputs> = {
  async create(inputs) {
    try {
      const outs = inputs.serverNumber !== undefined && inputs.serverNumber !== null ? await adopt(inputs) : await order(inputs);
      return { id: String(outs.robotServerNumber), outs };
    } catch (err) {
      throw wrap(inputs.serverNumber !== undefined ? `adopt ${inputs.serverNumber}` : `order ${inputs.productId}`, err);
    }
  },

  async read(id, props) {
    if (!props) return { id, props };
    try {
      const server = await robotClient(props).getServer(Number(id));
      return { id, props: { ...props, serverIp: addressOf(server), serverIpv6Net: server.server_ipv6_net ?? null, product: server.product, dc: server.dc } };
    } catch (err) {
      const e = err as { code?: string; status?: number };
      if (e.status === 404 || e.code === "SERVER_NOT_FOUND") return {};
      throw wrap(`read ${id}`, err);
    }
  },

  async diff(id, olds, news) {
    const replaces: string[] = [];
    const newAdopt = news.serverNumber !== undefined && news.serverNumber !== null;
    const moved = (["productId", "location"] as const).filter((k) => String(olds[k]).toLowerCase() !== String(news[k]).toLowerCase());
    if (olds.origin === "ordered") {
      // Adopting by number (the same server or another) is harmless: delete only forgets, and create
      // checks the product again.
      if (newAdopt && (news.serverNumber !== olds.robotServerNumber || moved.length > 0)) {
        replaces.push(...(news.serverNumber !== olds.robotServerNumber ? ["serverNumber"] : []), ...moved);
      }
      else if (moved.length > 0 && !newAdopt) {
        throw new Error(
          `hetzner RobotServer ${id}: ${moved.map((k) => `${k} ${olds[k]} → ${news[k]}`).join(", ")} would replace server ${id}, which this stack ordered: ` +
            "that means ordering a second server while the first stays billed (destroy never cancels). Refusing. " +
            `Change it back; or cancel server ${id} in Robot and give the new server a new host name; or adopt an existing server with serverNumber.`,
        );
      }
    } else if (!newAdopt) {
      throw new Error(
        `hetzner RobotServer ${id}: serverNumber was removed from an adopted server; that would order a new server. ` +
          `Set serverNumber: ${olds.robotServerNumber} again, or give the new server a new host name.`,
      );
    } else if (news.serverNumber !== olds.serverNumber || moved.length > 0) {
      // Re-adopting is harmless: delete only forgets, and create checks the product again.
      replaces.push(...(news.serverNumber !== olds.serverNumber ? ["serverNumber"] : []), ...moved);
    }
    const changes =
      replaces.length > 0 ||
      !sameJson(olds.firewallRules, news.firewallRules) ||
      olds.robotUser !== news.robotUser ||
      olds.robotPassword !== news.robotPassword ||
      (olds.baseUrl ?? null) !== (news.baseUrl ?? null);
    return { changes, replaces, deleteBeforeReplace: false };
  },

  async update(id, olds, news) {
    try {
      if (!sameJson(olds.firewallRules, news.firewallRules)) await applyFirewall(robotClient(news), Number(id), news.firewallRules);
    } catch (err) {
      throw wrap(`update firewall of ${id}`, err);
    }
    const computed = {
      robotServerNumber: olds.robotServerNumber,
      serverIp: olds.serverIp,
      serverIpv6Net: olds.serverIpv6Net,
      product: olds.product,
      dc: olds.dc,
      origin: olds.origin,
      transactionId: olds.transactionId,
    };
    return { outs: { ...news, ...computed } };
  },

  async delete() {
    // Deliberately nothing: cancelling a dedicated server is a manual Robot action with a notice
    // period. Destroying the stack only forgets the server; it stays in Robot and stays billed.
  },
};

/** Inputs of {@link RobotServer}; credentials are made secret by the wrapper. */
export type RobotServerArgs = { [K in keyof RobotServerInputs]: pulumi.Input<RobotServerInputs[K]> };

/**
 * A Hetzner dedicated server managed through Robot: adopted by `serverNumber`, or ordered (only with
 * `confirmOrder: true`), with its Robot firewall set. Destroying it never cancels the server.
 */
export class RobotServer extends pulumi.dynamic.Resource {
  /** The server's number in Robot. */
  declare public readonly robotServerNumber: pulumi.Output<number>;
  /** Main IPv4 address (or `::2` of the IPv6 net for IPv6-only servers). */
  declare public readonly serverIp: pulumi.Output<string>;
  /** IPv6 /64 net. */
  declare public readonly serverIpv6Net: pulumi.Output<string | null>;
  /** Product as Robot names it. */
  declare public readonly product: pulumi.Output<string>;
  /** Data centre, e.g. `FSN1-DC14`. */
  declare public readonly dc: pulumi.Output<string>;
  /** `ordered` or `adopted`. */
  declare public readonly origin: pulumi.Output<"ordered" | "adopted">;

  constructor(name: string, args: RobotServerArgs, opts?: pulumi.CustomResourceOptions) {
    prepareRobotSource();
    super(
      robotServerProvider,
      name,
      {
        ...args,
        robotUser: pulumi.secret(args.robotUser),
        robotPassword: pulumi.secret(args.robotPassword),
        robotServerNumber: undefined,
        serverIp: undefined,
        serverIpv6Net: undefined,
        product: undefined,
        dc: undefined,
        origin: undefined,
        transactionId: undefined,
      },
      { ...opts, additionalSecretOutputs: ["robotUser", "robotPassword"] },
      "hetzner",
      "RobotServer",
    );
  }
}

// ---------------------------------------------------------------------------------------------
// vSwitch provider
// ---------------------------------------------------------------------------------------------

/** Inputs of the vSwitch provider. */
export interface RobotVswitchInputs {
  robotUser: string;
  robotPassword: string;
  baseUrl?: string;
  /** vSwitch name in Robot. */
  name: string;
  /** VLAN ID, 4000–4091. */
  vlan: number;
  /** Dedicated servers to add. */
  serverNumbers: number[];
}

/** Outputs: the inputs plus the vSwitch ID. */
export interface RobotVswitchOutputs extends RobotVswitchInputs {
  /** Robot's vSwitch ID, for `hcloud.NetworkSubnet.vswitchId`. */
  vswitchId: number;
}

/** The dynamic provider for a Robot vSwitch. `delete` forgets it (cancel it in Robot if unused). */
export const robotVswitchProvider: pulumi.dynamic.ResourceProvider<RobotVswitchInputs, RobotVswitchOutputs> = {
  async create(inputs) {
    try {
      const client = robotClient(inputs);
      const vs: RobotVswitchInfo = await client.createVswitch(inputs.name, inputs.vlan);
      if (inputs.serverNumbers.length > 0) await client.addServerToVswitch(vs.id, inputs.serverNumbers);
      return { id: String(vs.id), outs: { ...inputs, vswitchId: vs.id } };
    } catch (err) {
      throw new Error(`hetzner RobotVswitch ${inputs.name} (VLAN ${inputs.vlan}): ${messageOf(err)}`);
    }
  },

  async diff(_id, olds, news) {
    const replaces = (["name", "vlan"] as const).filter((k) => olds[k] !== news[k]);
    const changes =
      replaces.length > 0 ||
      !sameJson(olds.serverNumbers, news.serverNumbers) ||
      olds.robotUser !== news.robotUser ||
      olds.robotPassword !== news.robotPassword ||
      (olds.baseUrl ?? null) !== (news.baseUrl ?? null);
    return { changes, replaces, deleteBeforeReplace: false };
  },

  async update(id, olds, news) {
    const added = news.serverNumbers.filter((n) => !olds.serverNumbers.includes(n));
    const removed = olds.serverNumbers.filter((n) => !news.serverNumbers.includes(n));
    if (removed.length > 0) {
      throw new Error(`hetzner RobotVswitch ${id}: removing servers ${removed.join(", ")} is not automated; remove them in Robot (vSwitches → ${olds.name}), then run pulumi refresh`);
    }
    try {
      if (added.length > 0) await robotClient(news).addServerToVswitch(Number(id), added);
    } catch (err) {
      throw new Error(`hetzner RobotVswitch ${id}: ${messageOf(err)}`);
    }
    return { outs: { ...news, vswitchId: olds.vswitchId } };
  },

  async delete() {
    // Deliberately nothing: a vSwitch is cancelled in Robot (with a cancellation date). Destroying
    // the stack only forgets it.
  },
};

/** Inputs of {@link RobotVswitch}. */
export type RobotVswitchArgs = { [K in keyof RobotVswitchInputs]: pulumi.Input<RobotVswitchInputs[K]> };

/** A Robot vSwitch holding dedicated servers. Destroying it only forgets it. */
export class RobotVswitch extends pulumi.dynamic.Resource {
  /** Robot's vSwitch ID. */
  declare public readonly vswitchId: pulumi.Output<number>;
  /** VLAN ID. */
  declare public readonly vlan: pulumi.Output<number>;

  constructor(name: string, args: RobotVswitchArgs, opts?: pulumi.CustomResourceOptions) {
    prepareRobotSource();
    super(
      robotVswitchProvider,
      name,
      { ...args, robotUser: pulumi.secret(args.robotUser), robotPassword: pulumi.secret(args.robotPassword), vswitchId: undefined },
      { ...opts, additionalSecretOutputs: ["robotUser", "robotPassword"] },
      "hetzner",
      "RobotVswitch",
    );
  }
}
