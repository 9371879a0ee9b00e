/**
 * Pure planning of a Hetzner private network: a Robot vSwitch coupled to an hcloud network. Checks
 * the location (network zone eu-central only), the VLAN and the address ranges, and fills in the
 * gateway, the server's private IP and a cloud subnet for a load balancer. Used by the
 * hetzner-dedicated host kind (core/hosts/hetznerDedicated.ts), so `gpu-hosting check` and the
 * `hetzner.PrivateNetwork` component run the same rules.
 *
 * vSwitch coupling exists only in network zone eu-central (fsn1, nbg1, hel1):
 * https://docs.hetzner.com/cloud/networks/faq/ (read 2026-11-30). In a vSwitch subnet the first
 * host address is the vSwitch gateway and the servers take the next ones:
 * https://docs.hetzner.com/networking/networks/technical-concepts/architecture (read 2026-11-30).
 */
import { VSWITCH_VLAN_MAX, VSWITCH_VLAN_MIN } from "./robot";

/** Locations where a vSwitch can be coupled to an hcloud network (network zone eu-central). */
export const VSWITCH_COUPLING_LOCATIONS = ["fsn1", "nbg1", "hel1"] as const;
/** The only network zone with vSwitch coupling. */
export const VSWITCH_NETWORK_ZONE = "eu-central";
/** Default serving port behind the load balancer (vLLM's default). */
export const DEFAULT_DESTINATION_PORT = 8000;
/** Default health check path (vLLM answers 200 on `/health`). */
export const DEFAULT_HEALTH_CHECK_PATH = "/health";

// ---------------------------------------------------------------------------------------------
// Pure IPv4 helpers
// ---------------------------------------------------------------------------------------------

/** An IPv4 CIDR as numbers. */
export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit number (host bits cleared). */
  base: number;
  prefix: number;
}

const toIp = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
const size = (c: Ipv4Cidr): number => 2 ** (32 - c.prefix);

/** Parses `a.b.c.d/n`; null when it is not an IPv4 CIDR or has host bits set. */
export function parseIpv4Cidr(cidr: string): Ipv4Cidr | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) return null;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return null;
  const addr = octets.reduce((a, o) => a * 256 + o, 0);
  const base = prefix === 0 ? 0 : addr - (addr % 2 ** (32 - prefix));
  return base === addr ? { base, prefix } : null;
}

/** Parses `a.b.c.d`; null when it is not an IPv4 address. */
export function parseIpv4(ip: string): number | null {
  const c = parseIpv4Cidr(`${ip}/32`);
  return c ? c.base : null;
}

/** Whether `inner` lies inside `outer`. */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.prefix >= outer.prefix && inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer);
}

/** Whether two CIDRs share an address. */
export function cidrOverlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

const RFC1918 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((c) => parseIpv4Cidr(c) as Ipv4Cidr);

/** Arguments of {@link planPrivateNetwork}. */
export interface PrivateNetworkPlanInput {
  location: string;
  vlan: number;
  networkIpRange: string;
  vswitchSubnet: string;
  /** @default the second host address of `vswitchSubnet` */
  serverPrivateIp?: string;
  /** @default the first /24 of `networkIpRange` that does not overlap `vswitchSubnet` */
  cloudSubnet?: string;
}

/** Validated addresses of a private network. */
export interface PrivateNetworkPlan {
  networkZone: typeof VSWITCH_NETWORK_ZONE;
  /** vSwitch gateway (first host address of the vSwitch subnet). */
  gateway: string;
  /** The dedicated server's address on its VLAN interface. */
  serverPrivateIp: string;
  /** Cloud subnet for the load balancer. */
  cloudSubnet: string;
}

/**
 * Checks a private network's location, VLAN and ranges, and fills in the gateway, the server's
 * private IP and a cloud subnet. Pure.
 *
 * @throws Error naming the property, the value, what is allowed and the fix.
 */
export function planPrivateNetwork(p: PrivateNetworkPlanInput): PrivateNetworkPlan {
  const location = p.location.trim().toLowerCase();
  if (!(VSWITCH_COUPLING_LOCATIONS as readonly string[]).includes(location)) {
    throw new Error(
      `privateNetwork: location "${p.location}" is outside network zone ${VSWITCH_NETWORK_ZONE}; Hetzner couples vSwitches to cloud networks only in ${VSWITCH_COUPLING_LOCATIONS.join(", ")}. Use one of those locations, or drop privateNetwork (and loadBalancer)`,
    );
  }
  if (!Number.isInteger(p.vlan) || p.vlan < VSWITCH_VLAN_MIN || p.vlan > VSWITCH_VLAN_MAX) {
    throw new Error(`privateNetwork.vlan: ${p.vlan} is not allowed; Robot vSwitch VLAN IDs are integers from ${VSWITCH_VLAN_MIN} to ${VSWITCH_VLAN_MAX} (e.g. 4000)`);
  }
  const net = parseIpv4Cidr(p.networkIpRange);
  if (!net || !RFC1918.some((r) => cidrContains(r, net))) {
    throw new Error(`privateNetwork.networkIpRange: "${p.networkIpRange}" is not a private IPv4 range; hcloud networks need an RFC 1918 range such as 10.100.0.0/16`);
  }
  const vsw = parseIpv4Cidr(p.vswitchSubnet);
  if (!vsw || !cidrContains(net, vsw) || vsw.prefix > 29) {
    throw new Error(`privateNetwork.vswitchSubnet: "${p.vswitchSubnet}" must be a CIDR of /29 or wider inside networkIpRange ${p.networkIpRange}, e.g. the default 10.100.1.0/24 in 10.100.0.0/16`);
  }
  const gateway = vsw.base + 1;
  let serverIp = gateway + 1;
  if (p.serverPrivateIp !== undefined) {
    const ip = parseIpv4(p.serverPrivateIp);
    if (ip === null || ip <= gateway || ip >= vsw.base + size(vsw) - 1) {
      throw new Error(`privateNetwork.serverPrivateIp: "${p.serverPrivateIp}" must be a host address of vswitchSubnet ${p.vswitchSubnet} other than its gateway ${toIp(gateway)}, e.g. ${toIp(gateway + 1)}`);
    }
    serverIp = ip;
  }
  let cloud: Ipv4Cidr | null;
  if (p.cloudSubnet !== undefined) {
    cloud = parseIpv4Cidr(p.cloudSubnet);
    if (!cloud || !cidrContains(net, cloud) || cidrOverlaps(cloud, vsw)) {
      throw new Error(`privateNetwork.cloudSubnet: "${p.cloudSubnet}" must be a CIDR inside networkIpRange ${p.networkIpRange} that does not overlap vswitchSubnet ${p.vswitchSubnet}`);
    }
  } else {
    const prefix = Math.max(24, net.prefix + 1);
    cloud = null;
    for (let base = net.base; base < net.base + size(net); base += 2 ** (32 - prefix)) {
      const c = { base, prefix };
      if (!cidrOverlaps(c, vsw)) {
        cloud = c;
        break;
      }
    }
    if (!cloud) throw new Error(`privateNetwork.networkIpRange: ${p.networkIpRange} has no room for a cloud subnet beside vswitchSubnet ${p.vswitchSubnet}; use a wider range such as a /16`);
  }
  return { networkZone: VSWITCH_NETWORK_ZONE, gateway: toIp(gateway), serverPrivateIp: toIp(serverIp), cloudSubnet: `${toIp(cloud.base)}/${cloud.prefix}` };
}
