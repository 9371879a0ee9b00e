/**
 * Incoming rules for the Hetzner Robot firewall of a dedicated server, built to the limits a real
 * `POST /firewall/{server-number}` enforces. Pure: no I/O, and only types from `./robot`.
 *
 * Sources (read 2026-11-30; shared/facts/providers-gpus-power.md, "Robot webservice: limits that a
 * real call enforces"):
 * - Robot webservice doc, section "Firewall", https://robot.hetzner.com/doc/webservice/en.html
 * - Hetzner Docs, https://docs.hetzner.com/robot/dedicated-server/firewall/
 *
 * What those limits mean here:
 * - At most {@link ROBOT_FIREWALL_MAX_RULES} rules per direction.
 * - `src_ip` / `dst_ip` only together with `ip_version: ipv4`: IPv6 rules, and rules without a version,
 *   cannot filter on addresses. So an allow-list of sources (SSH, HTTPS) is IPv4 only.
 * - A rule without `ip_version` cannot filter on a protocol, so every TCP/UDP/ICMP rule names a version.
 * - ICMPv6 cannot be filtered: it always passes, so IPv6 neighbour discovery and path-MTU discovery
 *   keep working without a rule. The ICMP rule below is for IPv4 only.
 * - The firewall is stateless: answers to the server's own connections need their own rules (TCP with
 *   the `ack` flag to the ephemeral ports, which cannot open a connection; UDP answers such as DNS and
 *   NTP to the ephemeral ports).
 *
 * IPv6 policy: the provider sets `filter_ipv6: true`, so IPv6 is dropped except what an explicit
 * `ip_version: ipv6` rule without addresses lets in: TCP answers (ack flag) and, when `httpsPort` is
 * given without `httpsAllowedCidrs`, that port to anyone. SSH over IPv6 is never let in, because Robot
 * cannot restrict it to a source; an IPv6 CIDR in `sshAllowedCidrs` or `httpsAllowedCidrs` is a
 * problem rather than a rule that would silently open the port to every IPv6 address.
 */
import type { FirewallRule } from "./robot";

/** Robot's firewall takes at most this many rules per direction (webservice doc, "Firewall"). */
export const ROBOT_FIREWALL_MAX_RULES = 10;

/** Ports Linux hands out for outgoing connections (net.ipv4.ip_local_port_range default). */
export const EPHEMERAL_PORTS = "32768-65535";

/** Options of {@link robotFirewallRules}. */
export interface RobotFirewallOptions {
  /** IPv4 CIDRs allowed to reach SSH (TCP 22), one rule each. Nothing else reaches port 22. */
  sshAllowedCidrs: readonly string[];
  /** Public HTTPS port served by the server itself, if any. @default none */
  httpsPort?: number;
  /** IPv4 CIDRs allowed to reach `httpsPort`. @default anyone, over IPv4 and IPv6 (two rules) */
  httpsAllowedCidrs?: readonly string[];
  /**
   * Traffic from the private network (a load balancer reaching the server through the vSwitch): the
   * network's IPv4 range and the serving port. Added whether or not Robot's firewall filters vSwitch
   * traffic (not confirmed either way), so the load balancer works in both cases.
   */
  privateNetwork?: { ipRange: string; port: number };
}

/**
 * The rules every server gets, after the ones the options ask for. Kept few so that the rule limit
 * leaves room for SSH sources. Rule names use only letters, digits and spaces: Hetzner's firewall doc
 * allows any name "except special characters".
 */
function fixedRules(): FirewallRule[] {
  return [
    // Answers to the server's own TCP connections (apt, pulling images and weights). Only packets with
    // the ack flag match, so no new connection can start on these ports.
    { name: "tcp replies v4", ipVersion: "ipv4", dstPort: EPHEMERAL_PORTS, protocol: "tcp", tcpFlags: "ack", action: "accept" },
    { name: "tcp replies v6", ipVersion: "ipv6", dstPort: EPHEMERAL_PORTS, protocol: "tcp", tcpFlags: "ack", action: "accept" },
    // Answers to UDP queries (DNS, NTP) over IPv4. Over IPv6 they are dropped; resolvers fall back to
    // IPv4, and Hetzner's own DNS servers pass anyway (whitelist_hos).
    { name: "udp replies v4", ipVersion: "ipv4", dstPort: EPHEMERAL_PORTS, protocol: "udp", action: "accept" },
    // Ping and path-MTU discovery over IPv4. ICMPv6 cannot be filtered by Robot: it always passes.
    { name: "icmp v4", ipVersion: "ipv4", protocol: "icmp", action: "accept" },
  ];
}

/** How many of {@link fixedRules} there are. */
const FIXED_RULES = fixedRules().length;

/** Why `cidr` is not an IPv4 CIDR Robot can filter on, or null when it is one. */
function ipv4CidrProblem(cidr: string): string | null {
  if (cidr.includes(":")) {
    return `"${cidr}" is IPv6; Robot's firewall cannot filter IPv6 by source address (src_ip needs ip_version ipv4), so IPv6 is dropped here; list IPv4 CIDRs, and reach the server over IPv4`;
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const bits = m ? Number(m[5]) : NaN;
  const leadingZero = (i: number): boolean => m !== null && (m[i + 1] as string).length > 1 && (m[i + 1] as string).startsWith("0");
  if (!m || octets.some((o, i) => o > 255 || leadingZero(i)) || bits > 32) {
    return `"${cidr}" is not an IPv4 CIDR; write an address and prefix length such as 203.0.113.0/24 (or 203.0.113.7/32 for one address)`;
  }
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - bits);
  const network = Math.floor(address / size) * size;
  if (network !== address) {
    const net = [24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join(".");
    const host = octets.join(".");
    return `"${cidr}" has host bits set; write ${net}/${bits} for the network, or ${host}/32 for the one address`;
  }
  return null;
}

/** Why `port` is not a TCP port, or null. */
function portProblem(port: number): string | null {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? null : `${port} is not a TCP port; use an integer from 1 to 65535`;
}

/** Problems with a list of source CIDRs, each starting with `path[i]`. */
function cidrListProblems(path: string, cidrs: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  cidrs.forEach((cidr, i) => {
    const p = ipv4CidrProblem(cidr);
    if (p !== null) problems.push(`${path}[${i}]: ${p}`);
    const first = seen.get(cidr);
    if (first !== undefined) problems.push(`${path}[${i}]: "${cidr}" repeats ${path}[${first}]; each CIDR takes one of Robot's ${ROBOT_FIREWALL_MAX_RULES} rules, so list it once`);
    else seen.set(cidr, i);
  });
  return problems;
}

/** How many rules the options need: [SSH, HTTPS, private network]. */
function ruleCounts(o: RobotFirewallOptions): [number, number, number] {
  const https = o.httpsPort === undefined ? 0 : o.httpsAllowedCidrs === undefined ? 2 : o.httpsAllowedCidrs.length;
  return [o.sshAllowedCidrs.length, https, o.privateNetwork ? 1 : 0];
}

/**
 * Problems with the options, each starting with the option path as the user wrote it, e.g.
 * `sshAllowedCidrs[2]: ...` or `sshAllowedCidrs: 9 CIDRs need 13 rules ...`. Empty when fine. Pure.
 */
export function robotFirewallProblems(o: RobotFirewallOptions): string[] {
  const problems = cidrListProblems("sshAllowedCidrs", o.sshAllowedCidrs);
  if (o.httpsPort !== undefined) {
    const p = portProblem(o.httpsPort);
    if (p !== null) problems.push(`httpsPort: ${p}`);
  }
  if (o.httpsAllowedCidrs !== undefined) {
    if (o.httpsPort === undefined) {
      problems.push("httpsAllowedCidrs: given without httpsPort; set httpsPort to the port the server serves HTTPS on, or leave httpsAllowedCidrs out");
    }
    problems.push(...cidrListProblems("httpsAllowedCidrs", o.httpsAllowedCidrs));
  }
  if (o.privateNetwork) {
    const r = ipv4CidrProblem(o.privateNetwork.ipRange);
    if (r !== null) problems.push(`privateNetwork.ipRange: ${r}`);
    const p = portProblem(o.privateNetwork.port);
    if (p !== null) problems.push(`privateNetwork.port: ${p}`);
  }

  const [ssh, https, priv] = ruleCounts(o);
  const total = ssh + https + priv + FIXED_RULES;
  if (total > ROBOT_FIREWALL_MAX_RULES) {
    const parts = [`${ssh} for SSH`];
    if (https > 0) parts.push(`${https} for HTTPS`);
    if (priv > 0) parts.push("1 for the private network");
    parts.push(`${FIXED_RULES} fixed ones for TCP replies over IPv4 and IPv6, UDP replies and ICMP over IPv4`);
    const why = `${total} rules (${parts.join(", ")}), but Robot's firewall takes at most ${ROBOT_FIREWALL_MAX_RULES} per direction`;
    const sshFit = ROBOT_FIREWALL_MAX_RULES - (total - ssh);
    if (ssh > 0 && sshFit >= 0) {
      problems.push(`sshAllowedCidrs: ${ssh} CIDRs need ${why}; merge them into at most ${sshFit} wider CIDRs`);
    } else {
      const httpsFit = ROBOT_FIREWALL_MAX_RULES - (total - https);
      problems.push(
        httpsFit >= 1 && o.httpsAllowedCidrs !== undefined
          ? `httpsAllowedCidrs: ${https} CIDRs need ${why}; merge them into at most ${httpsFit} wider CIDRs`
          : `sshAllowedCidrs: ${ssh} CIDRs need ${why}; use fewer CIDRs`,
      );
    }
  }
  return problems;
}

/**
 * The incoming rules: SSH only from `sshAllowedCidrs` (IPv4), `httpsPort` if given (from
 * `httpsAllowedCidrs`, or from anyone over IPv4 and IPv6), the serving port from the private network if
 * given, then the fixed rules for answers and ICMP. Robot discards what no rule accepts.
 *
 * @throws Error(problems.join("; ")) when {@link robotFirewallProblems} is non-empty.
 */
export function robotFirewallRules(o: RobotFirewallOptions): FirewallRule[] {
  const problems = robotFirewallProblems(o);
  if (problems.length > 0) throw new Error(problems.join("; "));
  const rules: FirewallRule[] = o.sshAllowedCidrs.map((cidr, i) => ({
    name: `ssh ${i + 1}`,
    ipVersion: "ipv4",
    srcIp: cidr,
    dstPort: "22",
    protocol: "tcp",
    action: "accept",
  }));
  if (o.httpsPort !== undefined) {
    const dstPort = String(o.httpsPort);
    if (o.httpsAllowedCidrs === undefined) {
      rules.push({ name: "https v4", ipVersion: "ipv4", dstPort, protocol: "tcp", action: "accept" });
      rules.push({ name: "https v6", ipVersion: "ipv6", dstPort, protocol: "tcp", action: "accept" });
    } else {
      o.httpsAllowedCidrs.forEach((cidr, i) => rules.push({ name: `https ${i + 1}`, ipVersion: "ipv4", srcIp: cidr, dstPort, protocol: "tcp", action: "accept" }));
    }
  }
  if (o.privateNetwork) {
    rules.push({ name: "private network", ipVersion: "ipv4", srcIp: o.privateNetwork.ipRange, dstPort: String(o.privateNetwork.port), protocol: "tcp", action: "accept" });
  }
  rules.push(...fixedRules());
  return rules;
}
