/**
 * Cloud-config renderers for freshly created hosts. Pure (no `@pulumi/*` import): the Scaleway
 * GPU Instance and the Hetzner Cloud server pass the result as user data, and the tests feed it to
 * the real `cloud-init schema --config-file`.
 */
import { dump } from "js-yaml";

/** Options of {@link renderHardeningCloudConfig}. */
export interface HardeningOptions {
  /**
   * Non-root login created with passwordless sudo; root login is disabled. Must be a portable
   * Linux user name (lower-case letter or `_` first, then lower-case letters, digits, `_`, `-`; at
   * most 32 characters) and not `root`.
   */
  adminUser: string;
  /** OpenSSH public keys (`ssh-ed25519 AAAA… comment`) allowed to log in as `adminUser`. At least one. */
  sshPublicKeys: string[];
  /** Debian/Ubuntu packages installed besides `unattended-upgrades`. @default [] */
  extraPackages?: string[];
}

/** Path of the sshd drop-in; `01-` sorts before cloud-init's `50-cloud-init.conf`, and sshd keeps the first value it reads. */
export const SSHD_HARDENING_DROPIN = "/etc/ssh/sshd_config.d/01-gpu-hosting-hardening.conf";

/** Contents of {@link SSHD_HARDENING_DROPIN}. */
export const SSHD_HARDENING_CONFIG = ["PermitRootLogin no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", ""].join("\n");

/** APT periodic settings that turn on daily unattended upgrades. */
export const AUTO_UPGRADES_CONFIG = ['APT::Periodic::Update-Package-Lists "1";', 'APT::Periodic::Unattended-Upgrade "1";', ""].join("\n");

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/** The problem with an admin user name, or null when it is usable. */
export function adminUserProblem(adminUser: string): string | null {
  if (adminUser === "root") return `adminUser: "root" is not allowed (root login is disabled); use a name such as "llm"`;
  if (!USER_NAME.test(adminUser)) {
    return `adminUser: "${adminUser}" is not a valid Linux user name; use a lower-case letter or _ first, then lower-case letters, digits, _ or - (at most 32 characters), e.g. "llm"`;
  }
  return null;
}

/**
 * Renders a `#cloud-config` document that hardens a fresh Ubuntu/Debian host: creates `adminUser`
 * with the keys and passwordless sudo (password locked), disables root login and password /
 * keyboard-interactive authentication (cloud-init's `disable_root`/`ssh_pwauth` plus an sshd
 * drop-in), refreshes the package index, installs and enables unattended-upgrades, and restarts
 * sshd once the drop-in is in place. Deterministic: the same options give the same text.
 *
 * @throws Error naming the option, the value and the fix when an option is unusable.
 */
export function renderHardeningCloudConfig(options: HardeningOptions): string {
  const { adminUser, sshPublicKeys, extraPackages = [] } = options;
  const userProblem = adminUserProblem(adminUser);
  if (userProblem) throw new Error(userProblem);
  if (sshPublicKeys.length === 0) throw new Error(`sshPublicKeys: none given; add at least one OpenSSH public key, or nobody can log in as ${adminUser}`);
  sshPublicKeys.forEach((k, i) => {
    if (!PUBLIC_KEY.test(k.trim())) {
      throw new Error(`sshPublicKeys[${i}]: "${k.slice(0, 40)}${k.length > 40 ? "…" : ""}" is not a single-line OpenSSH public key; expected e.g. "ssh-ed25519 AAAA… user@host" (the .pub file, never the private key)`);
    }
  });
  extraPackages.forEach((p, i) => {
    if (!PACKAGE_NAME.test(p)) throw new Error(`extraPackages[${i}]: "${p}" is not a Debian package name; use lower-case letters, digits, +, - and . (e.g. "nvtop")`);
  });

  const packages = [...new Set(["unattended-upgrades", ...extraPackages])];
  const config = {
    users: [
      {
        name: adminUser,
        gecos: "gpu-hosting admin",
        groups: ["sudo"],
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: sshPublicKeys.map((k) => k.trim()),
      },
    ],
    disable_root: true,
    ssh_pwauth: false,
    package_update: true,
    packages,
    write_files: [
      { path: SSHD_HARDENING_DROPIN, owner: "root:root", permissions: "0644", content: SSHD_HARDENING_CONFIG },
      { path: "/etc/apt/apt.conf.d/20auto-upgrades", owner: "root:root", permissions: "0644", content: AUTO_UPGRADES_CONFIG },
    ],
    runcmd: [
      ["systemctl", "enable", "--now", "unattended-upgrades.service"],
      // Ubuntu and Debian name the unit ssh.service (sshd.service is an alias on some releases).
      ["sh", "-c", "mkdir -p /run/sshd && sshd -t && { systemctl restart ssh.service || systemctl restart sshd.service; }"],
    ],
  };
  // lineWidth -1: never fold long lines (keys, commands); noRefs: no &anchors for repeated values.
  return `#cloud-config\n${dump(config, { lineWidth: -1, noRefs: true })}`;
}
