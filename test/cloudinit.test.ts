/**
 * The hardening cloud-config: its settings (parsed back from YAML), its input checks, and the
 * real `cloud-init schema --config-file` on every variant.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load } from "js-yaml";
import { AUTO_UPGRADES_CONFIG, renderHardeningCloudConfig, SSHD_HARDENING_CONFIG, SSHD_HARDENING_DROPIN, type HardeningOptions } from "../core/cloudinit";

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc5Ylq2lVz0m3m8aJ9Xw5V1tq8m3VxQKf6q7bYpZ0nA ops@gpu-hosting";
const RSA = `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ${"C".repeat(300)}= laptop`;
const ECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEm1w==";

const VARIANTS: [string, HardeningOptions][] = [
  ["one ed25519 key, default packages", { adminUser: "llm", sshPublicKeys: [ED25519] }],
  ["three key types and extra packages", { adminUser: "ops_admin", sshPublicKeys: [ED25519, RSA, ECDSA], extraPackages: ["nvtop", "htop", "libnvidia-compute-570"] }],
  ["a key without comment and a duplicated package", { adminUser: "_svc-1", sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc5"], extraPackages: ["unattended-upgrades"] }],
];

interface CloudConfig {
  users: { name: string; groups: string[]; sudo: string; lock_passwd: boolean; shell: string; ssh_authorized_keys: string[] }[];
  disable_root: boolean;
  ssh_pwauth: boolean;
  package_update: boolean;
  packages: string[];
  write_files: { path: string; content: string; permissions: string; owner: string }[];
  runcmd: string[][];
}

describe("renderHardeningCloudConfig settings", () => {
  it.each(VARIANTS)("%s: non-root sudo user with the keys, root and passwords off", (_, options) => {
    const text = renderHardeningCloudConfig(options);
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const c = load(text) as CloudConfig;
    expect(c.users).toEqual([
      {
        name: options.adminUser,
        gecos: "gpu-hosting admin",
        groups: ["sudo"],
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: options.sshPublicKeys,
      },
    ]);
    expect(c.disable_root).toBe(true);
    expect(c.ssh_pwauth).toBe(false);
    expect(c.package_update).toBe(true);
    expect(c.packages[0]).toBe("unattended-upgrades");
    expect(c.packages).toEqual([...new Set(["unattended-upgrades", ...(options.extraPackages ?? [])])]);
  });

  it("writes an sshd drop-in that sorts before cloud-init's own and disables root, password and keyboard-interactive login", () => {
    const c = load(renderHardeningCloudConfig(VARIANTS[0]![1])) as CloudConfig;
    const dropin = c.write_files.find((f) => f.path === SSHD_HARDENING_DROPIN);
    expect(SSHD_HARDENING_DROPIN).toBe("/etc/ssh/sshd_config.d/01-gpu-hosting-hardening.conf");
    expect(dropin).toEqual({ path: SSHD_HARDENING_DROPIN, owner: "root:root", permissions: "0644", content: SSHD_HARDENING_CONFIG });
    expect(dropin!.content.split("\n").filter(Boolean)).toEqual(["PermitRootLogin no", "PasswordAuthentication no", "KbdInteractiveAuthentication no"]);
  });

  it("turns on daily unattended upgrades and restarts sshd after checking its config", () => {
    const c = load(renderHardeningCloudConfig(VARIANTS[0]![1])) as CloudConfig;
    expect(c.write_files.find((f) => f.path === "/etc/apt/apt.conf.d/20auto-upgrades")?.content).toBe(AUTO_UPGRADES_CONFIG);
    expect(AUTO_UPGRADES_CONFIG).toContain('APT::Periodic::Unattended-Upgrade "1";');
    expect(c.runcmd).toEqual([
      ["systemctl", "enable", "--now", "unattended-upgrades.service"],
      ["sh", "-c", "mkdir -p /run/sshd && sshd -t && { systemctl restart ssh.service || systemctl restart sshd.service; }"],
    ]);
  });

  it("is deterministic and keeps long keys on one line", () => {
    const options = VARIANTS[1]![1];
    const text = renderHardeningCloudConfig(options);
    expect(renderHardeningCloudConfig(options)).toBe(text);
    expect(text.split("\n")).toContain(`      - ${RSA}`);
  });
});

describe("renderHardeningCloudConfig input checks", () => {
  it.each<[string, HardeningOptions, string]>([
    ["root as admin user", { adminUser: "root", sshPublicKeys: [ED25519] }, `adminUser: "root" is not allowed (root login is disabled); use a name such as "llm"`],
    [
      "an upper-case user name",
      { adminUser: "Admin", sshPublicKeys: [ED25519] },
      `adminUser: "Admin" is not a valid Linux user name; use a lower-case letter or _ first, then lower-case letters, digits, _ or - (at most 32 characters), e.g. "llm"`,
    ],
    ["no keys", { adminUser: "llm", sshPublicKeys: [] }, "sshPublicKeys: none given; add at least one OpenSSH public key, or nobody can log in as llm"],
    [
      "a private key passed as a public key",
      { adminUser: "llm", sshPublicKeys: [ED25519, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----"] },
      `sshPublicKeys[1]: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl…" is not a single-line OpenSSH public key; expected e.g. "ssh-ed25519 AAAA… user@host" (the .pub file, never the private key)`,
    ],
    [
      "a package name with a shell metacharacter",
      { adminUser: "llm", sshPublicKeys: [ED25519], extraPackages: ["htop; rm -rf /"] },
      `extraPackages[0]: "htop; rm -rf /" is not a Debian package name; use lower-case letters, digits, +, - and . (e.g. "nvtop")`,
    ],
  ])("rejects %s", (_, options, message) => {
    expect(() => renderHardeningCloudConfig(options)).toThrow(new Error(message));
  });
});

// The real validator. CI images must have it; a developer machine without it skips, saying why.
const CLOUD_INIT = spawnSync("cloud-init", ["--version"], { encoding: "utf8" });
const HAVE_CLOUD_INIT = !CLOUD_INIT.error && CLOUD_INIT.status === 0;
const IN_CI = process.env.CI === "true";
const MISSING = "cloud-init is required to validate rendered cloud-configs (`cloud-init schema`); install it with `apt-get install -y cloud-init`";
if (!HAVE_CLOUD_INIT && !IN_CI) console.warn(`skipping cloud-init schema tests: ${MISSING} (set CI=true to make this a failure)`);
const itSchema = HAVE_CLOUD_INIT || IN_CI ? it : it.skip;

describe("cloud-init schema --config-file", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "gpu-hosting-cloudinit-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  itSchema.each(VARIANTS)(`accepts the cloud-config for %s${HAVE_CLOUD_INIT ? "" : " (cloud-init missing)"}`, (label, options) => {
    if (!HAVE_CLOUD_INIT) throw new Error(MISSING);
    const file = join(dir, `${label.replace(/[^a-z0-9]+/gi, "-")}.yaml`);
    writeFileSync(file, renderHardeningCloudConfig(options));
    const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    const output = `${r.stdout}${r.stderr}`;
    expect({ status: r.status, output }).toEqual({ status: 0, output: expect.stringMatching(/Valid (schema|cloud-config)/) });
  });

  itSchema(`rejects a broken document, so a pass above means something${HAVE_CLOUD_INIT ? "" : " (cloud-init missing)"}`, () => {
    if (!HAVE_CLOUD_INIT) throw new Error(MISSING);
    const file = join(dir, "broken.yaml");
    writeFileSync(file, "#cloud-config\nssh_pwauth: [1]\nruncmd: 5\n");
    const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain("runcmd: 5 is not of type 'array'");
  });
});
