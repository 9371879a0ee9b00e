/**
 * The base layer, and the bootstrap that precedes it where cloud-init does not run. Pure renderers
 * (no I/O, no `@pulumi/*`): each returns a {@link LayerScript} built by `layerScript`.
 *
 * - `00-bootstrap.sh` (Hetzner dedicated servers, owned hosts reached as root): the admin user with
 *   root's keys and passwordless sudo, then the sshd hardening drop-in.
 * - `10-base.sh`: the same sshd drop-in where asked, unattended upgrades that never replace the GPU
 *   driver behind the loaded kernel module, and the Hetzner vSwitch VLAN (netplan).
 *
 * Files are installed from the body (not the script's head) so each group can be checked and
 * applied in order: the sudoers file is checked with `visudo -cf` and the sshd drop-in with
 * `sshd -t` before anything reloads, and a file that fails its check is removed again, so a re-run
 * starts over rather than seeing it "unchanged".
 */
import { AUTO_UPGRADES_CONFIG, SSHD_HARDENING_CONFIG, SSHD_HARDENING_DROPIN } from "../cloudinit";
import { parseIpv4, parseIpv4Cidr } from "../hetzner/network";
import { VSWITCH_VLAN_MAX, VSWITCH_VLAN_MIN } from "../hetzner/robot";
import { installFiles, layerScript, shq } from "./script";
import type { HostFile, LayerName, LayerScript } from "./types";

// ---------------------------------------------------------------------------------------------
// Shell pieces shared with the gpu layer
// ---------------------------------------------------------------------------------------------

/**
 * bash lines that install `files` and set the variable `flag` to 1 when one of them changed (0
 * otherwise), keeping the script's overall `GH_CHANGED` bookkeeping.
 * @internal
 */
export function installTracked(files: readonly HostFile[], flag: string): string {
  return [`GH_CHANGED_OUTER="$GH_CHANGED"`, "GH_CHANGED=0", installFiles(files), `${flag}="$GH_CHANGED"`, `if [ "$GH_CHANGED_OUTER" = 1 ]; then GH_CHANGED=1; fi`].join("\n");
}

/** Path of the marker a layer writes when a newly installed kernel module needs a reboot. */
export const REBOOT_MARKER = "/var/lib/gpu-hosting/reboot-required";

/** How long `apt_get` waits for the dpkg lock of first-boot upgrades, seconds. */
export const APT_LOCK_TIMEOUT_SECONDS = 900;

/**
 * bash functions: `apt_get` (apt-get that waits, bounded, for the dpkg lock held by first-boot
 * upgrades: `fuser` on the lock files where psmisc is installed, and apt's own
 * `DPkg::Lock::Timeout`; `flock` would not see dpkg's fcntl lock), `pkg_installed NAME` and
 * `os_field KEY` (from /etc/os-release).
 * @internal
 */
export const APT_SHELL = `GH_APT_LOCK_TIMEOUT="\${GH_APT_LOCK_TIMEOUT:-${APT_LOCK_TIMEOUT_SECONDS}}"
wait_for_dpkg_lock() {
  local waited=0
  command -v fuser >/dev/null 2>&1 || return 0
  while fuser "$GH_ROOT/var/lib/dpkg/lock-frontend" "$GH_ROOT/var/lib/dpkg/lock" >/dev/null 2>&1; do
    if [ "$waited" -ge "$GH_APT_LOCK_TIMEOUT" ]; then
      fail "the dpkg lock is still held after \${GH_APT_LOCK_TIMEOUT}s (first-boot upgrades?); see who holds it with: fuser -v /var/lib/dpkg/lock-frontend" "$GH_ROOT/var/log/apt/term.log"
    fi
    if [ "$waited" = 0 ]; then log "waiting for the dpkg lock (another apt or dpkg run, e.g. first-boot upgrades)"; fi
    sleep 5
    waited=$((waited + 5))
  done
}
apt_get() {
  wait_for_dpkg_lock
  # </dev/null: the layer itself arrives on stdin (bash -s); apt and dpkg must never read it.
  # --force-confold: files a layer wrote before their package came are kept, and dpkg never prompts.
  apt-get -o DPkg::Lock::Timeout="$GH_APT_LOCK_TIMEOUT" -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q "$@" </dev/null || fail "apt-get $* failed" "$GH_ROOT/var/log/apt/term.log"
}
pkg_installed() { dpkg-query -W -f='\${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }
os_field() { sed -n "s/^$1=//p" "$GH_ROOT/etc/os-release" | tr -d '"'; }`;

/** The GPU vendors a host can have. */
export type GpuVendor = "nvidia" | "amd" | "none";

/**
 * Package-name patterns (Python regular expressions, matched from the start of the name, as
 * unattended-upgrades reads `Package-Blacklist`) of the GPU driver, by vendor. The NVIDIA Container
 * Toolkit (`nvidia-container-toolkit*`, `libnvidia-container*`) is left out on purpose: it has no
 * kernel module and gets security fixes (CVE-2024-0132, CVE-2025-23266).
 */
export const DRIVER_PACKAGE_BLACKLIST: Record<GpuVendor, readonly string[]> = {
  nvidia: ["^nvidia-(?!container)", "^libnvidia-(?!container)", "^cuda-drivers"],
  amd: ["^amdgpu-dkms", "^rocm"],
  none: [],
};

/** The same sets as `grep -E` patterns for `apt-mark hold`, with the toolkit's packages excluded. */
const HOLD_PATTERN: Record<GpuVendor, string> = { nvidia: "^(nvidia-|libnvidia-|cuda-drivers)", amd: "^(amdgpu-dkms|rocm)", none: "" };
const HOLD_EXCEPT = "^(lib)?nvidia-container";

/**
 * bash function `hold_driver_packages`: `apt-mark hold` on the installed driver packages of
 * `vendor` not yet held (records a change only when it holds something new).
 * @internal
 */
export function holdDriverPackagesShell(vendor: GpuVendor): string {
  if (vendor === "none") return "hold_driver_packages() { :; }";
  return `hold_driver_packages() {
  local installed held new
  installed="$(dpkg-query -W -f='\${binary:Package} \${db:Status-Abbrev}\\n' 2>/dev/null | awk '$2 == "ii" { print $1 }' | grep -E ${shq(HOLD_PATTERN[vendor])}${vendor === "nvidia" ? ` | grep -Ev ${shq(HOLD_EXCEPT)}` : ""} | sort -u || true)"
  if [ -z "$installed" ]; then return 0; fi
  held="$(apt-mark showhold 2>/dev/null | sort -u || true)"
  new="$(comm -23 <(printf '%s\\n' "$installed") <(printf '%s\\n' "$held"))"
  if [ -z "$new" ]; then return 0; fi
  local pkgs
  mapfile -t pkgs <<<"$new"
  apt-mark hold "\${pkgs[@]}" >/dev/null || fail "apt-mark hold \${pkgs[*]} failed"
  log "held the GPU driver packages (no upgrade behind the loaded kernel module): \${pkgs[*]}"
  GH_CHANGED=1
}`;
}

// ---------------------------------------------------------------------------------------------
// sshd hardening (bootstrap and base)
// ---------------------------------------------------------------------------------------------

const sshdDropIn = (layer: LayerName): HostFile => ({ layer, name: "01-gpu-hosting-hardening.conf", path: SSHD_HARDENING_DROPIN, mode: "0644", content: SSHD_HARDENING_CONFIG });

/**
 * Installs the sshd drop-in; when it changed, `sshd -t` (the drop-in is removed again if sshd
 * rejects the configuration) and a reload (existing sessions stay). Every run then checks the
 * effective settings with `sshd -T`: a main config without `Include /etc/ssh/sshd_config.d/*.conf`,
 * or an earlier drop-in that wins, would otherwise leave root or password login on silently.
 */
/** @internal The sshd hardening drop-in and its checks, shared with the bootstrap layer. */
export function sshdHardeningShell(layer: LayerName): { files: HostFile[]; body: string } {
  const file = sshdDropIn(layer);
  return {
    files: [file],
    body: `# sshd: no root login, no passwords, no keyboard-interactive login.
${installTracked([file], "sshd_changed")}
if [ "$sshd_changed" = 1 ]; then
  mkdir -p "$GH_ROOT/run/sshd"
  if ! sshd_out="$(sshd -t 2>&1)"; then
    rm -f "$GH_ROOT${SSHD_HARDENING_DROPIN}"
    fail "sshd -t rejects the configuration with ${SSHD_HARDENING_DROPIN} (removed it again; nothing was reloaded): $sshd_out"
  fi
  systemctl try-reload-or-restart ssh.service 2>/dev/null || systemctl try-reload-or-restart sshd.service || fail "reloading sshd failed" ssh.service
  log "sshd reloaded: root login, passwords and keyboard-interactive login are off"
fi
sshd_effective="$(sshd -T 2>/dev/null || true)"
for want in "permitrootlogin no" "passwordauthentication no" "kbdinteractiveauthentication no"; do
  if ! printf '%s\\n' "$sshd_effective" | grep -qx "$want"; then
    fail "sshd does not apply \\"$want\\" (sshd -T shows: $(printf '%s\\n' "$sshd_effective" | grep "^\${want%% *} " || echo nothing)); /etc/ssh/sshd_config must start with 'Include /etc/ssh/sshd_config.d/*.conf' and no drop-in sorting before ${SSHD_HARDENING_DROPIN} may set it"
  fi
done`,
  };
}

// ---------------------------------------------------------------------------------------------
// 10-base.sh
// ---------------------------------------------------------------------------------------------

/** Netplan file of the vSwitch VLAN. */
export const VSWITCH_NETPLAN = "/etc/netplan/60-gpu-hosting-vswitch.yaml";
/** Placeholder in {@link VSWITCH_NETPLAN} that the script replaces with the main interface (the default route's device). */
export const MAIN_INTERFACE_PLACEHOLDER = "@GPU_HOSTING_MAIN_INTERFACE@";
/** vSwitch MTU, bytes: Hetzner's vSwitch documentation says 1400 (not confirmed, see the facts file). */
export const VSWITCH_DEFAULT_MTU = 1400;
/** The driver blacklist for unattended-upgrades. */
export const DRIVER_BLACKLIST_CONF = "/etc/apt/apt.conf.d/51gpu-hosting-driver-blacklist";
/** APT periodic settings (daily package lists and unattended upgrade). */
export const AUTO_UPGRADES_CONF = "/etc/apt/apt.conf.d/20auto-upgrades";

/** The vSwitch VLAN of a Hetzner dedicated server. */
export interface VswitchNetwork {
  /** vSwitch VLAN ID, 4000–4091. */
  vlan: number;
  /** The server's address with the vSwitch subnet's prefix, e.g. "10.100.1.2/24". */
  address: string;
  /** The vSwitch gateway (first host of the subnet), e.g. "10.100.1.1". */
  gateway: string;
  /** Ranges routed through the gateway, e.g. ["10.100.0.0/16"] (the hcloud network). */
  routes: string[];
  /** Interface MTU, bytes. @default 1400 */
  mtu?: number;
}

/** Options of {@link renderBaseLayer}. */
export interface BaseLayerOptions {
  /** Install the sshd hardening drop-in (hosts where neither cloud-init nor the bootstrap did). */
  hardenSsh: boolean;
  /** The vSwitch VLAN; null without one. */
  privateNetwork: VswitchNetwork | null;
  /** Whose driver packages unattended-upgrades must leave alone and `apt-mark hold` keeps. */
  gpuVendor: GpuVendor;
}

const toIp = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

/** Checks the VLAN settings; @throws Error naming the field, the value and the fix. */
function checkVswitch(p: VswitchNetwork): { mtu: number } {
  if (!Number.isInteger(p.vlan) || p.vlan < VSWITCH_VLAN_MIN || p.vlan > VSWITCH_VLAN_MAX) {
    throw new Error(`privateNetwork.vlan: ${p.vlan} is not allowed; Robot vSwitch VLAN IDs are integers from ${VSWITCH_VLAN_MIN} to ${VSWITCH_VLAN_MAX} (e.g. 4000)`);
  }
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(p.address);
  const ip = m ? parseIpv4(m[1] ?? "") : null;
  const prefix = Number(m?.[2]);
  if (!m || ip === null || prefix < 8 || prefix > 30) {
    throw new Error(`privateNetwork.address: "${p.address}" is not an IPv4 address with the subnet's prefix; expected e.g. "10.100.1.2/24"`);
  }
  const net = ip - (ip % 2 ** (32 - prefix));
  const last = net + 2 ** (32 - prefix) - 1;
  if (ip === net || ip === last) throw new Error(`privateNetwork.address: "${p.address}" is the network or broadcast address of ${toIp(net)}/${prefix}; use a host address such as ${toIp(net + 2)}/${prefix}`);
  const gw = parseIpv4(p.gateway);
  if (gw === null || gw <= net || gw >= last || gw === ip) {
    throw new Error(`privateNetwork.gateway: "${p.gateway}" must be another host address of ${toIp(net)}/${prefix} than the server's ${toIp(ip)}; the vSwitch gateway is the subnet's first host, ${toIp(net + 1)}`);
  }
  p.routes.forEach((r, i) => {
    if (!parseIpv4Cidr(r)) throw new Error(`privateNetwork.routes[${i}]: "${r}" is not an IPv4 CIDR with its host bits clear, e.g. "10.100.0.0/16"`);
  });
  const mtu = p.mtu ?? VSWITCH_DEFAULT_MTU;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 1500) throw new Error(`privateNetwork.mtu: ${mtu} is not allowed; use a whole number of bytes from 576 to 1500 (Hetzner documents 1400 for vSwitch VLANs)`);
  return { mtu };
}

/** The netplan YAML of the vSwitch VLAN, with {@link MAIN_INTERFACE_PLACEHOLDER} as its link. */
export function vswitchNetplan(p: VswitchNetwork): string {
  const { mtu } = checkVswitch(p);
  return [
    `# gpu-hosting: Hetzner vSwitch VLAN ${p.vlan} on the main interface. Rendered by gpu-hosting; do not edit.`,
    "network:",
    "  version: 2",
    "  vlans:",
    `    vlan${p.vlan}:`,
    `      id: ${p.vlan}`,
    `      link: "${MAIN_INTERFACE_PLACEHOLDER}"`,
    `      mtu: ${mtu}`,
    "      addresses:",
    `        - "${p.address}"`,
    ...(p.routes.length > 0 ? ["      routes:", ...p.routes.flatMap((r) => [`        - to: "${r}"`, `          via: "${p.gateway}"`])] : []),
    "",
  ].join("\n");
}

function vswitchShell(p: VswitchNetwork, file: HostFile): string {
  const name = `vlan${p.vlan}`;
  const b64 = Buffer.from(file.content, "utf8").toString("base64");
  return `# vSwitch VLAN ${p.vlan} on the main interface (the default route's device, found here).
main_if="$(ip -o -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }' || true)"
if [ -z "$main_if" ]; then fail "no IPv4 default route: cannot tell the main interface to put vSwitch VLAN ${p.vlan} on (ip -4 route show default printed nothing)"; fi
case "$main_if" in *[!A-Za-z0-9_.:-]*) fail "unexpected interface name '$main_if' from the default route" ;; esac
if ! command -v netplan >/dev/null 2>&1; then
  fail "netplan is not installed: the vSwitch VLAN is written as a netplan file (Ubuntu). On a host with ifupdown (Debian), configure VLAN ${p.vlan} on $main_if with ${p.address} by hand, or install netplan.io"
fi
netplan_b64="$(printf '%s' ${shq(b64)} | base64 -d | sed "s/${MAIN_INTERFACE_PLACEHOLDER}/$main_if/" | base64 -w0)"
GH_CHANGED_OUTER="$GH_CHANGED"
GH_CHANGED=0
install_file ${shq(VSWITCH_NETPLAN)} ${shq(file.mode)} "$netplan_b64"
netplan_changed="$GH_CHANGED"
if [ "$GH_CHANGED_OUTER" = 1 ]; then GH_CHANGED=1; fi
if [ "$netplan_changed" = 1 ]; then
  if ! netplan_out="$(netplan generate 2>&1)"; then
    rm -f "$GH_ROOT${VSWITCH_NETPLAN}"
    fail "netplan generate rejects ${VSWITCH_NETPLAN} (removed it again; the network is unchanged): $netplan_out"
  fi
  if ! netplan_out="$(netplan apply 2>&1)"; then
    rm -f "$GH_ROOT${VSWITCH_NETPLAN}"
    netplan apply >/dev/null 2>&1 || true
    fail "netplan apply failed with ${VSWITCH_NETPLAN} (removed it again and re-applied the rest): $netplan_out"
  fi
  log "vSwitch VLAN ${p.vlan} up on $main_if as ${name}"
fi
if ! ip -o -4 addr show dev ${name} 2>/dev/null | grep -qF ' ${p.address} '; then
  fail "${name} does not carry ${p.address}: check ip addr show ${name}, networkctl status ${name}, and that the server is in the vSwitch with VLAN ${p.vlan} (Robot)"
fi`;
}

/**
 * `10-base.sh`: the sshd hardening drop-in when `hardenSsh` (as the bootstrap installs it);
 * unattended upgrades on (`20auto-upgrades`), with the GPU driver packages blacklisted for them
 * (`51gpu-hosting-driver-blacklist`) and `apt-mark hold` on the driver packages already installed
 * (the gpu layer holds what it installs), so no upgrade replaces the driver behind the running
 * kernel module; and the vSwitch VLAN as a netplan file (mode 0600, `netplan generate` and
 * `netplan apply` only when it changed, then the address checked on the interface).
 *
 * The VLAN's `link` is the main interface, which only the host knows (Hetzner names it after the
 * board, e.g. `enp0s31f6`): the file is rendered with {@link MAIN_INTERFACE_PLACEHOLDER} and the
 * script fills in the default route's device. Netplan `match` cannot stand in: a VLAN's `link` must
 * name a netplan ID, and a second ID matching the main NIC would conflict with the installer's.
 *
 * @throws Error naming the field, the value and the fix when `privateNetwork` is unusable.
 */
export function renderBaseLayer(o: BaseLayerOptions): LayerScript {
  const files: HostFile[] = [];
  const parts: string[] = [APT_SHELL, holdDriverPackagesShell(o.gpuVendor)];
  if (o.hardenSsh) {
    const s = sshdHardeningShell("base");
    files.push(...s.files);
    parts.push(s.body);
  }

  const upgrades: HostFile[] = [{ layer: "base", name: "20auto-upgrades", path: AUTO_UPGRADES_CONF, mode: "0644", content: AUTO_UPGRADES_CONFIG }];
  const blacklist = DRIVER_PACKAGE_BLACKLIST[o.gpuVendor];
  if (blacklist.length > 0) {
    upgrades.push({
      layer: "base",
      name: "51gpu-hosting-driver-blacklist",
      path: DRIVER_BLACKLIST_CONF,
      mode: "0644",
      content: [
        "// gpu-hosting: unattended-upgrades never replaces the GPU driver behind the loaded kernel module.",
        "// Upgrade it on purpose: apt-mark unhold, upgrade, reboot. Python regular expressions, matched from the start.",
        "Unattended-Upgrade::Package-Blacklist {",
        ...blacklist.map((p) => `    "${p}";`),
        "};",
        "",
      ].join("\n"),
    });
  }
  files.push(...upgrades);
  parts.push(`# Unattended upgrades, never of the GPU driver.
if ! pkg_installed unattended-upgrades; then
  apt_get update
  apt_get install unattended-upgrades
  GH_CHANGED=1
fi
${installFiles(upgrades)}
for unit in unattended-upgrades.service apt-daily.timer apt-daily-upgrade.timer; do
  if ! systemctl is-enabled --quiet "$unit"; then
    systemctl enable --now "$unit" || fail "systemctl enable --now $unit failed" "$unit"
    GH_CHANGED=1
  fi
done
hold_driver_packages`);

  if (o.privateNetwork) {
    const file: HostFile = { layer: "base", name: "60-gpu-hosting-vswitch.yaml", path: VSWITCH_NETPLAN, mode: "0600", content: vswitchNetplan(o.privateNetwork) };
    files.push(file);
    parts.push(vswitchShell(o.privateNetwork, file));
  }
  return { ...layerScript("base", "10-base.sh", [], parts.join("\n\n")), files };
}

export { ADMIN_SUDOERS, renderBootstrapLayer } from "./bootstrap";
