/**
 * The dev stack on a real host: a Debian 12 image booted with systemd as PID 1 (systemd-nspawn,
 * test/host/testHost.ts), the rendered cloud-config handed over through a NoCloud seed exactly as a
 * cloud does, then SSH with the pinned host key as the admin user, root refused, and the rendered
 * base layer applied over SSH with the components' own command (`RUN_AS_ROOT`, the script on stdin).
 *
 * Run with `npm run test:host` (not part of `npm test`). Needs root, debootstrap and
 * systemd-container; without them it fails under CI=true and is skipped, saying why, elsewhere.
 * Prints what it booted and how long each phase took.
 */
import fs from "node:fs";
import path from "node:path";
import { AUTO_UPGRADES_CONFIG, SSHD_HARDENING_CONFIG, SSHD_HARDENING_DROPIN } from "../../core/cloudinit";
import { checkStackConfig, readStackYaml } from "../../core/checks/stackFile";
import { planStack, type HostPlan } from "../../core/layers/plan";
import { RUN_AS_ROOT } from "../../components/layers/hostSoftware";
import { bootTestHost, rebootAndWait, buildTestHost, clientKey, describeWithTestHost, phaseRecorder, ssh, testHostMissing, type SshResult, type TestHost, type TestHostImage } from "./testHost";

const ROOT = path.join(__dirname, "..", "..");

const { phases, phase } = phaseRecorder();

describeWithTestHost("the dev stack on a test host (systemd as PID 1, cloud-init from a NoCloud seed)", () => {
  let image: TestHostImage;
  let host: TestHost | undefined;
  let plan: HostPlan;
  const key = testHostMissing() ? undefined : clientKey();
  const as = (user: string, command: string, stdin?: string, hostKey?: string): Promise<SshResult> =>
    ssh({ host: host!.host, port: host!.port, user, privateKey: key!.privateKey, hostKey: hostKey ?? host!.hostKey, command, stdin, timeoutMs: 300_000 });
  const llm = async (command: string, stdin?: string): Promise<string> => {
    const r = await as(plan.adminUser, command, stdin);
    if (r.code !== 0) throw new Error(`${command} exited ${r.code}:\n${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    image = await phase("image", () => buildTestHost(), (i) => `${i.builtMs === null ? "reused" : "built"} ${i.rootfs} (${(i.bytes / 2 ** 20).toFixed(0)} MiB, Debian 12, ${i.packages.length} packages)`);
    // The dev stack as `gpu-hosting render` plans it, with the test's public key instead of the placeholder.
    plan = await phase("render", async () => {
      const file = path.join(ROOT, "stacks", "Pulumi.dev.yaml");
      const raw = readStackYaml(fs.readFileSync(file, "utf8"), file);
      const { config, fleet } = checkStackConfig(raw, file);
      const plans = planStack(config, fleet, { sshPublicKey: key!.publicKey });
      if (plans.length === 0 || plans[0]!.cloudConfig === null) throw new Error("the dev stack's first host has no cloud-config");
      return plans[0]!;
    }, (p) => `host ${p.host} (${p.kind}), admin user ${p.adminUser}, layers ${p.layers.map((l) => l.name).join(" ")}`);
    host = await phase(
      "boot until sshd answers",
      () => bootTestHost({ image, userData: plan.cloudConfig!, hostname: plan.host, publicKeys: [key!.publicKey] }),
      (h) => `${h.name} (overlay, seed and host keys ${(h.timings.prepareMs / 1000).toFixed(1)} s, nspawn to sshd ${(h.timings.sshReadyMs / 1000).toFixed(1)} s): systemd-nspawn, private network (lo only), SSH forwarded to ${h.host}:${h.port}, host key ${h.hostKey.slice(0, 40)}…`,
    );
  }, 30 * 60_000);

  afterAll(async () => {
    if (host) await phase("stop", () => host!.stop());
    key?.dispose();
    console.log(`[test-host] phases:\n${phases.map(([n, ms, note]) => `  ${n.padEnd(34)} ${(ms / 1000).toFixed(1).padStart(7)} s  ${note}`).join("\n")}`);
  }, 120_000);

  it("runs systemd as PID 1 and cloud-init applies the rendered cloud-config without an error", async () => {
    const status = await phase("cloud-init status --wait", () => llm("cloud-init status --wait --long || true"), (s) => /^status: .*$/m.exec(s)?.[0] ?? s);
    expect(status).toMatch(/^status: done$/m);
    const state = await phase("systemctl is-system-running --wait", () => as(plan.adminUser, "systemctl is-system-running --wait"), (r) => r.stdout.trim());
    if (state.stdout.trim() !== "running") console.log(`[test-host] failed units:\n${await llm("systemctl --failed --no-legend")}`);
    expect(state.stdout.trim()).toMatch(/^(running|degraded)$/);
    expect(await llm("systemctl --failed --no-legend --plain | grep -c cloud- || true")).toBe("0");
    expect(await llm("sudo -n readlink /proc/1/exe")).toMatch(/\/systemd$/);
    expect(await llm("ps -o comm= -p 1")).toBe("systemd");
    // What the cloud-config asked for: the admin user with sudo, the sshd drop-in, unattended upgrades installed (apt, from the image's repository) and enabled.
    expect(await llm("id -nG")).toMatch(/\bsudo\b/);
    expect(await llm("sudo -n id -u")).toBe("0");
    expect(await llm(`cat ${SSHD_HARDENING_DROPIN}`)).toBe(SSHD_HARDENING_CONFIG.trim());
    expect(await llm("cat /etc/apt/apt.conf.d/20auto-upgrades")).toBe(AUTO_UPGRADES_CONFIG.trim());
    expect(await llm("dpkg-query -W -f='${db:Status-Abbrev}' unattended-upgrades")).toMatch(/^ii/);
    expect(await llm("systemctl is-enabled unattended-upgrades.service")).toBe("enabled");
    expect(await llm("hostname")).toBe(plan.host);
    const effective = await llm("sudo -n sshd -T");
    for (const setting of ["permitrootlogin no", "passwordauthentication no", "kbdinteractiveauthentication no"]) expect(effective).toContain(setting);
  });

  it("answers SSH as the admin user only with the pinned host key", async () => {
    expect(await llm("whoami")).toBe(plan.adminUser);
    // Another key pinned (this machine's throwaway key, not the host's): the connection is refused before login.
    const other = clientKey();
    try {
      const wrong = other.publicKey.split(/\s+/).slice(0, 2).join(" ");
      await expect(as(plan.adminUser, "true", undefined, wrong)).rejects.toThrow(/host key mismatch/);
    } finally {
      other.dispose();
    }
  });

  it("refuses root login, although root's authorized_keys holds the key (PermitRootLogin no)", async () => {
    expect((await host!.inside("cat /root/.ssh/authorized_keys")).stdout).toContain(key!.publicKey.split(/\s+/)[1]);
    await expect(as("root", "id")).rejects.toThrow(/authentication methods failed/);
    const journal = await host!.inside("journalctl -u ssh.service --no-pager -o cat");
    expect(journal.stdout).toMatch(/ROOT LOGIN REFUSED/);
  });

  it("applies the dev stack's base layer over SSH with the components' command, and a second run changes nothing", async () => {
    const base = plan.layers.find((l) => l.layer === "base");
    expect(base).toBeDefined();
    const first = await phase(`${base!.name} (first run)`, () => as(plan.adminUser, RUN_AS_ROOT, base!.script), (r) => `exit ${r.code}`);
    if (first.code !== 0) console.log(first.stderr);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/gpu-hosting: base: changed\s*$/);
    expect(await llm("cat /etc/apt/apt.conf.d/51gpu-hosting-driver-blacklist")).toContain("nvidia-(?!container)");
    expect(await llm("systemctl is-enabled apt-daily.timer apt-daily-upgrade.timer unattended-upgrades.service")).toBe("enabled\nenabled\nenabled");
    const second = await phase(`${base!.name} (second run)`, () => as(plan.adminUser, RUN_AS_ROOT, base!.script), (r) => `exit ${r.code}`);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/gpu-hosting: base: unchanged\s*$/);
  });

  it("comes back after a reboot with the same host key, and cloud-init does not run again", async () => {
    await phase("reboot until SSH answers", () => rebootAndWait(host!, (c) => as(plan.adminUser, c)));
    expect(await llm("systemctl is-system-running --wait || true")).toMatch(/^(running|degraded)$/);
    expect(await llm("cloud-init status")).toBe("status: done");
    // The instance id has not changed, so cloud-init ran no per-instance module again (one boot record per instance).
    expect(await llm("ls /var/lib/cloud/instances")).toBe(`iid-${host!.name}`);
  });
});
