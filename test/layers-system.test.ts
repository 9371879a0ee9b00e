/**
 * The base, gpu and power layer renderers (core/layers/base.ts, gpu.ts, power.ts): exact key lines
 * per GPU generation, input checks with their messages, the real `shellcheck` and `bash -n` on
 * every rendered script, the real `systemd-analyze verify` on every unit, the real `sshd -t` on the
 * hardening drop-in, and the two read-back checks (`verifyGpu`, `verifyPowerLimits`) on outputs
 * built from the captured nvidia-smi / rocm-smi fixtures. The scripts run for real, over SSH against
 * stand-in tools, in test/layers-system-ssh.test.ts.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "js-yaml";
import { catalog } from "../core/catalog";
import { SSHD_HARDENING_CONFIG, SSHD_HARDENING_DROPIN } from "../core/cloudinit";
import {
  ADMIN_SUDOERS,
  DRIVER_BLACKLIST_CONF,
  MAIN_INTERFACE_PLACEHOLDER,
  renderBaseLayer,
  renderBootstrapLayer,
  VSWITCH_NETPLAN,
  vswitchNetplan,
  type BaseLayerOptions,
  type VswitchNetwork,
} from "../core/layers/base";
import { GPU_VERIFY_COMMAND, GPU_VERIFY_MARKER, GPU_VERIFY_SCRIPT, GPU_VERIFY_SECTIONS, nvidiaDriverPackage, renderGpuLayer, verifyGpu, type GpuLayerOptions } from "../core/layers/gpu";
import { POWER_READBACK_AWK, POWER_UNIT_PATH, renderPowerLayer, renderPowerUnit, verifyPowerLimits } from "../core/layers/power";
import type { LayerScript } from "../core/layers/types";

const PROBE = path.join(__dirname, "fixtures", "probe");
const fixture = (name: string): string => fs.readFileSync(path.join(PROBE, name), "utf8");

// Tools: CI must have them (the test fails there without one); elsewhere the test is skipped, saying why.
const have = (tool: string): boolean => spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).status === 0;
function itWith(tool: string, install: string): jest.It {
  if (have(tool)) return it;
  const why = `${tool} is not installed (${install})`;
  if (process.env.CI === "true") {
    return ((name: string) =>
      it(name, () => {
        throw new Error(`${why}; it is required under CI=true`);
      })) as unknown as jest.It;
  }
  console.warn(`SKIPPED tests that need ${tool}: ${why}; set CI=true to make this a failure`);
  return it.skip;
}
const itShellcheck = itWith("shellcheck", "apt-get install -y shellcheck");
const itSystemd = itWith("systemd-analyze", "apt-get install -y systemd");
const itSshd = itWith("/usr/sbin/sshd", "apt-get install -y openssh-server");

const GPU = {
  l4: { name: "NVIDIA L4", architecture: "ada-lovelace", computeCapability: "8.9" },
  l40s: { name: "NVIDIA L40S", architecture: "ada-lovelace", computeCapability: "8.9" },
  p100: { name: "NVIDIA Tesla P100 PCIe 16GB", architecture: "pascal", computeCapability: "6.0" },
  rtxPro6000: { name: "NVIDIA RTX PRO 6000 Blackwell Server Edition", architecture: "blackwell", computeCapability: "12.0" },
  b200: { name: "NVIDIA B200", architecture: "blackwell", computeCapability: "10.0" },
  mi300x: { name: "AMD Instinct MI300X", architecture: "cdna3", computeCapability: null },
};
const gpuLayer = (over: Partial<GpuLayerOptions>): LayerScript =>
  renderGpuLayer({ vendor: "nvidia", gpu: GPU.l4, gpuCount: 1, driverPreinstalled: false, runtime: "docker", ...over });
const VSWITCH: VswitchNetwork = { vlan: 4000, address: "10.100.1.2/24", gateway: "10.100.1.1", routes: ["10.100.0.0/16"] };
const baseLayer = (over: Partial<BaseLayerOptions>): LayerScript => renderBaseLayer({ hardenSsh: false, privateNetwork: null, gpuVendor: "nvidia", ...over });

/** Every script variant: each passes shellcheck and bash -n. */
const SCRIPTS: [string, LayerScript][] = [
  ["bootstrap for llm", renderBootstrapLayer({ adminUser: "llm" })],
  ["base, hardened, vSwitch, NVIDIA", baseLayer({ hardenSsh: true, privateNetwork: VSWITCH })],
  ["base, AMD, vSwitch without routes, MTU 1500", baseLayer({ gpuVendor: "amd", privateNetwork: { ...VSWITCH, routes: [], mtu: 1500 } })],
  ["base, CPU host", baseLayer({ gpuVendor: "none" })],
  ["gpu, 2 × L4 (Ada)", gpuLayer({ gpuCount: 2 })],
  ["gpu, 1 × P100 (Pascal)", gpuLayer({ gpu: GPU.p100 })],
  ["gpu, 2 × RTX PRO 6000 (Blackwell)", gpuLayer({ gpu: GPU.rtxPro6000, gpuCount: 2 })],
  ["gpu, 8 × B200 (NVSwitch)", gpuLayer({ gpu: GPU.b200, gpuCount: 8 })],
  ["gpu, Scaleway L40S image with the driver", gpuLayer({ gpu: GPU.l40s, driverPreinstalled: true })],
  ["gpu, 8 × MI300X", gpuLayer({ vendor: "amd", gpu: GPU.mi300x, gpuCount: 8 })],
  ["gpu, MI300X image with ROCm", gpuLayer({ vendor: "amd", gpu: GPU.mi300x, driverPreinstalled: true })],
  ["gpu, CPU host", gpuLayer({ vendor: "none", gpu: null, gpuCount: 0 })],
  ["power, NVIDIA, 250 W cap", renderPowerLayer({ vendor: "nvidia", gpuCount: 2, capWatts: 250 })!],
  ["power, NVIDIA, no cap", renderPowerLayer({ vendor: "nvidia", gpuCount: 8, capWatts: null })!],
  ["power, AMD, 500 W cap", renderPowerLayer({ vendor: "amd", gpuCount: 8, capWatts: 500 })!],
  ["power, AMD, no cap", renderPowerLayer({ vendor: "amd", gpuCount: 8, capWatts: null })!],
];

/** The body of a script: what follows the install_file helper and precedes the final changed/unchanged line. */
const body = (s: LayerScript): string => s.script.slice(s.script.indexOf("\n}\n", s.script.indexOf("install_file() {")) + 3);

/**
 * Host paths a script body uses without "$GH_ROOT" in front. Ignored: comments, messages (log, fail,
 * mark_reboot), install_file's first argument (install_file adds $GH_ROOT itself), the keyring path
 * inside the apt list line (the host's path, written through install_file) and /opt/rocm/bin on PATH.
 */
function unrootedPaths(text: string): string[] {
  const stripped = (l: string): string =>
    l
      .replace(/^\s*install_file ('[^']*'|\S+)/, "install_file")
      .replace(/\b(log|fail|mark_reboot) ".*$/, "$1 MSG")
      .replace(/signed-by=\/usr\/share\/keyrings\/[\w.-]+/, "")
      .replace(/PATH="\$PATH:\/opt\/rocm\/bin"/, "")
      .replace(/\$GH_ROOT\/\S*/g, "");
  return text
    .split("\n")
    .filter((l) => !/^\s*#/.test(l))
    .filter((l) => /(^|[\s"'=(])\/(etc|var|root|home|dev|run|usr\/share|usr\/lib|opt|lib)\//.test(stripped(l)));
}

describe("every rendered script", () => {
  itShellcheck.each(SCRIPTS)("%s passes shellcheck with no findings", (_name, s) => {
    const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", "-"], { input: s.script, encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  it.each(SCRIPTS)("%s parses with bash -n", (_name, s) => {
    const r = spawnSync("bash", ["-n"], { input: s.script, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it.each(SCRIPTS)("%s: every path it reads or writes itself goes through $GH_ROOT", (_name, s) => {
    expect(unrootedPaths(body(s))).toEqual([]);
  });

  it("the $GH_ROOT check finds a path that lacks it", () => {
    expect(unrootedPaths('rm -f "/etc/foo"\nrm -f "$GH_ROOT/etc/foo"\nlog "wrote /etc/foo"\ncat /var/lib/x\n')).toEqual(['rm -f "/etc/foo"', "cat /var/lib/x"]);
  });

  it("are deterministic, and the hash follows the content", () => {
    const a = gpuLayer({ gpuCount: 2 });
    expect(gpuLayer({ gpuCount: 2 })).toEqual(a);
    expect(gpuLayer({ gpu: GPU.p100 }).hash).not.toBe(a.hash);
    expect(renderPowerLayer({ vendor: "nvidia", gpuCount: 2, capWatts: 250 })!.hash).not.toBe(renderPowerLayer({ vendor: "nvidia", gpuCount: 2, capWatts: 260 })!.hash);
  });
});

describe("renderGpuLayer", () => {
  const installs = (s: LayerScript): string[] => [...s.script.matchAll(/^\s*apt_get install (.+)$/gm)].map((m) => m[1] ?? "");

  it.each<[string, LayerScript, string[]]>([
    ["Ada (8.9) gets the open kernel modules", gpuLayer({ gpuCount: 2 }), ["docker.io", '"$keyring_tmp/cuda-keyring_1.1-1_all.deb"', '"linux-headers-$(uname -r)"', "nvidia-open", "nvidia-container-toolkit"]],
    ["Pascal (6.0) gets the proprietary modules", gpuLayer({ gpu: GPU.p100 }), ["docker.io", '"$keyring_tmp/cuda-keyring_1.1-1_all.deb"', '"linux-headers-$(uname -r)"', "cuda-drivers", "nvidia-container-toolkit"]],
    ["Blackwell (12.0) gets the open kernel modules, its only option", gpuLayer({ gpu: GPU.rtxPro6000 }), ["docker.io", '"$keyring_tmp/cuda-keyring_1.1-1_all.deb"', '"linux-headers-$(uname -r)"', "nvidia-open", "nvidia-container-toolkit"]],
    ["a Scaleway GPU OS image installs no driver", gpuLayer({ gpu: GPU.l40s, driverPreinstalled: true }), ["docker.io", "nvidia-container-toolkit"]],
    ["MI300X gets amdgpu-install", gpuLayer({ vendor: "amd", gpu: GPU.mi300x, gpuCount: 8 }), ["docker.io", '"$amd_tmp/amdgpu-install_6.2.60200-1_all.deb"', '"linux-headers-$(uname -r)"']],
    ["a CPU host gets Docker only", gpuLayer({ vendor: "none", gpu: null, gpuCount: 0 }), ["docker.io"]],
  ])("%s", (_name, s, packages) => {
    expect(installs(s)).toEqual(packages);
    expect(s.layer).toBe("gpu");
    expect(s.name).toBe("20-gpu.sh");
  });

  it("takes the keyring from NVIDIA's CUDA repository for the host's release and architecture", () => {
    const s = gpuLayer({}).script;
    expect(s).toContain('keyring_url="https://developer.download.nvidia.com/compute/cuda/repos/$cuda_distro/$cuda_arch/cuda-keyring_1.1-1_all.deb"');
    expect(s).toContain("    ubuntu24.04) cuda_distro=ubuntu2404 ;;");
    expect(s).toContain("    arm64) cuda_arch=sbsa ;;");
  });

  it("configures Docker's nvidia runtime in $GH_ROOT/etc/docker/daemon.json and restarts Docker only then", () => {
    const s = gpuLayer({}).script;
    expect(s).toContain('nvidia-ctk runtime configure --runtime=docker --config="$GH_ROOT/etc/docker/daemon.json" >/dev/null');
    expect(s.match(/systemctl restart docker\.service/g)).toHaveLength(1);
    expect(s).toContain("install_file /etc/apt/sources.list.d/nvidia-container-toolkit.list 0644");
  });

  it("never installs a driver when the image ships one, and fails if it does not", () => {
    const s = gpuLayer({ gpu: GPU.l40s, driverPreinstalled: true }).script;
    expect(s).not.toMatch(/apt_get install (nvidia-open|cuda-drivers)|cuda-keyring|linux-headers/);
    expect(s).toContain('fail "driverPreinstalled: the image should ship the NVIDIA driver, but nvidia-smi lists no GPU');
  });

  it("AMD: amdgpu-install --usecase=rocm from repo.radeon.com, a reboot for the new module, and the container devices", () => {
    const s = gpuLayer({ vendor: "amd", gpu: GPU.mi300x, gpuCount: 8 });
    expect(s.script).toContain('"https://repo.radeon.com/amdgpu-install/6.2/ubuntu/$codename/amdgpu-install_6.2.60200-1_all.deb"');
    expect(s.script).toContain("  amdgpu-install -y --usecase=rocm || fail");
    expect(s.script).toContain('  mark_reboot "amdgpu-dkms and ROCm 6.2 were installed; the new amdgpu module loads at the next boot"');
    expect(s.script).toContain("for group in render video; do");
    expect(s.files).toEqual([
      {
        layer: "gpu",
        name: "70-gpu-hosting-amdgpu.rules",
        path: "/etc/udev/rules.d/70-gpu-hosting-amdgpu.rules",
        mode: "0644",
        content:
          "# gpu-hosting: the ROCm devices for the render group (containers: --device /dev/kfd --device /dev/dri --group-add render --group-add video).\n" +
          'KERNEL=="kfd", GROUP="render", MODE="0660"\nSUBSYSTEM=="drm", KERNEL=="renderD*", GROUP="render", MODE="0660"\n',
      },
    ]);
    expect(s.script).not.toMatch(/nvidia/);
  });

  it("a CPU host's script mentions no GPU driver", () => {
    expect(gpuLayer({ vendor: "none", gpu: null, gpuCount: 0 }).script).not.toMatch(/nvidia-open|cuda-drivers|amdgpu-install|nvidia-ctk/);
  });

  it("writes the reboot marker under $GH_ROOT and prints the reboot line on stdout, never rebooting", () => {
    const s = gpuLayer({}).script;
    expect(s).toContain('GH_REBOOT_MARKER="$GH_ROOT/var/lib/gpu-hosting/reboot-required"');
    expect(s).toContain("  printf 'gpu-hosting: gpu: reboot required\\n'");
    expect(s).not.toMatch(/\b(reboot|shutdown)\s+(-|now)|systemctl (reboot|kexec)/);
  });

  it("warns about the fabric manager on an 8 × B200 board, not on 2 × L4", () => {
    expect(gpuLayer({ gpu: GPU.b200, gpuCount: 8 }).script).toContain('log "WARNING: 8 × NVIDIA B200 is an NVSwitch board: CUDA needs the fabric manager');
    expect(gpuLayer({ gpuCount: 2 }).script).not.toContain("NVSwitch");
  });

  it.each([
    ["6.0", "cuda-drivers"],
    ["7.0", "cuda-drivers"],
    ["7.2", "cuda-drivers"],
    ["7.5", "nvidia-open"],
    ["8.9", "nvidia-open"],
    ["9.0", "nvidia-open"],
    ["10.0", "nvidia-open"],
    ["12.0", "nvidia-open"],
  ])("compute capability %s gets %s", (cc, pkg) => {
    expect(nvidiaDriverPackage(cc)).toBe(pkg);
  });

  it("picks the open modules for every Turing-or-newer catalog GPU and the proprietary ones for Pascal", () => {
    const nvidia = catalog().gpus.filter((g) => g.vendor === "nvidia");
    expect(nvidia.length).toBeGreaterThan(10);
    for (const g of nvidia) {
      expect([g.id, nvidiaDriverPackage(g.computeCapability ?? "")]).toEqual([g.id, g.architecture === "pascal" || g.architecture === "volta" ? "cuda-drivers" : "nvidia-open"]);
    }
  });

  it.each<[string, Partial<GpuLayerOptions>, string]>([
    ["an NVIDIA GPU without compute capability", { gpu: { ...GPU.l4, computeCapability: null } }, 'gpu: NVIDIA L4 has no compute capability, so the NVIDIA driver flavour (open modules from 7.5, proprietary before) cannot be chosen; add computeCapability to its catalog entry, or set driverPreinstalled'],
    ["no GPUs with a GPU vendor", { gpuCount: 0 }, 'gpuCount: 0 GPUs with vendor "nvidia"; use a whole number of 1 or more'],
    ["a GPU on a CPU host", { vendor: "none", gpuCount: 1 }, 'gpu: a host with vendor "none" has no GPUs; got 1 × NVIDIA L4. Set gpu: null and gpuCount: 0, or the GPU\'s vendor'],
  ])("rejects %s", (_name, over, message) => {
    expect(() => gpuLayer(over)).toThrow(message);
  });
});

describe("renderBaseLayer and renderBootstrapLayer", () => {
  it("writes the vSwitch VLAN as netplan: link filled in on the host, MTU 1400, routes through the gateway, mode 0600", () => {
    const s = baseLayer({ privateNetwork: VSWITCH });
    const file = s.files.find((f) => f.path === VSWITCH_NETPLAN);
    expect(file?.mode).toBe("0600");
    expect(file?.content).toBe(
      [
        "# gpu-hosting: Hetzner vSwitch VLAN 4000 on the main interface. Rendered by gpu-hosting; do not edit.",
        "network:",
        "  version: 2",
        "  vlans:",
        "    vlan4000:",
        "      id: 4000",
        `      link: "${MAIN_INTERFACE_PLACEHOLDER}"`,
        "      mtu: 1400",
        "      addresses:",
        '        - "10.100.1.2/24"',
        "      routes:",
        '        - to: "10.100.0.0/16"',
        '          via: "10.100.1.1"',
        "",
      ].join("\n"),
    );
    expect(load(file!.content.replace(MAIN_INTERFACE_PLACEHOLDER, "enp0s31f6"))).toEqual({
      network: { version: 2, vlans: { vlan4000: { id: 4000, link: "enp0s31f6", mtu: 1400, addresses: ["10.100.1.2/24"], routes: [{ to: "10.100.0.0/16", via: "10.100.1.1" }] } } },
    });
    expect(s.script).toContain(`sed "s/${MAIN_INTERFACE_PLACEHOLDER}/$main_if/"`);
    expect(s.script).toContain('  if ! netplan_out="$(netplan apply 2>&1)"; then');
    expect(s.script.indexOf("netplan apply")).toBeGreaterThan(s.script.indexOf('if [ "$netplan_changed" = 1 ]; then'));
  });

  it.each<[string, string[]]>([
    ["nvidia", ['"^nvidia-(?!container)"', '"^libnvidia-(?!container)"', '"^cuda-drivers"']],
    ["amd", ['"^amdgpu-dkms"', '"^rocm"']],
  ])("blacklists the %s driver for unattended-upgrades and holds its installed packages", (vendor, patterns) => {
    const s = baseLayer({ gpuVendor: vendor as "nvidia" | "amd" });
    const file = s.files.find((f) => f.path === DRIVER_BLACKLIST_CONF);
    expect(file?.content.split("\n").filter((l) => l.startsWith("    "))).toEqual(patterns.map((p) => `    ${p};`));
    expect(file?.content).toContain("Unattended-Upgrade::Package-Blacklist {");
    expect(s.script).toContain("apt-mark hold");
    expect(s.script).toMatch(/\nhold_driver_packages\n/);
  });

  it("keeps the container toolkit out of the blacklist pattern (it has no kernel module, and gets security fixes)", () => {
    const [nvidia, libnvidia] = ["^nvidia-(?!container)", "^libnvidia-(?!container)"].map((p) => new RegExp(p));
    expect(["nvidia-open", "nvidia-driver-580-server-open", "nvidia-dkms-open", "nvidia-utils-580"].every((p) => nvidia!.test(p))).toBe(true);
    expect(["libnvidia-compute-580", "libnvidia-gl-580"].every((p) => libnvidia!.test(p))).toBe(true);
    expect(["nvidia-container-toolkit", "nvidia-container-toolkit-base"].some((p) => nvidia!.test(p))).toBe(false);
    expect(["libnvidia-container1", "libnvidia-container-tools"].some((p) => libnvidia!.test(p))).toBe(false);
  });

  it("a CPU host gets unattended upgrades without a blacklist, and the sshd drop-in only when asked", () => {
    const s = baseLayer({ gpuVendor: "none" });
    expect(s.files.map((f) => f.path)).toEqual(["/etc/apt/apt.conf.d/20auto-upgrades"]);
    expect(baseLayer({ hardenSsh: true, gpuVendor: "none" }).files.map((f) => f.path)).toEqual([SSHD_HARDENING_DROPIN, "/etc/apt/apt.conf.d/20auto-upgrades"]);
  });

  it("checks sshd's configuration before reloading it and its effective settings every run", () => {
    const s = baseLayer({ hardenSsh: true }).script;
    expect(s.indexOf('sshd_out="$(sshd -t 2>&1)"')).toBeLessThan(s.indexOf("systemctl try-reload-or-restart ssh.service"));
    expect(s).toContain('for want in "permitrootlogin no" "passwordauthentication no" "kbdinteractiveauthentication no"; do');
  });

  it("bootstrap: the admin user with passwordless sudo (checked by visudo) before sshd turns root login off", () => {
    const s = renderBootstrapLayer({ adminUser: "llm" });
    expect(s.name).toBe("00-bootstrap.sh");
    expect(s.files).toEqual([
      { layer: "base", name: "90-gpu-hosting-admin", path: ADMIN_SUDOERS, mode: "0440", content: "llm ALL=(ALL) NOPASSWD:ALL\n" },
      { layer: "base", name: "01-gpu-hosting-hardening.conf", path: SSHD_HARDENING_DROPIN, mode: "0644", content: SSHD_HARDENING_CONFIG },
    ]);
    const order = ["useradd --create-home", "root_keys=", 'visudo -cf "$GH_ROOT/etc/sudoers.d/90-gpu-hosting-admin"', "sshd -t", "try-reload-or-restart ssh.service"].map((x) => s.script.indexOf(x));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it.each<[string, () => unknown, string]>([
    ["root as admin user", () => renderBootstrapLayer({ adminUser: "root" }), 'adminUser: "root" is not allowed (root login is disabled); use a name such as "llm"'],
    ["a VLAN outside Robot's range", () => vswitchNetplan({ ...VSWITCH, vlan: 10 }), "privateNetwork.vlan: 10 is not allowed; Robot vSwitch VLAN IDs are integers from 4000 to 4091 (e.g. 4000)"],
    ["an address without prefix", () => vswitchNetplan({ ...VSWITCH, address: "10.100.1.2" }), 'privateNetwork.address: "10.100.1.2" is not an IPv4 address with the subnet\'s prefix; expected e.g. "10.100.1.2/24"'],
    ["the network address", () => vswitchNetplan({ ...VSWITCH, address: "10.100.1.0/24" }), 'privateNetwork.address: "10.100.1.0/24" is the network or broadcast address of 10.100.1.0/24; use a host address such as 10.100.1.2/24'],
    ["a gateway outside the subnet", () => vswitchNetplan({ ...VSWITCH, gateway: "10.100.2.1" }), 'privateNetwork.gateway: "10.100.2.1" must be another host address of 10.100.1.0/24 than the server\'s 10.100.1.2; the vSwitch gateway is the subnet\'s first host, 10.100.1.1'],
    ["a route with host bits", () => vswitchNetplan({ ...VSWITCH, routes: ["10.100.0.1/16"] }), 'privateNetwork.routes[0]: "10.100.0.1/16" is not an IPv4 CIDR with its host bits clear, e.g. "10.100.0.0/16"'],
    ["a jumbo MTU", () => vswitchNetplan({ ...VSWITCH, mtu: 9000 }), "privateNetwork.mtu: 9000 is not allowed; use a whole number of bytes from 576 to 1500 (Hetzner documents 1400 for vSwitch VLANs)"],
  ])("rejects %s", (_name, render, message) => {
    expect(render).toThrow(message);
  });

  itSshd("the hardening drop-in passes the real sshd -t and sshd -T shows it applied", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-sshd-dropin-"));
    try {
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host")]);
      fs.writeFileSync(path.join(dir, "01.conf"), SSHD_HARDENING_CONFIG);
      fs.writeFileSync(path.join(dir, "sshd_config"), `Include ${path.join(dir, "01.conf")}\nHostKey ${path.join(dir, "host")}\nPermitRootLogin yes\nPasswordAuthentication yes\n`);
      if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
      const t = spawnSync("/usr/sbin/sshd", ["-t", "-f", path.join(dir, "sshd_config")], { encoding: "utf8" });
      expect(t.stderr).toBe("");
      expect(t.status).toBe(0);
      const effective = spawnSync("/usr/sbin/sshd", ["-T", "-f", path.join(dir, "sshd_config")], { encoding: "utf8" }).stdout.split("\n");
      expect(effective).toEqual(expect.arrayContaining(["permitrootlogin no", "passwordauthentication no", "kbdinteractiveauthentication no"]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("renderPowerLayer", () => {
  it("installs a oneshot unit for persistence mode and one -pl for all GPUs", () => {
    const s = renderPowerLayer({ vendor: "nvidia", gpuCount: 2, capWatts: 250 })!;
    expect(s.name).toBe("30-power.sh");
    expect(s.files).toEqual([
      {
        layer: "power",
        name: "gpu-hosting-power.service",
        path: "/etc/systemd/system/gpu-hosting-power.service",
        mode: "0644",
        content: [
          "[Unit]",
          "Description=gpu-hosting: GPU persistence mode and power limit 250 W per GPU",
          "After=nvidia-persistenced.service systemd-modules-load.service",
          "",
          "[Service]",
          "Type=oneshot",
          "RemainAfterExit=yes",
          "ExecStart=/usr/bin/nvidia-smi -pm 1",
          "ExecStart=/usr/bin/nvidia-smi -pl 250",
          "",
          "[Install]",
          "WantedBy=multi-user.target",
          "",
        ].join("\n"),
      },
    ]);
    expect(s.script).toContain("awk -v cap=250 -v want=2 -v mode=nvidia");
    expect(s.script).toContain('if ! limits="$(nvidia-smi --query-gpu=power.limit --format=csv,noheader,nounits 2>&1)"');
  });

  it("without a cap, NVIDIA keeps persistence mode only", () => {
    expect(renderPowerUnit({ vendor: "nvidia", capWatts: null })).toContain("ExecStart=/usr/bin/nvidia-smi -pm 1\n\n[Install]");
    expect(renderPowerLayer({ vendor: "nvidia", gpuCount: 1, capWatts: null })!.script).not.toContain("power.limit");
  });

  it("AMD caps with rocm-smi --setpoweroverdrive and reads back --showmaxpower; without a cap it only removes an old unit", () => {
    const s = renderPowerLayer({ vendor: "amd", gpuCount: 8, capWatts: 500 })!;
    expect(s.files[0]?.content).toContain("\nExecStart=/opt/rocm/bin/rocm-smi --setpoweroverdrive 500\n");
    expect(s.files[0]?.content).not.toContain("-pm");
    expect(s.script).toContain('limits="$(rocm-smi --showmaxpower 2>&1)"');
    const none = renderPowerLayer({ vendor: "amd", gpuCount: 8, capWatts: null })!;
    expect(none.files).toEqual([]);
    expect(none.script).toContain(`if [ -f "$GH_ROOT${POWER_UNIT_PATH}" ]; then`);
  });

  it("is null for a CPU host", () => {
    expect(renderPowerLayer({ vendor: "none", gpuCount: 0, capWatts: null })).toBeNull();
  });

  it.each<[string, Parameters<typeof renderPowerLayer>[0], string]>([
    ["a fractional cap", { vendor: "nvidia", gpuCount: 1, capWatts: 250.5 }, "gpuPowerCapWatts: 250.5 is not a whole number of watts of 1 or more (nvidia-smi -pl and rocm-smi --setpoweroverdrive take watts), e.g. 250"],
    ["no GPUs", { vendor: "nvidia", gpuCount: 0, capWatts: 250 }, 'gpuCount: 0 GPUs with vendor "nvidia"; the power layer needs a whole number of 1 or more'],
  ])("rejects %s", (_name, o, message) => {
    expect(() => renderPowerLayer(o)).toThrow(message);
  });

  // systemd-analyze verify refuses a unit whose ExecStart binary does not exist ("Command
  // /usr/bin/nvidia-smi is not executable: No such file or directory"), and nvidia-smi and
  // rocm-smi are not installed here. So each unit is verified with --root=<temp dir> holding a copy
  // of this machine's /usr/lib/systemd/system (the targets it refers to), the unit under
  // /etc/systemd/system, and an empty executable stub at each ExecStart path. Warnings (an unknown
  // key, say) exit 0, so the output must be empty too.
  itSystemd.each<[string, string | null]>([
    ["NVIDIA with a 250 W cap", renderPowerUnit({ vendor: "nvidia", capWatts: 250 })],
    ["NVIDIA without a cap", renderPowerUnit({ vendor: "nvidia", capWatts: null })],
    ["AMD with a 500 W cap", renderPowerUnit({ vendor: "amd", capWatts: 500 })],
  ])("the %s unit passes systemd-analyze verify", (_name, unit) => {
    expect(unit).not.toBeNull();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-verify-unit-"));
    try {
      fs.cpSync("/usr/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
      fs.mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
      fs.writeFileSync(path.join(root, POWER_UNIT_PATH), unit!);
      for (const m of unit!.matchAll(/^ExecStart=(\S+)/gm)) {
        const stub = path.join(root, m[1]!);
        fs.mkdirSync(path.dirname(stub), { recursive: true });
        fs.writeFileSync(stub, "#!/bin/sh\n", { mode: 0o755 });
      }
      const r = spawnSync("systemd-analyze", ["verify", `--root=${root}`, POWER_UNIT_PATH], { encoding: "utf8" });
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
      // The check is real: the same unit without its stub binary is refused.
      fs.rmSync(path.join(root, "usr/bin"), { recursive: true, force: true });
      fs.rmSync(path.join(root, "opt"), { recursive: true, force: true });
      const missing = spawnSync("systemd-analyze", ["verify", `--root=${root}`, POWER_UNIT_PATH], { encoding: "utf8" });
      expect(missing.stderr).toContain("is not executable: No such file or directory");
      expect(missing.status).not.toBe(0);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// verifyGpu
// ---------------------------------------------------------------------------------------------

type Sec = { rc: number | null; text?: string };
/** Output as GPU_VERIFY_COMMAND prints it; sections default to "not installed" (rocm, nvidia) or answered (docker with the nvidia runtime, nvidia-ctk). */
function verifyOutput(over: Partial<Record<(typeof GPU_VERIFY_SECTIONS)[number], Sec>>): string {
  const d: Record<(typeof GPU_VERIFY_SECTIONS)[number], Sec> = {
    "nvidia-query": { rc: null },
    rocm: { rc: null },
    kfd: { rc: 1 },
    "docker-runtimes": { rc: 0, text: '{"io.containerd.runc.v2":{"path":"runc"},"nvidia":{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}}' },
    "nvidia-ctk": { rc: 0, text: "NVIDIA Container Toolkit CLI version 1.17.8" },
    "reboot-required": { rc: 1 },
    ...over,
  };
  return GPU_VERIFY_SECTIONS.map((n) => {
    const s = d[n];
    return `${GPU_VERIFY_MARKER} begin ${n}\n${s.text ?? ""}\n${GPU_VERIFY_MARKER} end ${n} ${s.rc === null ? "absent" : `rc=${s.rc}`}`;
  }).join("\n");
}
const H100X8 = fixture("nvidia-smi-query-8xh100.csv");
const L4 = fixture("nvidia-smi-query-l4-units.csv");
const CPU_ONLY = verifyOutput({ "nvidia-ctk": { rc: null }, "docker-runtimes": { rc: 0, text: '{"io.containerd.runc.v2":{"path":"runc"},"runc":{"path":"runc"}}' } });

describe("verifyGpu", () => {
  const h100 = { vendor: "nvidia" as const, gpuCount: 8, gpuName: "NVIDIA H100 SXM 80GB" };
  it.each<[string, Parameters<typeof verifyGpu>[0], string, string[]]>([
    ["accepts 8 × H100 with the toolkit and Docker's nvidia runtime", h100, verifyOutput({ "nvidia-query": { rc: 0, text: H100X8 } }), []],
    ["accepts a P100 whose old driver lacks compute_cap", { vendor: "nvidia", gpuCount: 1, gpuName: "NVIDIA Tesla P100 PCIe 16GB" }, verifyOutput({ "nvidia-query": { rc: 0, text: fixture("nvidia-smi-query-p100-no-compute-cap.csv") } }), []],
    [
      "reports a missing L4 with the declared and found counts and the fix",
      { vendor: "nvidia", gpuCount: 2, gpuName: "NVIDIA L4" },
      verifyOutput({ "nvidia-query": { rc: 0, text: L4 } }),
      [
        "gpu layer: expected 2 × NVIDIA L4 (l4), found 1 × NVIDIA L4 (l4); a GPU is missing or not visible to the driver: check nvidia-smi -L and lspci | grep -i nvidia on the host (a GPU that fell off the bus needs a reboot or a hardware ticket), or declare gpuCount: 1",
      ],
    ],
    ["reports more GPUs than declared", { ...h100, gpuCount: 4 }, verifyOutput({ "nvidia-query": { rc: 0, text: H100X8 } }), ["gpu layer: expected 4 × NVIDIA H100 SXM 80GB (h100-sxm-80gb), found 8 × NVIDIA H100 80GB HBM3 (h100-sxm-80gb); declare gpuCount: 8 so the sizing, power and cost checks count every GPU"]],
    ["reports another model", { vendor: "nvidia", gpuCount: 1, gpuName: "NVIDIA L40S" }, verifyOutput({ "nvidia-query": { rc: 0, text: L4 } }), ["gpu layer: expected 1 × NVIDIA L40S (l40s), found 1 × NVIDIA L4 (l4); declare the GPU the host has (gpu: l4), or use a host with l40s"]],
    [
      "reports a model the catalog does not know",
      { vendor: "nvidia", gpuCount: 1, gpuName: "NVIDIA L4" },
      verifyOutput({ "nvidia-query": { rc: 0, text: "0, NVIDIA A2, 15356, 60.00, 535.216.01, 00000000:00:04.0, 8.6" } }),
      ['gpu layer: expected 1 × NVIDIA L4 (l4), found 1 × NVIDIA A2 (not in the catalog); add "NVIDIA A2" to the catalog (core/catalog/data/gpus.json) and declare it, or use a host with l4'],
    ],
    [
      "reports a driver that is not loaded, in nvidia-smi's words",
      h100,
      verifyOutput({ "nvidia-query": { rc: 9, text: fixture("nvidia-smi-driver-not-loaded.txt") } }),
      [
        'gpu layer: the NVIDIA driver does not answer: expected 8 × NVIDIA H100 SXM 80GB (h100-sxm-80gb); nvidia-smi CSV: the NVIDIA driver is not loaded (nvidia-smi printed "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver"); install the driver or load its kernel module (`lsmod | grep nvidia`, reboot after a kernel update), then probe again',
      ],
    ],
    [
      "reports no driver, and a pending reboot",
      h100,
      verifyOutput({ "reboot-required": { rc: 0 } }),
      [
        "gpu layer: nvidia-smi is not installed: expected 8 × NVIDIA H100 SXM 80GB (h100-sxm-80gb), found no NVIDIA driver; a reboot is pending (/var/lib/gpu-hosting/reboot-required): the new kernel module loads at boot, so verify after it; run the gpu layer (20-gpu.sh) again or install the driver (nvidia-open from Turing on, cuda-drivers for Pascal and Volta)",
      ],
    ],
    ["reports no GPU at all", h100, verifyOutput({ "nvidia-query": { rc: 6, text: "No devices were found" } }), ["gpu layer: expected 8 × NVIDIA H100 SXM 80GB (h100-sxm-80gb), nvidia-smi found no GPUs; check that they are seated and visible (lspci | grep -i nvidia) and supported by the installed driver"]],
    [
      "reports a missing container toolkit and Docker without the nvidia runtime",
      h100,
      verifyOutput({ "nvidia-query": { rc: 0, text: H100X8 }, "nvidia-ctk": { rc: null }, "docker-runtimes": { rc: 0, text: '{"io.containerd.runc.v2":{"path":"runc"},"runc":{"path":"runc"}}' } }),
      [
        "gpu layer: the NVIDIA Container Toolkit is not installed (no nvidia-ctk), so containers cannot reach the GPUs; run the gpu layer again, or install nvidia-container-toolkit, run nvidia-ctk runtime configure --runtime=docker and restart docker",
        'gpu layer: Docker has no "nvidia" runtime (runtimes: io.containerd.runc.v2, runc); run nvidia-ctk runtime configure --runtime=docker and systemctl restart docker',
      ],
    ],
    [
      "reports a Docker daemon that does not answer",
      h100,
      verifyOutput({ "nvidia-query": { rc: 0, text: H100X8 }, "docker-runtimes": { rc: 1, text: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" } }),
      ['gpu layer: Docker does not answer (docker info exited 1: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"); start it with systemctl enable --now docker'],
    ],
    ["accepts an MI300X (virtual function) with /dev/kfd", { vendor: "amd", gpuCount: 1, gpuName: "AMD Instinct MI300X" }, verifyOutput({ rocm: { rc: 0, text: fixture("rocm-smi-mi300x-vf.json") }, kfd: { rc: 0 } }), []],
    [
      "reports an MI300X host without /dev/kfd",
      { vendor: "amd", gpuCount: 1, gpuName: "AMD Instinct MI300X" },
      verifyOutput({ rocm: { rc: 0, text: fixture("rocm-smi-mi300x-vf.json") } }),
      ["gpu layer: /dev/kfd is missing, so containers cannot use the GPUs: the amdgpu kernel driver is not loaded; check dmesg | grep -i amdgpu, or run the gpu layer again"],
    ],
    ["accepts a CPU host with nothing GPU-related", { vendor: "none", gpuCount: 0, gpuName: null }, CPU_ONLY, []],
    ["accepts a CPU host whose nvidia-smi finds no devices", { vendor: "none", gpuCount: 0, gpuName: null }, verifyOutput({ "nvidia-query": { rc: 6, text: "No devices were found" } }), []],
    [
      "reports a GPU on a host declared CPU-only",
      { vendor: "none", gpuCount: 0, gpuName: null },
      verifyOutput({ "nvidia-query": { rc: 0, text: L4 } }),
      ["gpu layer: expected no GPUs (gpu: null), found 1 × NVIDIA L4 (l4); declare them (gpu: l4, gpuCount: 1) so the sizing, power and cost checks count them"],
    ],
    ["reports a CPU host without Docker", { vendor: "none", gpuCount: 0, gpuName: null }, verifyOutput({ "docker-runtimes": { rc: null } }), ["gpu layer: Docker is not installed (no docker command); run the gpu layer (20-gpu.sh) again or apt-get install docker.io"]],
    [
      "fails closed on output that is not the verification's",
      h100,
      "sudo: a password is required\n",
      ['gpu layer: the verification output has no complete "nvidia-query" section (expected "@@gpu-hosting-verify begin nvidia-query" … "end nvidia-query rc=N"); was it cut short, or not the output of GPU_VERIFY_COMMAND?'],
    ],
  ])("%s", (_name, declared, stdout, problems) => {
    expect(verifyGpu(declared, stdout)).toEqual(problems);
  });

  itShellcheck("its command passes shellcheck as POSIX sh, script and wrapper", () => {
    for (const text of [GPU_VERIFY_SCRIPT, `${GPU_VERIFY_COMMAND}\n`]) {
      const r = spawnSync("shellcheck", ["--shell=sh", "--severity=style", "-"], { input: text, encoding: "utf8" });
      expect(r.stdout).toBe("");
      expect(r.status).toBe(0);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// verifyPowerLimits, and the script's awk printing the same
// ---------------------------------------------------------------------------------------------

const H100_LIMITS = H100X8.trim()
  .split("\n")
  .map((l) => `${l.split(",")[3]!.trim()}\n`)
  .join("");
const amdLimits = (watts: string[]): string =>
  `============================ ROCm System Management Interface ============================\n${watts.map((w, i) => `GPU[${i}]\t\t: Max Graphics Package Power (W): ${w}`).join("\n")}\n================================== End of ROCm SMI Log ===================================\n`;
const NVIDIA_FIX = "nvidia-smi -q -d POWER shows the range the board accepts; journalctl -u gpu-hosting-power.service shows what nvidia-smi -pl said";

const POWER_CASES: [string, number, string, number | undefined, string[]][] = [
  ["accepts 8 H100s at the cap", 700, H100_LIMITS, 8, []],
  ["accepts a limit within 1 W", 250, "250.00\n249.50\n", 2, []],
  [
    "reports every GPU over the cap with its value",
    250,
    H100_LIMITS,
    8,
    [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `power layer: GPU ${i} power limit is 700.00 W, expected 250 W (±1 W); the cap did not take: ${NVIDIA_FIX}`),
  ],
  ["reports a limit 1.01 W off", 250, "250.00\n251.01\n", 2, [`power layer: GPU 1 power limit is 251.01 W, expected 250 W (±1 W); the cap did not take: ${NVIDIA_FIX}`]],
  ["reports a GPU without a settable limit", 70, "[N/A]\n", 1, ['power layer: GPU 0 reports no settable power limit ("[N/A]"); it cannot be capped: remove gpuPowerCapWatts for this host']],
  ["reports no output", 250, "", 2, ["power layer: no GPU reported a power limit (expected 2); is the driver loaded? (nvidia-smi --query-gpu=power.limit --format=csv,noheader,nounits)"]],
  ["reports fewer GPUs than declared", 250, "250.00\n", 2, ["power layer: 1 GPU(s) reported a power limit, expected 2; check that the driver sees every GPU (nvidia-smi --query-gpu=power.limit --format=csv,noheader,nounits)"]],
  ["accepts MI300X caps from rocm-smi", 500, amdLimits(["500.0", "500.0"]), 2, []],
  [
    "reports an MI300X that kept 750 W",
    500,
    amdLimits(["500.0", "750.0"]),
    2,
    ["power layer: GPU 1 power limit is 750.0 W, expected 500 W (±1 W); the cap did not take: rocm-smi refuses caps outside the board's range, and some Instinct boards cannot be capped below their default; journalctl -u gpu-hosting-power.service shows what it said"],
  ],
  ["reports an AMD board without a cap", 500, "GPU[0]\t\t: Max Graphics Package Power Unsupported\n", 1, ['power layer: GPU 0 reports no settable power limit ("Unsupported"); it cannot be capped: remove gpuPowerCapWatts for this host']],
];

describe("verifyPowerLimits", () => {
  it.each(POWER_CASES)("%s", (_name, cap, stdout, count, problems) => {
    expect(verifyPowerLimits(cap, stdout, count)).toEqual(problems);
  });

  it("without a GPU count checks only the values", () => {
    expect(verifyPowerLimits(250, "250.00\n")).toEqual([]);
    expect(verifyPowerLimits(250, "")).toEqual(["power layer: no GPU reported a power limit; is the driver loaded? (nvidia-smi --query-gpu=power.limit --format=csv,noheader,nounits)"]);
  });

  it.each(POWER_CASES)("the script's awk (this machine's awk) prints the same: %s", (_name, cap, stdout, count, problems) => {
    const mode = /Max Graphics Package Power/.test(stdout) ? "amd" : "nvidia";
    const r = spawnSync("awk", ["-v", `cap=${cap}`, "-v", `want=${count ?? ""}`, "-v", `mode=${mode}`, POWER_READBACK_AWK], { input: stdout, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n").filter((l) => l !== "")).toEqual(problems);
    expect(r.status).toBe(problems.length > 0 ? 1 : 0);
  });
});
