/**
 * The rendered base, gpu and power scripts run for real: sent over SSH (ssh2) to a real OpenSSH
 * sshd on 127.0.0.1 (test/helpers/sshd.ts) and run by bash there, with GPU_HOSTING_ROOT pointing at
 * a temp dir and stand-ins (test/fixtures/layers/*) for systemctl, nvidia-smi, docker, apt-get, ….
 *
 * Nothing is installed on this machine and nothing is written outside the temp dir: each run gets
 * `env -i` and a PATH of only two temp directories, the chosen stand-ins and symlinks to a short
 * list of file tools (cat, sed, mktemp, …). A command that is neither is "not found" there, so a
 * script can never reach this machine's real apt-get, useradd, netplan or sshd ("the sandbox PATH
 * finds no real system tool" proves it); TMPDIR is in the temp dir too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "js-yaml";
import { Client } from "ssh2";
import { SSHD_HARDENING_CONFIG } from "../core/cloudinit";
import { renderBaseLayer, renderBootstrapLayer, VSWITCH_NETPLAN } from "../core/layers/base";
import { GPU_VERIFY_COMMAND, renderGpuLayer, verifyGpu } from "../core/layers/gpu";
import { POWER_UNIT_PATH, renderPowerLayer, verifyPowerLimits } from "../core/layers/power";
import { shq } from "../core/layers/script";
import type { LayerScript } from "../core/layers/types";
import { describeWithSshd, startSshd, type Sshd } from "./helpers/sshd";

const STAND_INS = path.join(__dirname, "fixtures", "layers");
const PROBE = path.join(__dirname, "fixtures", "probe");

/** File tools a script may use on this machine: they only touch the paths they are given. */
const FILE_TOOLS = [
  "awk", "base64", "basename", "cat", "chmod", "cmp", "comm", "cp", "cut", "dirname", "grep", "head", "id", "install", "mkdir",
  "mktemp", "mv", "readlink", "rm", "sed", "seq", "sh", "sleep", "sort", "tail", "touch", "tr", "uname", "wc",
];
const which = (tool: string): string => {
  for (const dir of ["/usr/bin", "/bin"]) if (fs.existsSync(path.join(dir, tool))) return path.join(dir, tool);
  throw new Error(`${tool} not found in /usr/bin or /bin`);
};

// fuser (Debian psmisc) holds up the dpkg-lock test: CI must have it; elsewhere that test is skipped, saying why.
const HAVE_FUSER = ["/usr/bin/fuser", "/bin/fuser"].some((f) => fs.existsSync(f));
if (!HAVE_FUSER && process.env.CI !== "true") console.warn("SKIPPED the dpkg-lock test: fuser is not installed (apt-get install -y psmisc); set CI=true to make this a failure");
const itFuser = HAVE_FUSER || process.env.CI === "true" ? it : it.skip;

const L4_UBUNTU_2404 = 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n';

/** A throwaway host: root (GPU_HOSTING_ROOT), state of the stand-ins, PATH directories, TMPDIR. */
interface Sandbox {
  dir: string;
  root: string;
  state: string;
  bin: string;
  env: Record<string, string>;
  /** A stand-in's log (its argument lines), or [] when it never ran. */
  log: (tool: string) => string[];
  /** A file under the host root, or null when absent. */
  file: (hostPath: string) => string | null;
}

const sandboxes: string[] = [];
function sandbox(tools: string[], state: Record<string, string> = {}, rootFiles: Record<string, string> = {}): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-layers-"));
  sandboxes.push(dir);
  const [root, stateDir, bin, files, tmp] = ["root", "state", "bin", "files", "tmp"].map((d) => path.join(dir, d)) as [string, string, string, string, string];
  for (const d of [root, stateDir, bin, files, tmp]) fs.mkdirSync(d);
  for (const t of tools) {
    fs.copyFileSync(path.join(STAND_INS, t), path.join(bin, t));
    fs.chmodSync(path.join(bin, t), 0o755);
  }
  for (const t of FILE_TOOLS) fs.symlinkSync(which(t), path.join(files, t));
  for (const [name, content] of Object.entries(state)) fs.writeFileSync(path.join(stateDir, name), content);
  for (const [p, content] of Object.entries(rootFiles)) {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), content);
  }
  return {
    dir,
    root,
    state: stateDir,
    bin,
    env: { PATH: `${bin}:${files}`, GPU_HOSTING_ROOT: root, GH_FAKE_STATE: stateDir, GH_FAKE_POOL: STAND_INS, GH_FAKE_BIN: bin, TMPDIR: tmp, HOME: dir, LC_ALL: "C" },
    log: (tool) => {
      const f = path.join(stateDir, `${tool}.log`);
      return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter((l) => l !== "") : [];
    },
    file: (hostPath) => {
      const f = path.join(root, hostPath);
      return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : null;
    },
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describeWithSshd("layer scripts run over SSH on 127.0.0.1, against stand-in tools", () => {
  let sshd: Sshd;
  let conn: Client;

  beforeAll(async () => {
    sshd = await startSshd();
    conn = new Client();
    await new Promise<void>((resolve, reject) => {
      conn.once("ready", () => resolve());
      conn.once("error", reject);
      conn.connect({ host: "127.0.0.1", port: sshd.port, username: sshd.user, privateKey: sshd.clientPrivateKey, readyTimeout: 20000 });
    });
  }, 30000);

  afterAll(async () => {
    conn?.end();
    await sshd?.stop();
    for (const d of sandboxes) fs.rmSync(d, { recursive: true, force: true });
  });

  /** Runs `program` over SSH in the sandbox's environment only (env -i), with `stdin`. */
  const exec = (sb: Sandbox, program: string, stdin: string, extraEnv: Record<string, string> = {}): Promise<Run> => {
    const env = { ...sb.env, ...extraEnv };
    for (const p of [sb.root, env.TMPDIR ?? "", env.GH_FAKE_STATE ?? ""]) expect(p.startsWith(os.tmpdir())).toBe(true);
    const command = `cd ${shq(sb.dir)} && /usr/bin/env -i ${Object.entries(env).map(([k, v]) => `${k}=${shq(v)}`).join(" ")} ${program}`;
    return new Promise((resolve, reject) => {
      conn.exec(command, (err, stream) => {
        if (err) return reject(err);
        let stdout = "";
        let stderr = "";
        stream.on("data", (b: Buffer) => (stdout += b.toString()));
        stream.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
        stream.on("close", (code: number | null) => resolve({ code, stdout, stderr }));
        stream.end(stdin);
      });
    });
  };
  const runLayer = (sb: Sandbox, layer: LayerScript, extraEnv: Record<string, string> = {}): Promise<Run> => exec(sb, "/bin/bash -s", layer.script, extraEnv);
  const runVerify = (sb: Sandbox): Promise<Run> => exec(sb, `/bin/sh -c ${shq(GPU_VERIFY_COMMAND)}`, "");
  const lastLine = (r: Run): string => r.stderr.trim().split("\n").pop() ?? "";

  it("the sandbox PATH finds no real system tool, only stand-ins and file tools", async () => {
    const sb = sandbox(["systemctl"]);
    const r = await exec(sb, "/bin/bash -c 'for t in systemctl apt-get dpkg useradd visudo sshd netplan ip modprobe reboot docker nvidia-smi curl; do printf \"%s=%s\\n\" \"$t\" \"$(command -v \"$t\" || echo none)\"; done'", "");
    expect(r.stdout.trim().split("\n")).toEqual([
      `systemctl=${sb.bin}/systemctl`,
      ...["apt-get", "dpkg", "useradd", "visudo", "sshd", "netplan", "ip", "modprobe", "reboot", "docker", "nvidia-smi", "curl"].map((t) => `${t}=none`),
    ]);
  });

  describe("gpu layer", () => {
    it("on a CPU-only host: runs, changes nothing, and the real verification over SSH finds no GPU and no problem", async () => {
      const sb = sandbox(["systemctl", "docker", "apt-get", "dpkg-query", "apt-mark"], { "active-units": "docker.service\n" });
      const r = await runLayer(sb, renderGpuLayer({ vendor: "none", gpu: null, gpuCount: 0, driverPreinstalled: false, runtime: "docker" }));
      expect([r.code, r.stdout, lastLine(r)]).toEqual([0, "", "gpu-hosting: gpu: unchanged"]);
      expect(sb.log("apt-get")).toEqual([]);

      const v = await runVerify(sb);
      expect(v.code).toBe(0);
      // nvidia-smi, rocm-smi and nvidia-ctk are absent for real: this machine has none.
      expect(v.stdout).toContain("@@gpu-hosting-verify end nvidia-query absent\n");
      expect(v.stdout).toContain("@@gpu-hosting-verify end rocm absent\n");
      expect(verifyGpu({ vendor: "none", gpuCount: 0, gpuName: null }, v.stdout)).toEqual([]);
      // Declared with a GPU, the same output is a problem.
      expect(verifyGpu({ vendor: "nvidia", gpuCount: 1, gpuName: "NVIDIA L4" }, v.stdout)[0]).toMatch(/^gpu layer: nvidia-smi is not installed: expected 1 × NVIDIA L4 \(l4\), found no NVIDIA driver;/);
    });

    it("on a CPU host without Docker: installs docker.io from the distribution, waiting for the dpkg lock through apt", async () => {
      const sb = sandbox(["systemctl", "apt-get", "dpkg-query", "apt-mark"]);
      const r = await runLayer(sb, renderGpuLayer({ vendor: "none", gpu: null, gpuCount: 0, driverPreinstalled: false, runtime: "docker" }));
      expect([r.code, lastLine(r)]).toEqual([0, "gpu-hosting: gpu: changed"]);
      expect(sb.log("apt-get")).toEqual(["-o DPkg::Lock::Timeout=900 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q update", "-o DPkg::Lock::Timeout=900 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q install docker.io"]);
      expect(sb.log("systemctl")).toEqual(["is-active --quiet docker.service", "enable --now docker.service"]);
      expect(fs.existsSync(path.join(sb.bin, "docker"))).toBe(true);
    });

    itFuser("gives up after the bounded wait when another process holds the dpkg lock", async () => {
      const sb = sandbox(["systemctl", "apt-get", "dpkg-query", "apt-mark"], {}, { "var/lib/dpkg/lock-frontend": "" });
      fs.symlinkSync(which("fuser"), path.join(sb.dir, "files", "fuser"));
      const lock = path.join(sb.root, "var/lib/dpkg/lock-frontend");
      const holder: ChildProcess = spawn("/bin/sh", ["-c", `exec 3<>${shq(lock)}; exec sleep 60`], { stdio: "ignore" });
      try {
        await new Promise((r) => setTimeout(r, 300));
        const r = await runLayer(sb, renderGpuLayer({ vendor: "none", gpu: null, gpuCount: 0, driverPreinstalled: false, runtime: "docker" }), { GH_APT_LOCK_TIMEOUT: "1" });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("gpu-hosting: gpu: waiting for the dpkg lock (another apt or dpkg run, e.g. first-boot upgrades)\n");
        expect(r.stderr).toContain("gpu-hosting: gpu: FAILED: the dpkg lock is still held after 1s (first-boot upgrades?); see who holds it with: fuser -v /var/lib/dpkg/lock-frontend\n");
        expect(sb.log("apt-get")).toEqual([]);
      } finally {
        holder.kill();
      }
    }, 30000);

    it("verification names the missing GPU: 2 × L4 declared, nvidia-smi shows 1", async () => {
      const sb = sandbox(
        ["systemctl", "docker", "nvidia-smi", "nvidia-ctk", "apt-get", "dpkg-query", "apt-mark"],
        { "active-units": "docker.service\n", "nvidia-smi.csv": fs.readFileSync(path.join(PROBE, "nvidia-smi-query-l4-units.csv"), "utf8") },
        { "etc/docker/daemon.json": '{"runtimes":{"nvidia":{"path":"nvidia-container-runtime"}}}\n' },
      );
      const layer = renderGpuLayer({ vendor: "nvidia", gpu: { name: "NVIDIA L4", architecture: "ada-lovelace", computeCapability: "8.9" }, gpuCount: 2, driverPreinstalled: false, runtime: "docker" });
      const r = await runLayer(sb, layer);
      expect([r.code, r.stdout, lastLine(r)]).toEqual([0, "", "gpu-hosting: gpu: unchanged"]);
      expect(r.stderr).toContain("gpu-hosting: gpu: NVIDIA driver present (535.216.01); not installing one\n");

      const v = await runVerify(sb);
      expect(verifyGpu({ vendor: "nvidia", gpuCount: 2, gpuName: "NVIDIA L4" }, v.stdout)).toEqual([
        "gpu layer: expected 2 × NVIDIA L4 (l4), found 1 × NVIDIA L4 (l4); a GPU is missing or not visible to the driver: check nvidia-smi -L and lspci | grep -i nvidia on the host (a GPU that fell off the bus needs a reboot or a hardware ticket), or declare gpuCount: 1",
      ]);
      expect(verifyGpu({ vendor: "nvidia", gpuCount: 1, gpuName: "NVIDIA L4" }, v.stdout)).toEqual([]);
    });

    it("installs the driver and toolkit on a bare Ubuntu 24.04 host, asks for one reboot, and is done after it", async () => {
      const sb = sandbox(["systemctl", "docker", "apt-get", "dpkg-query", "dpkg", "apt-mark", "curl", "gpg"], { "active-units": "docker.service\n" }, { "etc/os-release": L4_UBUNTU_2404 });
      const layer = renderGpuLayer({ vendor: "nvidia", gpu: { name: "NVIDIA L4", architecture: "ada-lovelace", computeCapability: "8.9" }, gpuCount: 1, driverPreinstalled: false, runtime: "docker" });

      const first = await runLayer(sb, layer);
      expect([first.code, first.stdout, lastLine(first)]).toEqual([0, "gpu-hosting: gpu: reboot required\n", "gpu-hosting: gpu: changed"]);
      const uname = (await exec(sb, "/bin/sh -c 'uname -r'", "")).stdout.trim();
      expect(sb.log("apt-get").map((l) => l.replace("-o DPkg::Lock::Timeout=900 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q ", "")).map((l) => l.replace(/\/tmp\.\w+\//, "/TMP/"))).toEqual([
        `install ${sb.env.TMPDIR}/TMP/cuda-keyring_1.1-1_all.deb`,
        "update",
        `install linux-headers-${uname}`,
        "install nvidia-open",
        "update",
        "install nvidia-container-toolkit",
      ]);
      expect(sb.log("curl")[0]).toMatch(/ https:\/\/developer\.download\.nvidia\.com\/compute\/cuda\/repos\/ubuntu2404\/x86_64\/cuda-keyring_1\.1-1_all\.deb$/);
      expect(sb.file("etc/apt/sources.list.d/nvidia-container-toolkit.list")).toBe(
        "deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /\n",
      );
      expect(sb.file("usr/share/keyrings/nvidia-container-toolkit-keyring.gpg")).toBe("placeholder for https://nvidia.github.io/libnvidia-container/gpgkey\n");
      expect(sb.file("var/lib/gpu-hosting/reboot-required")).toBe("the NVIDIA driver (nvidia-open) was installed; its kernel module loads at the next boot\n");
      expect(sb.log("nvidia-ctk")).toEqual([`runtime configure --runtime=docker --config=${sb.root}/etc/docker/daemon.json`]);
      expect(sb.log("systemctl")).toContain("restart docker.service");
      // The driver is held; the container toolkit (no kernel module) is not.
      expect(fs.readFileSync(path.join(sb.state, "held"), "utf8")).toBe("nvidia-open\n");
      // No temp file is left behind.
      expect(fs.readdirSync(sb.env.TMPDIR!)).toEqual([]);

      // Run again before the reboot: nothing is installed twice, the reboot is still asked for.
      const again = await runLayer(sb, layer);
      expect([again.code, again.stdout, lastLine(again)]).toEqual([0, "gpu-hosting: gpu: reboot required\n", "gpu-hosting: gpu: unchanged"]);
      expect(sb.log("apt-get")).toHaveLength(6);

      // After the reboot the module is loaded: the marker goes, nothing else happens.
      fs.copyFileSync(path.join(PROBE, "nvidia-smi-query-l4-units.csv"), path.join(sb.state, "nvidia-smi.csv"));
      const after = await runLayer(sb, layer);
      expect([after.code, after.stdout, lastLine(after)]).toEqual([0, "", "gpu-hosting: gpu: unchanged"]);
      expect(sb.file("var/lib/gpu-hosting/reboot-required")).toBeNull();
      expect(verifyGpu({ vendor: "nvidia", gpuCount: 1, gpuName: "NVIDIA L4" }, (await runVerify(sb)).stdout)).toEqual([]);
    });
  });

  describe("power layer", () => {
    const H100X8 = fs.readFileSync(path.join(PROBE, "nvidia-smi-query-8xh100.csv"), "utf8");
    const layer = renderPowerLayer({ vendor: "nvidia", gpuCount: 8, capWatts: 250 })!;

    it("applies persistence mode and one -pl 250 for all 8 GPUs through the unit, reads them back, and a second run changes nothing", async () => {
      const sb = sandbox(["systemctl", "nvidia-smi", "journalctl"], { "nvidia-smi.csv": H100X8 });
      const r = await runLayer(sb, layer);
      expect([r.code, lastLine(r)]).toEqual([0, "gpu-hosting: power: changed"]);
      expect(r.stderr).toContain("gpu-hosting: power: read back: power limit 250 W on each of the 8 GPU(s)\n");
      expect(sb.file(POWER_UNIT_PATH)).toBe(layer.files[0]?.content);
      expect(fs.statSync(path.join(sb.root, POWER_UNIT_PATH)).mode & 0o777).toBe(0o644);
      expect(sb.log("systemctl")).toEqual(["daemon-reload", "is-enabled --quiet gpu-hosting-power.service", "enable gpu-hosting-power.service", "restart gpu-hosting-power.service"]);
      // The unit's ExecStart lines ran once each: -pl without -i sets every GPU.
      expect(sb.log("nvidia-smi").filter((l) => /^-p[lm] /.test(l))).toEqual(["-pm 1", "-pl 250"]);
      expect(fs.readFileSync(path.join(sb.state, "power-limits"), "utf8")).toBe("250.00\n".repeat(8));

      const again = await runLayer(sb, layer);
      expect([again.code, lastLine(again)]).toEqual([0, "gpu-hosting: power: unchanged"]);
      expect(sb.log("systemctl").slice(4)).toEqual(["is-enabled --quiet gpu-hosting-power.service", "is-active --quiet gpu-hosting-power.service"]);
      expect(sb.log("nvidia-smi").filter((l) => /^-p[lm] /.test(l))).toEqual(["-pm 1", "-pl 250"]);
    });

    it("fails with each GPU's read-back value when the limit does not take", async () => {
      const sb = sandbox(["systemctl", "nvidia-smi", "journalctl"], { "nvidia-smi.csv": H100X8, "nvidia-smi-ignore-pl": "" });
      const r = await runLayer(sb, layer);
      expect(r.code).toBe(1);
      const expected = verifyPowerLimits(250, "700.00\n".repeat(8), 8);
      expect(expected).toHaveLength(8);
      expect(expected[0]).toBe(
        "power layer: GPU 0 power limit is 700.00 W, expected 250 W (±1 W); the cap did not take: nvidia-smi -q -d POWER shows the range the board accepts; journalctl -u gpu-hosting-power.service shows what nvidia-smi -pl said",
      );
      expect(r.stderr).toContain(`gpu-hosting: power: FAILED: ${expected.join("\n")}\n--- last lines of journalctl -u gpu-hosting-power.service ---\n`);
      expect(sb.log("journalctl")).toEqual(["-u gpu-hosting-power.service -n 40 --no-pager"]);
    });

    it("AMD: caps through rocm-smi --setpoweroverdrive and reads it back; a board that keeps 750 W fails with the value", async () => {
      const amd = renderPowerLayer({ vendor: "amd", gpuCount: 1, capWatts: 500 })!;
      const json = fs.readFileSync(path.join(PROBE, "rocm-smi-mi300x-vf.json"), "utf8");
      const sb = sandbox(["systemctl", "rocm-smi", "journalctl"], { "rocm-smi.json": json });
      const r = await runLayer(sb, amd);
      expect([r.code, lastLine(r)]).toEqual([0, "gpu-hosting: power: changed"]);
      expect(sb.log("rocm-smi")).toEqual(["--setpoweroverdrive 500", "--showmaxpower"]);

      const kept = sandbox(["systemctl", "rocm-smi", "journalctl"], { "rocm-smi.json": json, "rocm-smi-ignore-cap": "" });
      const k = await runLayer(kept, amd);
      expect(k.code).toBe(1);
      expect(k.stderr).toContain(`gpu-hosting: power: FAILED: ${verifyPowerLimits(500, "GPU[0]\t\t: Max Graphics Package Power (W): 750.0\n", 1)[0]}\n`);
    });

    it("fails with the unit's journal when the unit fails, and waits for the reboot the gpu layer asked for", async () => {
      const failing = sandbox(["systemctl", "nvidia-smi", "journalctl"], { "nvidia-smi.csv": H100X8, "failing-units": "gpu-hosting-power.service\n" });
      const r = await runLayer(failing, layer);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("gpu-hosting: power: FAILED: gpu-hosting-power.service failed\n--- last lines of journalctl -u gpu-hosting-power.service ---\n");

      const pending = sandbox(["systemctl", "nvidia-smi", "journalctl"], { "nvidia-smi.csv": H100X8 }, { "var/lib/gpu-hosting/reboot-required": "driver\n" });
      const p = await runLayer(pending, layer);
      expect([p.code, lastLine(p)]).toEqual([0, "gpu-hosting: power: changed"]);
      expect(pending.log("systemctl")).toEqual(["daemon-reload", "is-enabled --quiet gpu-hosting-power.service", "enable gpu-hosting-power.service"]);
      expect(pending.log("nvidia-smi")).toEqual([]);
    });
  });

  describe("base layer and bootstrap", () => {
    const vswitch = { vlan: 4000, address: "10.100.1.2/24", gateway: "10.100.1.1", routes: ["10.100.0.0/16"] };
    const layer = renderBaseLayer({ hardenSsh: true, privateNetwork: vswitch, gpuVendor: "nvidia" });
    const tools = ["systemctl", "sshd", "ip", "netplan", "apt-get", "dpkg-query", "apt-mark", "journalctl"];
    const state = {
      "dpkg-installed": "unattended-upgrades\nnvidia-driver-580-server-open\nlibnvidia-compute-580-server\nnvidia-container-toolkit\nlibnvidia-container1\n",
      "enabled-units": "unattended-upgrades.service\napt-daily.timer\napt-daily-upgrade.timer\n",
    };

    it("hardens sshd, holds the driver, brings the vSwitch VLAN up on the default route's interface; a second run changes nothing", async () => {
      const sb = sandbox(tools, state);
      const r = await runLayer(sb, layer);
      expect([r.code, lastLine(r)]).toEqual([0, "gpu-hosting: base: changed"]);
      expect(sb.file("etc/ssh/sshd_config.d/01-gpu-hosting-hardening.conf")).toBe(SSHD_HARDENING_CONFIG);
      expect(sb.log("sshd")).toEqual(["-t", "-T"]);
      expect(sb.log("systemctl")).toContain("try-reload-or-restart ssh.service");
      expect(fs.readFileSync(path.join(sb.state, "held"), "utf8").split("\n").filter(Boolean)).toEqual(["libnvidia-compute-580-server", "nvidia-driver-580-server-open"]);
      const netplan = sb.file(VSWITCH_NETPLAN)!;
      expect(fs.statSync(path.join(sb.root, VSWITCH_NETPLAN)).mode & 0o777).toBe(0o600);
      expect((load(netplan) as { network: { vlans: Record<string, { link: string }> } }).network.vlans.vlan4000?.link).toBe("enp0s31f6");
      expect(sb.log("netplan")).toEqual(["generate", "apply"]);
      expect(sb.log("apt-get")).toEqual([]);

      const again = await runLayer(sb, layer);
      expect([again.code, lastLine(again)]).toEqual([0, "gpu-hosting: base: unchanged"]);
      expect(sb.log("netplan")).toEqual(["generate", "apply"]);
      expect(sb.log("systemctl").filter((l) => /reload|restart/.test(l))).toEqual(["try-reload-or-restart ssh.service"]);
    });

    it("removes a netplan file that netplan rejects, so the network stays as it was and a re-run tries again", async () => {
      const sb = sandbox(tools, { ...state, "netplan-invalid": "" });
      const r = await runLayer(sb, layer);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        "gpu-hosting: base: FAILED: netplan generate rejects /etc/netplan/60-gpu-hosting-vswitch.yaml (removed it again; the network is unchanged): Error in network definition: interface 'enp0s31f6' is not defined\n",
      );
      expect(sb.file(VSWITCH_NETPLAN)).toBeNull();
      expect(sb.log("netplan")).toEqual(["generate"]);
    });

    it("bootstrap: creates the admin user with root's keys (options dropped), checked sudo, then sshd; a second run changes nothing", async () => {
      const cloudKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc5Ylq2lVz0m3m8aJ9Xw5V1tq8m3VxQKf6q7bYpZ0nA ops@laptop";
      const rootKeys = `no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo 'Please login as the user \\"ubuntu\\" rather than the user \\"root\\".';echo;sleep 10;exit 142" ${cloudKey}\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 backup key\n`;
      const sb = sandbox(["getent", "useradd", "chown", "visudo", "sshd", "systemctl", "journalctl"], {}, { "root/.ssh/authorized_keys": rootKeys });
      const boot = renderBootstrapLayer({ adminUser: "llm" });
      const r = await runLayer(sb, boot);
      expect([r.code, lastLine(r)]).toEqual([0, "gpu-hosting: base: changed"]);
      expect(sb.log("useradd")).toEqual(["--create-home --shell /bin/bash --comment gpu-hosting admin llm"]);
      expect(sb.file("home/llm/.ssh/authorized_keys")).toBe(`${cloudKey}\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 backup key\n`);
      expect(fs.statSync(path.join(sb.root, "home/llm/.ssh")).mode & 0o777).toBe(0o700);
      expect(fs.statSync(path.join(sb.root, "home/llm/.ssh/authorized_keys")).mode & 0o777).toBe(0o600);
      expect(sb.log("chown")).toEqual([`-R llm: ${sb.root}/home/llm/.ssh`]);
      expect(sb.file("etc/sudoers.d/90-gpu-hosting-admin")).toBe("llm ALL=(ALL) NOPASSWD:ALL\n");
      expect(fs.statSync(path.join(sb.root, "etc/sudoers.d/90-gpu-hosting-admin")).mode & 0o777).toBe(0o440);
      expect(sb.log("visudo")).toEqual([`-cf ${sb.root}/etc/sudoers.d/90-gpu-hosting-admin`]);
      expect(sb.log("systemctl")).toEqual(["try-reload-or-restart ssh.service"]);

      const again = await runLayer(sb, boot);
      expect([again.code, lastLine(again)]).toEqual([0, "gpu-hosting: base: unchanged"]);
      expect(sb.log("useradd")).toHaveLength(1);
      expect(sb.log("visudo")).toHaveLength(1);
      expect(sb.log("systemctl")).toHaveLength(1);
    });

    it("bootstrap refuses to turn root login off when root has no key to hand over", async () => {
      const sb = sandbox(["getent", "useradd", "chown", "visudo", "sshd", "systemctl", "journalctl"]);
      const r = await runLayer(sb, renderBootstrapLayer({ adminUser: "llm" }));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        "gpu-hosting: base: FAILED: /root/.ssh/authorized_keys is missing or empty: there is no key to give llm, and root login is about to be turned off; log in as root with a key (Hetzner: the key chosen at order time) and run again\n",
      );
      expect(sb.file("etc/ssh/sshd_config.d/01-gpu-hosting-hardening.conf")).toBeNull();
      expect(sb.log("systemctl")).toEqual([]);
    });
  });
});
