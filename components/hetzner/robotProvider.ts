/**
 * Pulumi dynamic providers for Hetzner Robot, which no Pulumi provider covers
 * (shared/facts/providers-gpus-power.md §1.2): a dedicated server (adopted or ordered, with its
 * Robot firewall) and a vSwitch. Both are built on {@link RobotClient}.
 *
 * Safety rules:
 * - Ordering costs money as soon as the order is placed (monthly rent plus a one-time setup fee);
 *   cancelling the server later (in Robot, or through the API) only ends it from the cancellation date
 *   on. Without `confirmOrder: true` an order only runs in the webservice's test mode and the create
 *   FAILS, saying that nothing was ordered and how to confirm.
 * - `delete` cancels nothing unless `cancelOnDestroy: true` was set (and applied with `pulumi up`)
 *   before the delete. Robot's API can cancel (`POST /server/{n}/cancellation`, `DELETE /vswitch/{id}`);
 *   not doing it by default is a choice: destroying a stack must never end a billed server the user may
 *   still need, and a cancellation loses the server, its data and its IP addresses once it takes effect.
 * - A product or location change of an ordered server fails the preview instead of replacing the
 *   server (a replacement would order a second one).
 *
 * Serialisation: Pulumi serialises the provider objects below into the stack state and runs them in a
 * separate process that has neither this file nor a TypeScript loader. Pulumi's closure serialiser
 * rebuilds classes method by method, which breaks ES private fields, and {@link RobotClient} keeps its
 * credentials in `#private` fields: capturing the class directly yields "Private field '#baseUrl' must
 * be declared in an enclosing class" at run time. So the providers capture only plain data (the
 * JavaScript text of `./robot`, filled in when a resource is declared) and plain functions, and load the
 * client and its pure helpers inside each call from that text with `require("node:vm")`; they never
 * reference the value exports of `core/hetzner/*` directly. They never touch `@pulumi/*` and take
 * credentials only from their inputs (never captured, so never written into the provider text).
 * `test/hetzner-provider.test.ts` serialises the providers and runs the copy against a mock Robot.
 *
 * It lives in components/ because it imports `@pulumi/pulumi` for the resource wrappers; the Robot
 * client (core/hetzner/robot.ts) and the firewall rule builder (core/hetzner/firewall.ts) are pure and
 * re-exported here.
 */
import * as pulumi from "@pulumi/pulumi";
import type {
  FirewallRule,
  RobotClient,
  RobotServer as RobotServerInfo,
  RobotVswitch as RobotVswitchInfo,
  WaitOptions,
} from "../../core/hetzner/robot";

export { ROBOT_FIREWALL_MAX_RULES, robotFirewallProblems, robotFirewallRules, type RobotFirewallOptions } from "../../core/hetzner/firewall";
export { productIdMatches, productIdMatches as productMatches } from "../../core/hetzner/robot";

/** Default wait for an order to become `ready`, ms (Hetzner delivers GPU servers within hours, sometimes longer). */
export const DEFAULT_READY_TIMEOUT_MS = 4 * 3_600_000;
/** Default wait between order status polls, ms. */
export const DEFAULT_POLL_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

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
  /**
   * Robot product ID, e.g. `GEX45`. Adopting accepts Robot's product name with a numeric suffix
   * (`GEX131-1` for `GEX131`); ordering orders the id `GET /order/server/product` lists for it.
   */
  productId: string;
  /** Location, e.g. `fsn1` (sent upper-case, as Robot writes it). */
  location: string;
  /** Fingerprints of SSH keys stored in Robot; an order installs them for root. */
  authorizedKeys: string[];
  /** Place a real, billed order. Anything but `true` runs the order in test mode and fails. */
  confirmOrder: boolean;
  /** Incoming firewall rules, from `robotFirewallRules` (core/hetzner/firewall.ts). */
  firewallRules: FirewallRule[];
  /** Distribution installed on an ordered server, as listed by `GET /order/server/product/{id}`. */
  dist?: string;
  /** Order addons. @default none (the component passes `primary_ipv4`) */
  addons?: string[];
  /** Give up waiting for an order after this long, ms. @default 14_400_000 (4 hours) */
  readyTimeoutMs?: number;
  /** Wait between order status polls, ms. @default 30_000 */
  pollMs?: number;
  /**
   * When Pulumi deletes this resource (destroy, removing the host, or replacing it), cancel the server
   * in Robot at the earliest date Robot allows. Takes effect only once applied with `pulumi up` (delete
   * reads the stored state). @default false: delete only forgets the server, which stays billed
   */
  cancelOnDestroy?: boolean;
}

/** Outputs: the inputs as given, plus what Robot reports. */
export interface RobotServerOutputs extends RobotServerInputs {
  /** The server's number in Robot (the resource ID as a number). */
  robotServerNumber: number;
  /** Main IPv4 address, or the server's `::2` address for IPv6-only servers. */
  serverIp: string;
  /** IPv6 /64 net, if any. */
  serverIpv6Net: string | null;
  /** Product as Robot names it, e.g. `GEX131-1`. */
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

/** @internal Fills in the captured Robot source; called before a provider is serialised. */
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

/** The waits a resource's inputs ask for, with the client's defaults where not given. */
function waitOf(inputs: { readyTimeoutMs?: number; pollMs?: number }): WaitOptions {
  return { timeoutMs: inputs.readyTimeoutMs ?? undefined, pollMs: inputs.pollMs ?? undefined };
}

/** Whether a failed call means "Robot does not know this" (404), across realms. */
function isNotFound(err: unknown): boolean {
  const e = err as { status?: unknown } | null;
  return e?.status === 404;
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
  // Robot's firewall is stateless. filter_ipv6 on: IPv6 passes only where an ip_version ipv6 rule lets
  // it in (see core/hetzner/firewall.ts for the IPv6 policy). Outgoing traffic is left open; a rule
  // without ip_version may not filter protocols or addresses, and this one does neither.
  await client.setFirewall(serverNumber, {
    status: "active",
    whitelistHos: true,
    filterIpv6: true,
    input: rules,
    output: [{ name: "allow all out", action: "accept" }],
  });
}

async function adopt(inputs: RobotServerInputs): Promise<RobotServerOutputs> {
  const n = inputs.serverNumber as number;
  const client = robotClient(inputs);
  const server = await client.getServer(n);
  if (!robotModule().productIdMatches(server.product, inputs.productId)) {
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
  const location = inputs.location.toUpperCase();
  // Some accounts see product ids with a suffix ("GEX131-1"); order the id Robot lists.
  const found = robotModule().findProduct(await client.listProducts(), inputs.productId, location);
  if ("error" in found) {
    throw new Error(`${found.error}. Nothing was ordered; set robotProductId for this host to the id Robot lists for the product.`);
  }
  const productId = found.product.id;
  const what = `${inputs.productId}${productId !== inputs.productId ? ` (Robot product ${productId})` : ""} in ${inputs.location.toLowerCase()}`;
  const args = { productId, location, authorizedKeys: inputs.authorizedKeys, dist: inputs.dist, addons: inputs.addons };
  if (inputs.confirmOrder !== true) {
    const tx = await client.orderServer({ ...args, test: true });
    throw new Error(
      `Robot accepted a test order for ${what} (test transaction ${tx.id}), but NOTHING WAS ORDERED: confirmOrder is not true. ` +
        "An order costs money as soon as it is placed (monthly rent plus a one-time setup fee); cancelling the server later only ends it from the cancellation date on. " +
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

/**
 * Cancels a server at the earliest date Robot allows (`earliest_cancellation_date` from
 * `GET /server/{n}/cancellation`), not `now`: `now` ends the server, its data and its IP addresses at
 * once, while the earliest date keeps it running until the notice period ends, so there is still time
 * to copy data off or withdraw the cancellation in Robot (`DELETE /server/{n}/cancellation`). The
 * location is not reserved. A server already cancelled, or unknown to Robot, is left as it is.
 */
async function cancelServer(inputs: RobotServerInputs, serverNumber: number): Promise<void> {
  const client = robotClient(inputs);
  let state;
  try {
    state = await client.getServerCancellation(serverNumber);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  if (state.cancelled) return;
  const date = state.earliest_cancellation_date;
  if (!date) {
    throw new Error(`Robot reports no earliest_cancellation_date for server ${serverNumber}; cancel it in Robot (Server → Cancellation), or set cancelOnDestroy: false`);
  }
  await client.cancelServer(serverNumber, { cancellationDate: date, reserveLocation: false });
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
      if (e.status === 404 || e.code === "SERVER_NOT_FOUND") {
        // Forgetting a server this stack ordered would let the next `pulumi up` (confirmOrder still
        // true) order and bill another one. Keep it in the state and say what to do instead.
        if (props.origin === "ordered") {
          throw new Error(
            `hetzner RobotServer read ${id}: Robot does not know server ${id}, which this stack ordered (transaction ${props.transactionId ?? "unknown"}). ` +
              "It stays in the state so that a later pulumi up does not order and bill a second server. " +
              `Check Robot (a cancelled or moved server, or another account's credentials); if it is really gone and you want a new one, remove it with \`pulumi state delete\` and run pulumi up with confirmOrder: true deliberately.`,
          );
        }
        return {};
      }
      throw wrap(`read ${id}`, err);
    }
  },

  async diff(id, olds, news) {
    const { productIdMatches } = robotModule();
    const replaces: string[] = [];
    const newAdopt = news.serverNumber !== undefined && news.serverNumber !== null;
    // "GEX131" and "GEX131-1" name the same product, so switching between them moves nothing.
    const sameProduct = productIdMatches(olds.productId, news.productId) || productIdMatches(news.productId, olds.productId);
    const moved = (["productId", "location"] as const).filter((k) =>
      k === "productId" ? !sameProduct : String(olds[k]).toLowerCase() !== String(news[k]).toLowerCase(),
    );
    if (olds.origin === "ordered") {
      // Adopting by number (the same server or another) is harmless: delete only forgets (unless
      // cancelOnDestroy), and create checks the product again.
      if (newAdopt && (news.serverNumber !== olds.robotServerNumber || moved.length > 0)) {
        replaces.push(...(news.serverNumber !== olds.robotServerNumber ? ["serverNumber"] : []), ...moved);
      } else if (moved.length > 0 && !newAdopt) {
        throw new Error(
          `hetzner RobotServer ${id}: ${moved.map((k) => `${k} ${olds[k]} → ${news[k]}`).join(", ")} would replace server ${id}, which this stack ordered: ` +
            "that means ordering a second server while the first stays billed. Refusing. " +
            `Change it back; or cancel server ${id} in Robot and give the new server a new host name; or adopt an existing server with serverNumber.`,
        );
      }
    } else if (!newAdopt) {
      throw new Error(
        `hetzner RobotServer ${id}: serverNumber was removed from an adopted server; that would order a new server. ` +
          `Set serverNumber: ${olds.robotServerNumber} again, or give the new server a new host name.`,
      );
    } else if (news.serverNumber !== olds.serverNumber || moved.length > 0) {
      // Re-adopting is harmless: delete only forgets (unless cancelOnDestroy), and create checks the product again.
      replaces.push(...(news.serverNumber !== olds.serverNumber ? ["serverNumber"] : []), ...moved);
    }
    const changes =
      replaces.length > 0 ||
      !sameJson(olds.firewallRules, news.firewallRules) ||
      (olds.cancelOnDestroy === true) !== (news.cancelOnDestroy === true) ||
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

  async delete(id, props) {
    // By default nothing: the stack forgets the server, which stays in Robot and stays billed. That is
    // a choice, not an API limitation (Robot can cancel: POST /server/{n}/cancellation). Destroying a
    // stack should never end a billed server the user may still need; a cancellation runs to the end
    // of a notice period and then loses the server, its data and its IP addresses. So cancelling is
    // opt-in per server with cancelOnDestroy: true, and then done at the earliest date Robot allows.
    if (props?.cancelOnDestroy !== true) return;
    try {
      await cancelServer(props, Number(id));
    } catch (err) {
      throw wrap(`cancel ${id} (cancelOnDestroy)`, err);
    }
  },
};

/** Inputs of {@link RobotServer}; credentials are made secret by the wrapper. */
export type RobotServerArgs = { [K in keyof RobotServerInputs]: pulumi.Input<RobotServerInputs[K]> };

/**
 * A Hetzner dedicated server managed through Robot: adopted by `serverNumber`, or ordered (only with
 * `confirmOrder: true`), with its Robot firewall set. Destroying it cancels the server only with
 * `cancelOnDestroy: true`.
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
  /** vSwitch name in Robot; changed in place. */
  name: string;
  /** VLAN ID, 4000–4091; changed in place (the server's VLAN interface must follow). */
  vlan: number;
  /** Dedicated servers in the vSwitch; added and removed in place, each waited for. */
  serverNumbers: number[];
  /**
   * When Pulumi deletes this resource, take its servers out and cancel the vSwitch (`DELETE
   * /vswitch/{id}`, `cancellation_date=now`). @default false: delete only forgets the vSwitch
   */
  cancelOnDestroy?: boolean;
  /** Give up waiting for a vSwitch change after this long, ms. @default 600_000 */
  readyTimeoutMs?: number;
  /** Wait between vSwitch polls, ms. @default 10_000 */
  pollMs?: number;
}

/** Outputs: the inputs plus the vSwitch ID. */
export interface RobotVswitchOutputs extends RobotVswitchInputs {
  /** Robot's vSwitch ID, for `hcloud.NetworkSubnet.vswitchId`. */
  vswitchId: number;
}

/** Server numbers without repeats, in order. */
const unique = (numbers: readonly number[]): number[] => [...new Set(numbers)];

/**
 * Brings the vSwitch's servers from `from` to `to`: removals first (`DELETE /vswitch/{id}/server`),
 * then additions, each waited for until Robot reports it done.
 */
async function syncVswitchServers(client: RobotClient, id: number, from: readonly number[], to: readonly number[], wait: WaitOptions): Promise<void> {
  const removed = unique(from).filter((n) => !to.includes(n));
  const added = unique(to).filter((n) => !from.includes(n));
  if (removed.length > 0) {
    await client.removeServersFromVswitch(id, removed, wait);
    await client.waitForVswitchServersRemoved(id, removed, wait);
  }
  if (added.length > 0) {
    await client.addServerToVswitch(id, added, wait);
    await client.waitForVswitchServers(id, added, wait);
  }
}

/** The dynamic provider for a Robot vSwitch. `delete` forgets it unless `cancelOnDestroy`. */
export const robotVswitchProvider: pulumi.dynamic.ResourceProvider<RobotVswitchInputs, RobotVswitchOutputs> = {
  async create(inputs) {
    let vs: RobotVswitchInfo | undefined;
    try {
      robotModule().validateVlan(inputs.vlan); // before any request
      const client = robotClient(inputs);
      const wait = waitOf(inputs);
      // A vSwitch with this name and VLAN that is not cancelled is taken over (as community.hrobot's
      // v_switch module identifies vSwitches): a create that failed half-way (say, waiting for a server)
      // then succeeds on the next run instead of failing on the VLAN the first attempt took.
      vs = (await client.listVswitches()).find((v) => !v.cancelled && v.name === inputs.name && v.vlan === inputs.vlan);
      let present: number[] = [];
      if (vs) present = ((await client.getVswitch(vs.id)).server ?? []).map((s) => s.server_number);
      else vs = await client.createVswitch(inputs.name, inputs.vlan);
      // Servers already in a taken-over vSwitch stay (only missing ones are added); later updates sync both ways.
      await syncVswitchServers(client, vs.id, present, [...present, ...inputs.serverNumbers.filter((n) => !present.includes(n))], wait);
      return { id: String(vs.id), outs: { ...inputs, serverNumbers: unique(inputs.serverNumbers), vswitchId: vs.id } };
    } catch (err) {
      const made = vs ? ` vSwitch ${vs.id} exists in Robot; running pulumi up again takes it over (same name and VLAN).` : "";
      throw new Error(`hetzner RobotVswitch ${inputs.name} (VLAN ${inputs.vlan}): ${messageOf(err)}${made}`);
    }
  },

  async read(id, props) {
    if (!props) return { id, props };
    try {
      const vs = await robotClient(props).getVswitch(Number(id));
      if (vs.cancelled) return {};
      const listed = (vs.server ?? []).map((s) => s.server_number);
      const serverNumbers = [...props.serverNumbers.filter((n) => listed.includes(n)), ...listed.filter((n) => !props.serverNumbers.includes(n))];
      return { id, props: { ...props, name: vs.name, vlan: vs.vlan, serverNumbers } };
    } catch (err) {
      if (isNotFound(err)) return {};
      throw new Error(`hetzner RobotVswitch ${id}: ${messageOf(err)}`);
    }
  },

  async diff(_id, olds, news) {
    // Name and VLAN change in place (POST /vswitch/{id}): the ID, and with it the hcloud coupling, stays.
    const changes =
      olds.name !== news.name ||
      olds.vlan !== news.vlan ||
      !sameJson(unique(olds.serverNumbers), unique(news.serverNumbers)) ||
      (olds.cancelOnDestroy === true) !== (news.cancelOnDestroy === true) ||
      olds.robotUser !== news.robotUser ||
      olds.robotPassword !== news.robotPassword ||
      (olds.baseUrl ?? null) !== (news.baseUrl ?? null);
    return { changes, replaces: [], deleteBeforeReplace: false };
  },

  async update(id, olds, news) {
    try {
      const client = robotClient(news);
      const wait = waitOf(news);
      if (olds.name !== news.name || olds.vlan !== news.vlan) await client.updateVswitch(Number(id), news.name, news.vlan, wait);
      await syncVswitchServers(client, Number(id), olds.serverNumbers, news.serverNumbers, wait);
    } catch (err) {
      throw new Error(`hetzner RobotVswitch ${id}: ${messageOf(err)}`);
    }
    return { outs: { ...news, vswitchId: olds.vswitchId } };
  },

  async delete(id, props) {
    // By default nothing, by choice (Robot can cancel vSwitches: DELETE /vswitch/{id}): destroying the
    // stack must not cut servers off a network that something outside the stack may still use. With
    // cancelOnDestroy: true the servers are taken out (waited for) and the vSwitch is cancelled "now";
    // vSwitches carry no rent, and "now" frees the VLAN ID for a new stack at once.
    if (props?.cancelOnDestroy !== true) return;
    try {
      const client = robotClient(props);
      const wait = waitOf(props);
      let vs: RobotVswitchInfo;
      try {
        vs = await client.getVswitch(Number(id));
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      if (vs.cancelled) return;
      await syncVswitchServers(client, vs.id, (vs.server ?? []).map((s) => s.server_number), [], wait);
      await client.cancelVswitch(vs.id, "now", wait);
    } catch (err) {
      throw new Error(`hetzner RobotVswitch ${id}: cancel (cancelOnDestroy): ${messageOf(err)}`);
    }
  },
};

/** Inputs of {@link RobotVswitch}. */
export type RobotVswitchArgs = { [K in keyof RobotVswitchInputs]: pulumi.Input<RobotVswitchInputs[K]> };

/** A Robot vSwitch holding dedicated servers. Destroying it cancels it only with `cancelOnDestroy: true`. */
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
