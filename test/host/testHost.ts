/**
 * A real test host: a Debian 12 root file system made with `debootstrap` from Debian's packages,
 * booted with `systemd-nspawn -b` (systemd as PID 1, cloud-init at first boot from a NoCloud seed),
 * in a private network namespace that has only `lo`. Nothing listens on this machine's network:
 * the host's ports are reached through a forwarder on 127.0.0.1 that, per connection, runs a tiny
 * connector inside the container's network namespace (`nsenter --net`).
 *
 * Why nspawn, not qemu: this machine has no KVM, and systemd-nspawn boots a full systemd (journald,
 * logind, dbus, sshd, cloud-init) here in ~3 s of userspace, while qemu would need TCG emulation of
 * a whole kernel. See docs/testing.md for the findings.
 *
 * - {@link buildTestHost}: debootstrap once, cached under /var/tmp/gpu-hosting-test-host-<hash of
 *   the package list and build steps> (GPU_HOSTING_TEST_HOST_CACHE overrides /var/tmp). The image
 *   carries a local apt repository (file:, `[trusted=yes]`) with every package it was built from
 *   plus {@link REPO_PACKAGES}, so `apt-get update` and `apt-get install` work on the host without
 *   any network: cloud-config `packages:` and the layers' installs are real apt runs.
 * - {@link bootTestHost}: an overlay (the cached image read-only, a fresh upper dir per boot), the
 *   NoCloud seed and fresh SSH host keys written into it before boot (so the key can be pinned), then
 *   the boot. A `reboot` inside the host is followed (nspawn exits 133; the host is started again on
 *   the same overlay). `stop()` powers it off and removes the mounts and files.
 *
 * Needs root, Linux, debootstrap, systemd-container and iproute2 (Debian: apt-get install -y
 * debootstrap systemd-container iproute2), and the Debian mirror (only while building the image).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { dump } from "js-yaml";
import { Client, type ConnectConfig } from "ssh2";

/** Debian release of the image. */
export const SUITE = "bookworm";

/**
 * Installed in the image. debootstrap does not resolve virtual packages: python3-cryptography (for
 * cloud-init) needs `python3-cffi-backend-api-*`, which only python3-cffi-backend provides, so it is
 * named. `locales` for cloud-init's locale module, `psmisc` for the layers' `fuser` on the dpkg lock.
 */
export const IMAGE_PACKAGES = [
  "systemd",
  "systemd-sysv",
  "dbus",
  "openssh-server",
  "cloud-init",
  "python3-cffi-backend",
  "sudo",
  "curl",
  "ca-certificates",
  "locales",
  "iproute2",
  "procps",
  "psmisc",
];

/** Not installed, only put in the image's local apt repository (with their dependencies): what cloud-configs and layers install. */
export const REPO_PACKAGES = ["unattended-upgrades", "caddy"];

/** Bump when the build steps below change, so a cached image built the old way is not reused. */
const BUILD_STEPS_VERSION = 2;

/** The local apt repository inside the image. */
export const LOCAL_REPO = "/var/lib/gpu-hosting-test-repo";

/** The image's own cloud-init settings (a cloud's image has such a file too). */
export const IMAGE_CLOUD_CFG = {
  // Only the NoCloud seed; no probing of metadata services that do not exist here.
  datasource_list: ["NoCloud", "None"],
  // The host keys are written before boot (and pinned by the test); cloud-init must keep them.
  ssh_deletekeys: false,
  ssh_genkeytypes: [],
  // sudo resolves the host name: cloud-init writes it to /etc/hosts (127.0.1.1).
  manage_etc_hosts: "localhost",
};

const NSPAWN = "systemd-nspawn";
const log0 = (line: string): void => console.log(`[test-host] ${line}`);

/** Tools the test host needs, with their Debian package. */
const TOOLS: Record<string, string> = {
  debootstrap: "debootstrap",
  [NSPAWN]: "systemd-container",
  nsenter: "util-linux",
  unshare: "util-linux",
  ip: "iproute2",
  mount: "mount",
  umount: "mount",
  chroot: "coreutils",
  "dpkg-deb": "dpkg",
  "ssh-keygen": "openssh-client",
};

/** Why a test host cannot be made here, or null when it can. */
export function testHostMissing(): string | null {
  if (process.platform !== "linux") return `the test host needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "the test host needs root (debootstrap, mount, systemd-nspawn); run as root, e.g. in CI's container";
  const missing = Object.entries(TOOLS)
    .filter(([tool]) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
    .map(([tool, pkg]) => `${tool} (${pkg})`);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.replace(/.*\((.*)\)/, "$1")))];
    return `not installed: ${missing.join(", ")}; Debian/Ubuntu: apt-get install -y ${pkgs.join(" ")}`;
  }
  if (!fs.readFileSync("/proc/filesystems", "utf8").includes("overlay")) return "the kernel has no overlay file system (modprobe overlay)";
  return null;
}

/** A Debian mirror: the one apt already uses here (deb.debian.org when none is found), or GPU_HOSTING_TEST_HOST_MIRROR. */
export function debianMirror(): string {
  if (process.env.GPU_HOSTING_TEST_HOST_MIRROR) return process.env.GPU_HOSTING_TEST_HOST_MIRROR;
  const files = ["/etc/apt/sources.list", ...(fs.existsSync("/etc/apt/sources.list.d") ? fs.readdirSync("/etc/apt/sources.list.d").map((f) => path.join("/etc/apt/sources.list.d", f)) : [])];
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, "utf8");
    } catch {
      continue;
    }
    // deb822 (.sources): a stanza with URIs …/debian and the release among its Suites; one-line format: deb URI bookworm main.
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri && /\/debian\/?$/.test(uri) && suites.includes(SUITE)) return uri;
    }
    const line = new RegExp(`^deb\\s+(?:\\[[^\\]]*\\]\\s+)?(\\S+/debian/?)\\s+${SUITE}\\s`, "m").exec(text);
    if (line?.[1]) return line[1];
  }
  return "http://deb.debian.org/debian";
}

/** Output of a command, or an error with its stderr's last lines. */
export async function run(cmd: string, args: string[], o: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [o.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], env: o.env ?? process.env });
    let out = "";
    let err = "";
    child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
    const timer = o.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), o.timeoutMs) : undefined;
    child.on("error", (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) return resolve(out);
      const tail = `${err}\n${out}`.trim().split("\n").slice(-25).join("\n");
      reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ? `killed by ${signal}` : `exit ${code}`}):\n${tail}`));
    });
    if (o.input !== undefined && child.stdin) {
      // A command that exits before reading its input: its exit status tells, not EPIPE.
      child.stdin.on("error", () => undefined);
      child.stdin.end(o.input);
    }
  });
}

/** Mount points at or below `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const real = fs.existsSync(dir) ? fs.realpathSync(dir) : dir;
  return fs
    .readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((m): m is string => m !== undefined && (m === real || m.startsWith(`${real}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir` (a killed debootstrap leaves proc/sys mounted), then removes it. Never removes through a mount. */
function removeTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const m of mountsUnder(dir)) {
    if (spawnSync("umount", [m]).status !== 0) spawnSync("umount", ["-l", m]);
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`cannot remove ${dir}: still mounted: ${left.join(", ")}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22): with the pid, it names one process, whatever pids are reused later. */
function procStart(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return undefined;
  }
}

/** A process recorded earlier: its pid and start time. */
interface ProcRef {
  pid: number;
  start: number | undefined;
}
const procRef = (pid: number): ProcRef => ({ pid, start: procStart(pid) });
/** True while the recorded process (not a later one with its pid) runs. */
const stillRunning = (p: ProcRef | undefined): boolean => p !== undefined && p.start !== undefined && procStart(p.pid) === p.start;

/** What a boot directory records about who runs it (owner.json): the test process, nspawn, the host's PID 1. */
interface BootOwner {
  name: string;
  test: ProcRef;
  nspawn?: ProcRef;
  leader?: ProcRef;
}

/** A built image. */
export interface TestHostImage {
  /** The cache directory. */
  dir: string;
  /** The root file system (read-only lower layer of every boot). */
  rootfs: string;
  /** Hash of what the image is made of (packages, release, build steps). */
  key: string;
  mirror: string;
  packages: string[];
  /** How long the build took, ms; null when the cached image was reused. */
  builtMs: number | null;
  /** Size of the root file system, bytes (`du`). */
  bytes: number;
}

/** The cache directory for these packages. */
export function imageDir(packages: string[] = IMAGE_PACKAGES, repoPackages: string[] = REPO_PACKAGES): { dir: string; key: string } {
  const key = createHash("sha256")
    .update(JSON.stringify({ suite: SUITE, packages: [...packages].sort(), repo: [...repoPackages].sort(), cfg: IMAGE_CLOUD_CFG, steps: BUILD_STEPS_VERSION }))
    .digest("hex")
    .slice(0, 12);
  return { dir: path.join(process.env.GPU_HOSTING_TEST_HOST_CACHE ?? "/var/tmp", `gpu-hosting-test-host-${key}`), key };
}

async function withLock<T>(lock: string, fn: () => Promise<T>, log: (l: string) => void): Promise<T> {
  for (let waited = 0; ; waited++) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch {
      const pid = Number(fs.existsSync(path.join(lock, "pid")) ? fs.readFileSync(path.join(lock, "pid"), "utf8") : NaN);
      if (Number.isFinite(pid) && !pidAlive(pid)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (waited % 30 === 0) log(`waiting for another build (lock ${lock}, pid ${pid})`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Builds the image once (debootstrap, local apt repository, image settings) or reuses the cached
 * one. About 2 minutes and 450 MB the first time; instant afterwards.
 */
export async function buildTestHost(o: { packages?: string[]; repoPackages?: string[]; log?: (l: string) => void } = {}): Promise<TestHostImage> {
  const packages = o.packages ?? IMAGE_PACKAGES;
  const repoPackages = o.repoPackages ?? REPO_PACKAGES;
  const log = o.log ?? log0;
  const { dir, key } = imageDir(packages, repoPackages);
  const rootfs = path.join(dir, "rootfs");
  const meta = path.join(dir, "image.json");
  const mirror = debianMirror();
  const du = (): number => Number(spawnSync("du", ["-sb", rootfs], { encoding: "utf8" }).stdout.split(/\s/)[0]);
  if (fs.existsSync(meta)) return { dir, rootfs, key, mirror, packages, builtMs: null, bytes: du() };
  fs.mkdirSync(dir, { recursive: true });
  return withLock(
    `${dir}.lock`,
    async () => {
      if (fs.existsSync(meta)) return { dir, rootfs, key, mirror, packages, builtMs: null, bytes: du() };
      const t0 = Date.now();
      const partial = path.join(dir, "rootfs.partial");
      removeTree(partial);
      removeTree(rootfs);
      log(`debootstrap ${SUITE} (${packages.length} packages) from ${mirror} into ${partial}`);
      await run("debootstrap", ["--variant=minbase", `--include=${packages.join(",")}`, SUITE, partial, mirror], { timeoutMs: 20 * 60_000 });
      const chroot = (args: string[], timeoutMs = 10 * 60_000): Promise<string> =>
        run("chroot", [partial, ...args], { timeoutMs, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" } });
      log(`downloading ${repoPackages.join(", ")} and their dependencies for the local apt repository`);
      await chroot(["apt-get", "install", "--download-only", "-y", "-q", ...repoPackages]);

      // The local repository: every .deb debootstrap and apt fetched, indexed with dpkg-deb (no dpkg-dev needed).
      const repo = path.join(partial, LOCAL_REPO);
      fs.mkdirSync(repo, { recursive: true });
      const archives = path.join(partial, "var/cache/apt/archives");
      for (const f of fs.readdirSync(archives).filter((f) => f.endsWith(".deb"))) fs.renameSync(path.join(archives, f), path.join(repo, f));
      await run("bash", [
        "-c",
        'set -e; cd "$1"; for f in *.deb; do dpkg-deb -f "$f"; printf "Filename: ./%s\\nSize: %s\\nSHA256: %s\\n\\n" "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d" " -f1)"; done > Packages',
        "index",
        repo,
      ]);
      fs.writeFileSync(path.join(partial, "etc/apt/sources.list"), `# gpu-hosting test host: the image's own packages, offline (test/host/testHost.ts)\ndeb [trusted=yes] file:${LOCAL_REPO} ./\n`);
      fs.rmSync(path.join(partial, "etc/apt/sources.list.d"), { recursive: true, force: true });
      fs.mkdirSync(path.join(partial, "etc/apt/sources.list.d"));
      for (const f of fs.readdirSync(path.join(partial, "var/lib/apt/lists"))) {
        if (f !== "partial" && f !== "lock") fs.rmSync(path.join(partial, "var/lib/apt/lists", f), { recursive: true, force: true });
      }
      await chroot(["apt-get", "update", "-q"]);
      const policy = await chroot(["apt-cache", "policy", ...repoPackages]);
      if (!policy.includes(LOCAL_REPO)) throw new Error(`the local repository does not offer ${repoPackages.join(", ")}:\n${policy}`);

      // What a cloud image has and this one must not keep: host keys and a machine id (made per boot).
      for (const f of fs.readdirSync(path.join(partial, "etc/ssh")).filter((f) => f.startsWith("ssh_host_"))) fs.rmSync(path.join(partial, "etc/ssh", f));
      fs.writeFileSync(path.join(partial, "etc/machine-id"), "");
      fs.rmSync(path.join(partial, "var/lib/dbus/machine-id"), { force: true });
      // en_US.UTF-8 generated, as cloud images have it: cloud-init's locale module sets LANG=en_US.UTF-8 by default,
      // and Debian's update-locale refuses a locale that is not generated (exit 255, cloud-config.service failed).
      fs.writeFileSync(path.join(partial, "etc/locale.gen"), "en_US.UTF-8 UTF-8\n");
      await chroot(["locale-gen"]);
      fs.writeFileSync(path.join(partial, "etc/resolv.conf"), "# the gpu-hosting test host has no network beyond loopback\n");
      fs.writeFileSync(path.join(partial, "etc/hostname"), "localhost\n");
      fs.writeFileSync(path.join(partial, "etc/cloud/cloud.cfg.d/90-gpu-hosting-test-host.cfg"), `# gpu-hosting test host image (test/host/testHost.ts)\n${dump(IMAGE_CLOUD_CFG)}`);
      await chroot(["apt-get", "clean"]);
      fs.renameSync(partial, rootfs);
      const builtMs = Date.now() - t0;
      const bytes = du();
      fs.writeFileSync(meta, `${JSON.stringify({ key, suite: SUITE, mirror, packages, repoPackages, builtAt: new Date().toISOString(), builtMs, bytes }, null, 2)}\n`);
      log(`image built in ${(builtMs / 1000).toFixed(1)} s, ${(bytes / 2 ** 20).toFixed(0)} MiB: ${rootfs}`);
      return { dir, rootfs, key, mirror, packages, builtMs, bytes };
    },
    log,
  );
}

/** Options of {@link bootTestHost}. */
export interface BootOptions {
  image: TestHostImage;
  /** The user-data handed over through the NoCloud seed (a `#cloud-config`), exactly as rendered. */
  userData: string;
  /** meta-data's `local-hostname`. @default "test-host" */
  hostname?: string;
  /** meta-data's `public-keys`: keys the "cloud" offers (cloud-init gives them to the default user and, disabled, to root). */
  publicKeys?: string[];
  /** How long the boot may take until sshd answers, ms. @default 180000 */
  bootTimeoutMs?: number;
  /** Files written into this boot's overlay before the boot (stand-ins for what the image cannot install offline); the image is not changed. */
  files?: Array<{ path: string; content: string; mode: number }>;
  /** Files or folders of this machine bind-mounted read-only into the host (nspawn `--bind-ro`), at every boot. */
  binds?: Array<{ source: string; target: string }>;
  log?: (l: string) => void;
}

/** A booted host. */
export interface TestHost {
  /** The machine name (nspawn `-M`). */
  name: string;
  /** Where SSH answers on this machine: 127.0.0.1 and a forwarded port. */
  host: string;
  port: number;
  /** The host's SSH key, "ssh-ed25519 AAAA…", written into the image before boot: pin it. */
  hostKey: string;
  /** Forwards a TCP port of the host to 127.0.0.1; returns the local port. */
  forward(port: number): Promise<number>;
  /** Runs a command as root inside the host without SSH (diagnostics: journal, cloud-init logs). */
  inside(command: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** How many times the host has started (1 + reboots). */
  boots(): number;
  /** The host's PID 1 as seen from this machine (its namespaces: /proc/<pid>/ns/*), or undefined while it is not running. */
  leader(): number | undefined;
  /** nspawn's and the host's console output so far. */
  console(): string;
  /** Milliseconds: overlay and seed, nspawn start until sshd answered. */
  timings: { prepareMs: number; sshReadyMs: number };
  /** Powers the host off and removes its mounts and files. */
  stop(): Promise<void>;
}

/** A connector run inside the host's network namespace: joins stdin/stdout to 127.0.0.1:<port> there. */
const CONNECTOR =
  "const s=require('net').connect(Number(process.argv[1]),'127.0.0.1');" +
  "process.stdin.pipe(s);s.pipe(process.stdout);s.on('error',()=>process.exit(1));s.on('close',()=>process.exit(0));process.stdin.on('end',()=>s.end());";

/** Boot directories of test processes that are gone (a killed jest): their hosts are stopped and removed. */
function cleanStaleBoots(base: string, log: (l: string) => void): void {
  if (!fs.existsSync(base)) return;
  for (const d of fs.readdirSync(base).filter((d) => d.startsWith("gpu-hosting-test-boot-"))) {
    const dir = path.join(base, d);
    let owner: BootOwner | undefined;
    try {
      owner = JSON.parse(fs.readFileSync(path.join(dir, "owner.json"), "utf8")) as BootOwner;
    } catch {
      continue; // no owner file yet: a boot being prepared right now
    }
    if (stillRunning(owner.test)) continue;
    log(`removing a stale test host ${dir} (its test process ${owner.test.pid} is gone)`);
    // The host's PID 1 (its whole PID namespace goes with it) and nspawn, each only if it is the very process recorded.
    for (const p of [owner.leader, owner.nspawn]) if (p && stillRunning(p)) process.kill(p.pid, "SIGKILL");
    try {
      removeTree(dir);
      if (fs.existsSync(`/run/systemd/nspawn/propagate/${owner.name}`)) fs.rmdirSync(`/run/systemd/nspawn/propagate/${owner.name}`);
    } catch (e) {
      log(`could not remove ${dir}: ${(e as Error).message}`);
    }
  }
}

/**
 * Boots the image with the given user-data. Resolves once sshd answers through the forwarder (cloud-init
 * may still be running: wait with `cloud-init status --wait` or `systemctl is-system-running --wait`).
 */
export async function bootTestHost(o: BootOptions): Promise<TestHost> {
  const log = o.log ?? log0;
  const t0 = Date.now();
  const base = process.env.GPU_HOSTING_TEST_HOST_CACHE ?? "/var/tmp";
  cleanStaleBoots(base, log);
  const dir = fs.mkdtempSync(path.join(base, "gpu-hosting-test-boot-"));
  const name = `gh-${path.basename(dir).slice(-6).toLowerCase().replace(/[^a-z0-9]/g, "x")}`;
  const [upper, work, merged] = ["upper", "work", "merged"].map((d) => path.join(dir, d)) as [string, string, string];
  for (const d of [upper, work, merged]) fs.mkdirSync(d);
  const owner: BootOwner = { name, test: procRef(process.pid) };
  const saveOwner = (): void => fs.writeFileSync(path.join(dir, "owner.json"), JSON.stringify(owner));
  saveOwner();

  let consoleLog = "";
  let nspawn: ChildProcess | undefined;
  let leader: number | undefined;
  let stopping = false;
  let boots = 0;
  const connectors = new Set<ChildProcess>();
  const servers: net.Server[] = [];

  // If the test process ends without stop() (a crash, a thrown afterAll), the host must not outlive it:
  // kill its PID 1 (the whole PID namespace goes with it) and unmount, synchronously. A SIGKILL of the
  // test process cannot be caught: the next boot removes what it left (cleanStaleBoots).
  const onExit = (): void => {
    if (stopping) return;
    stopping = true;
    if (owner.leader && stillRunning(owner.leader)) process.kill(owner.leader.pid, "SIGKILL");
    nspawn?.kill("SIGKILL");
    spawnSync("umount", ["-l", merged]);
  };
  process.once("exit", onExit);

  const cleanup = async (): Promise<void> => {
    process.removeListener("exit", onExit);
    stopping = true;
    for (const s of servers) s.close();
    for (const c of connectors) c.kill("SIGKILL");
    if (nspawn && nspawn.exitCode === null && nspawn.signalCode === null) {
      const exited = new Promise((r) => nspawn!.once("exit", r));
      // nspawn asks the host's systemd to halt (SIGRTMIN+3); a second SIGTERM or, later, a kill of PID 1 ends it.
      nspawn.kill("SIGTERM");
      const timer = setTimeout(() => {
        log(`${name}: no clean halt within 30 s; killing its PID 1`);
        if (owner.leader && stillRunning(owner.leader)) process.kill(owner.leader.pid, "SIGKILL");
        nspawn?.kill("SIGKILL");
      }, 30_000);
      await exited;
      clearTimeout(timer);
    }
    if (owner.leader && stillRunning(owner.leader)) process.kill(owner.leader.pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    removeTree(dir);
    // nspawn leaves an empty directory here when /run is not a tmpfs (it refuses to rm -rf one).
    try {
      fs.rmdirSync(`/run/systemd/nspawn/propagate/${name}`);
    } catch {
      /* not there, or not empty: leave it */
    }
  };

  try {
    await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${o.image.rootfs},upperdir=${upper},workdir=${work}`, merged]);
    // The NoCloud seed, as a cloud hands it over: user-data verbatim, meta-data with the instance and the keys.
    const seed = path.join(merged, "var/lib/cloud/seed/nocloud");
    fs.mkdirSync(seed, { recursive: true });
    fs.writeFileSync(path.join(seed, "user-data"), o.userData);
    const metaData: Record<string, unknown> = { "instance-id": `iid-${name}`, "local-hostname": o.hostname ?? "test-host" };
    if (o.publicKeys && o.publicKeys.length > 0) metaData["public-keys"] = o.publicKeys;
    fs.writeFileSync(path.join(seed, "meta-data"), dump(metaData));
    for (const f of o.files ?? []) {
      const target = path.join(merged, f.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: f.mode });
      fs.chmodSync(target, f.mode);
    }
    // Fresh host keys for this boot, written before it so the test can pin them (cloud-init keeps them: IMAGE_CLOUD_CFG).
    await run("ssh-keygen", ["-A", "-f", merged]);
    const hostPub = fs.readFileSync(path.join(merged, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8").trim().split(/\s+/);
    const hostKey = `${hostPub[0]} ${hostPub[1]}`;
    const prepareMs = Date.now() - t0;

    const myNet = fs.readlinkSync("/proc/self/ns/net");
    const start = (): void => {
      boots++;
      consoleLog += `\n--- boot ${boots} ---\n`;
      const child = spawn(
        NSPAWN,
        // --register=no --keep-unit: there is no systemd (no system bus) on this machine to register with or to make a scope.
        // --private-network: the host gets its own network namespace with only lo.
        ["-D", merged, "-b", "-M", name, "--register=no", "--keep-unit", "--private-network", "--resolv-conf=off", "--timezone=off", "--link-journal=no", "--console=pipe", ...(o.binds ?? []).map((b) => `--bind-ro=${b.source}:${b.target}`)],
        { stdio: ["pipe", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", SYSTEMD_LOG_LEVEL: "warning" } },
      );
      nspawn = child;
      leader = undefined;
      if (child.pid !== undefined) owner.nspawn = procRef(child.pid);
      saveOwner();
      child.stdout?.on("data", (b: Buffer) => (consoleLog += b.toString()));
      child.stderr?.on("data", (b: Buffer) => (consoleLog += b.toString()));
      child.on("exit", (code, signal) => {
        consoleLog += `\n--- nspawn exited ${code ?? signal} ---\n`;
        // 133: the host rebooted (what systemd-nspawn@.service restarts on); start it again on the same overlay.
        if (!stopping && code === 133) {
          log(`${name}: rebooted; starting it again`);
          start();
        }
      });
    };

    /** The host's PID 1 (as seen from here), once it runs systemd in its own network namespace. */
    const findLeader = (): number | undefined => {
      if (leader !== undefined && stillRunning(owner.leader)) return leader;
      const pid = nspawn?.pid;
      if (pid === undefined) return undefined;
      let children: number[] = [];
      try {
        children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return undefined;
      }
      for (const c of children) {
        try {
          if (fs.readFileSync(`/proc/${c}/comm`, "utf8").trim() !== "systemd") continue;
          if (fs.readlinkSync(`/proc/${c}/ns/net`) === myNet) throw new Error(`${name}: the host shares this machine's network namespace; refusing to go on`);
          leader = c;
          owner.leader = procRef(c);
          saveOwner();
          return c;
        } catch (e) {
          if ((e as Error).message.includes("refusing")) throw e;
        }
      }
      return undefined;
    };

    const forward = async (port: number): Promise<number> => {
      const server = net.createServer((sock) => {
        const pid = findLeader();
        if (pid === undefined) return sock.destroy();
        const c = spawn("nsenter", ["-t", String(pid), "-n", "--", process.execPath, "-e", CONNECTOR, String(port)], { stdio: ["pipe", "pipe", "ignore"], env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
        connectors.add(c);
        sock.pipe(c.stdin!);
        c.stdout!.pipe(sock);
        c.stdin!.on("error", () => sock.destroy());
        sock.on("error", () => c.kill("SIGKILL"));
        c.on("exit", () => {
          connectors.delete(c);
          sock.end();
        });
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
      const a = server.address();
      if (!a || typeof a !== "object") throw new Error("forwarder: no port");
      return a.port;
    };

    start();
    const bootStarted = Date.now();
    const port = await forward(22);
    const deadline = bootStarted + (o.bootTimeoutMs ?? 180_000);
    for (;;) {
      if (nspawn!.exitCode !== null && nspawn!.exitCode !== 133) throw new Error(`${name}: systemd-nspawn exited ${nspawn!.exitCode} during boot:\n${consoleLog.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`${name}: sshd did not answer within ${o.bootTimeoutMs ?? 180_000} ms:\n${consoleLog.slice(-4000)}`);
      findLeader();
      if (leader !== undefined && (await banner(port))) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const sshReadyMs = Date.now() - bootStarted;

    const inside = async (command: string): Promise<{ code: number | null; stdout: string; stderr: string }> => {
      const pid = findLeader();
      if (pid === undefined) return { code: null, stdout: "", stderr: "the host is not running" };
      const r = spawn("nsenter", ["-t", String(pid), "-a", "--", "/bin/sh", "-c", command], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } });
      let stdout = "";
      let stderr = "";
      r.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      r.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      const code = await new Promise<number | null>((resolve) => r.on("close", resolve));
      return { code, stdout, stderr };
    };

    return {
      name,
      host: "127.0.0.1",
      port,
      hostKey,
      forward,
      inside,
      boots: () => boots,
      leader: findLeader,
      console: () => consoleLog,
      timings: { prepareMs, sshReadyMs },
      stop: cleanup,
    };
  } catch (e) {
    await cleanup().catch((c: Error) => log(`${name}: cleanup after a failed boot: ${c.message}`));
    throw e;
  }
}

/** True when an SSH banner comes back on 127.0.0.1:port within 3 s. */
async function banner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(3000);
    sock.once("data", (b) => done(b.toString().startsWith("SSH-")));
    sock.once("error", () => done(false));
    sock.once("close", () => done(false));
    sock.once("timeout", () => done(false));
  });
}

/** Result of {@link ssh}. */
export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link ssh}. */
export interface SshOptions {
  host: string;
  port: number;
  user: string;
  privateKey: string;
  /** Pinned host key "type base64": any other key makes the connection fail ("host key mismatch"). */
  hostKey: string;
  command: string;
  stdin?: string;
  timeoutMs?: number;
}

/** Runs one command over SSH (ssh2) with the host key pinned. Rejects on connect, host-key or authentication errors. */
export async function ssh(o: SshOptions): Promise<SshResult> {
  const pinned = o.hostKey.trim().split(/\s+/);
  return new Promise((resolve, reject) => {
    const conn = new Client();
    let mismatch: string | undefined;
    let settled = false;
    const finish = (err: Error | null, r?: SshResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.end();
      if (err) reject(err);
      else resolve(r!);
    };
    const timer = setTimeout(() => finish(new Error(`ssh ${o.user}@${o.host}:${o.port}: no result within ${o.timeoutMs ?? 120_000} ms: ${o.command}`)), o.timeoutMs ?? 120_000);
    const config: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.user,
      privateKey: o.privateKey,
      readyTimeout: 30_000,
      algorithms: { serverHostKey: [pinned[0] as "ssh-ed25519"] },
      hostVerifier: (blob: Buffer): boolean => {
        if (blob.toString("base64") === pinned[1]) return true;
        mismatch = `host key mismatch: pinned ${pinned[0]} ${pinned[1]}, server presented ${blob.toString("base64")}`;
        return false;
      },
    };
    conn.on("error", (e: Error & { level?: string }) => finish(new Error(mismatch ?? `ssh ${o.user}@${o.host}:${o.port}: ${e.level ? `${e.level}: ` : ""}${e.message}`)));
    conn.on("ready", () => {
      conn.exec(o.command, (err, stream) => {
        if (err) return finish(err);
        let stdout = "";
        let stderr = "";
        stream.on("data", (b: Buffer) => (stdout += b.toString()));
        stream.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
        stream.on("close", (code: number | null) => finish(null, { code, stdout, stderr }));
        stream.end(o.stdin ?? "");
      });
    });
    conn.connect(config);
  });
}

/** A throwaway ed25519 client key pair in a temp dir. */
export function clientKey(): { privateKey: string; publicKey: string; dispose: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-test-host-key-"));
  const file = path.join(dir, "id_ed25519");
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "gpu-hosting-test-host", "-f", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return { privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim(), dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Records the phases of a suite with their durations, printing each as it ends. */
export function phaseRecorder(): { phases: Array<[string, number, string]>; phase: <T>(name: string, fn: () => Promise<T>, note?: (r: T) => string) => Promise<T> } {
  const phases: Array<[string, number, string]> = [];
  async function phase<T>(name: string, fn: () => Promise<T>, note: (r: T) => string = () => ""): Promise<T> {
    const t0 = Date.now();
    const r = await fn();
    const ms = Date.now() - t0;
    phases.push([name, ms, note(r)]);
    console.log(`[test-host] ${name}: ${(ms / 1000).toFixed(1)} s ${note(r)}`);
    return r;
  }
  return { phases, phase };
}

/** `describe` that needs a test host: fails under CI=true when one cannot be made, skips with the reason elsewhere. */
export function describeWithTestHost(name: string, fn: () => void): void {
  const missing = testHostMissing();
  if (!missing) return describe(name, fn);
  if (process.env.CI === "true") {
    describe(name, () => it("can make a test host here (required under CI=true)", () => expect(missing).toBeNull()));
    return;
  }
  console.warn(`SKIPPED "${name}": ${missing}; set CI=true to make this a failure`);
  describe.skip(name, fn);
}

/**
 * Reboots the host as the components' reboot step does (detached, so the SSH session ends cleanly)
 * and waits until SSH answers from a new boot (another boot id).
 */
export async function rebootAndWait(host: TestHost, run: (command: string) => Promise<SshResult>, timeoutMs = 180_000): Promise<void> {
  const bootId = (await run("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
  const before = host.boots();
  await run("sudo -n nohup sh -c 'sleep 1; systemctl reboot' >/dev/null 2>&1 & echo rebooting");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (host.boots() > before) {
      const r = await run("cat /proc/sys/kernel/random/boot_id").catch(() => undefined);
      if (r && r.code === 0 && r.stdout.trim() !== bootId) return;
    }
    if (Date.now() > deadline) throw new Error(`no reboot within ${timeoutMs / 1000} s:\n${host.console().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
