/**
 * `gpu-hosting discover` and `probeHost` end to end against a real OpenSSH sshd on 127.0.0.1
 * (test/helpers/sshd.ts): the CPU-only path for real, host key pinning, and exit 2 for bad input,
 * through `main()` and through the built CLI (dist/cli/main.js; `npm run build` first).
 */
import { spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { CORE_SCHEMA, load } from "js-yaml";
import { discover, knownHostKeys, parseTarget, planDiscover } from "../cli/discover";
import { checkStackConfig } from "../core/checks/stackFile";
import { UsageError } from "../cli/errors";
import { OnpremHostConfig } from "../core/config/schema";
import { parseLscpu, parseMeminfo, parseOsRelease } from "../core/probe/parse";
import { fingerprint, parseHostKeyPin, parsePublicKey, probeHost, ProbeError } from "../core/probe/ssh";
import { describeWithSshd, startSshd, type Sshd } from "./helpers/sshd";
import { runCli } from "./helpers/cliChild";

const MAIN = path.join(__dirname, "..", "dist", "cli", "main.js");
const formatKey = (k: { type: string; base64: string }): string => `${k.type} ${k.base64}`;
/** A valid ed25519 key that no test server holds. */
const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const OTHER_FP = "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-discover-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return cliWithEnv({}, ...args);
}

/** {@link cli} with extra environment variables (SSH_AUTH_SOCK is dropped unless given here). */
function cliWithEnv(env: Record<string, string>, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  if (!fs.existsSync(path.join(__dirname, "..", "dist", "cli", "discover.js"))) throw new Error("dist/cli/discover.js is missing: run `npm run build` first");
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete base.SSH_AUTH_SOCK;
  return runCli(args, { timeout: 60000, env: { ...base, ...env } });
}

/**
 * Runs the built main() in-process, capturing stderr. (From source, main() cannot find
 * package.json: it reads it relative to dist/cli.)
 */
async function runMain(...args: string[]): Promise<{ code: number; stderr: string }> {
  if (!fs.existsSync(MAIN)) throw new Error("dist/cli/main.js is missing: run `npm run build` first");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { main } = require(MAIN) as typeof import("../cli/main");
  let stderr = "";
  const spy = jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(["node", "gpu-hosting", ...args]), stderr };
  } finally {
    spy.mockRestore();
  }
}

/** What `ssh-keygen -lf` says the fingerprint of a public key is. */
function sshKeygenFingerprint(publicKey: string): string {
  const file = path.join(tmp, `fp-${Date.now()}.pub`);
  fs.writeFileSync(file, `${publicKey}\n`);
  const r = spawnSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file], { encoding: "utf8" });
  return r.stdout.split(/\s+/)[1] ?? `ssh-keygen failed: ${r.stderr}`;
}

/** A fresh ed25519 key pair in the temp dir; returns the private key's path. */
function throwawayKey(name: string): string {
  const file = path.join(tmp, name);
  if (!fs.existsSync(file)) spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
  return file;
}

/** The OpenSSH client tool the agent tests need that is missing here, or null. */
const AGENT_TOOL_MISSING = ["ssh-agent", "ssh-add"].find((p) => spawnSync("sh", ["-c", `command -v ${p}`]).status !== 0) ?? null;
/**
 * `it` for tests that start an ssh-agent: skipped with a warning where ssh-agent/ssh-add are
 * missing, except under CI=true (.ci/run installs openssh-client), where the test runs and fails.
 */
const itWithAgent = AGENT_TOOL_MISSING !== null && process.env.CI !== "true" ? it.skip : it;
if (AGENT_TOOL_MISSING !== null && process.env.CI !== "true") console.warn(`SKIPPED the ssh-agent test of discover: ${AGENT_TOOL_MISSING} not found (Debian/Ubuntu: apt-get install -y openssh-client)`);

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("discover input", () => {
  it.each([
    ["root@10.0.0.5", { user: "root", host: "10.0.0.5", port: 22 }],
    ["ubuntu@gpu1.example.com:2222", { user: "ubuntu", host: "gpu1.example.com", port: 2222 }],
    ["admin@[2001:db8::5]:22", { user: "admin", host: "2001:db8::5", port: 22 }],
  ])("parses %s", (target, expected) => {
    expect(parseTarget(target)).toEqual(expected);
  });

  it.each(["10.0.0.5", "root@", "root@host:0", "root@host:99999", "root@bad host", "@host"])("rejects the target %j naming it and the expected form", (target) => {
    expect(() => parseTarget(target)).toThrow(UsageError);
    expect(() => parseTarget(target)).toThrow(`discover: target: got ${JSON.stringify(target)}`);
    expect(() => parseTarget(target)).toThrow(/expected user@host\[:port\], e\.g\. ubuntu@10\.0\.0\.5/);
  });

  it("exits 2 through main() for an unparseable target", async () => {
    const r = await runMain("discover", "gpu1.example.com");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: discover: target: got "gpu1.example.com"; expected user@host[:port], e.g. ubuntu@10.0.0.5, root@gpu1.example.com:2222 or admin@[2001:db8::5]:22\n');
  });

  it("exits 2 through main() for a missing key file, naming it and the fix", async () => {
    const missing = path.join(tmp, "no-such-key");
    const r = await runMain("discover", "root@127.0.0.1", "-i", missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: -i: got ${JSON.stringify(missing)}; cannot be read (ENOENT). Give the private key whose public half is in the host's authorized_keys, e.g. -i ~/.ssh/id_ed25519\n`);
  });

  it("exits 2 through main() for a .pub file given as the key, a malformed fingerprint, and --trust-on-first-use with --host-key", async () => {
    const pub = path.join(tmp, "key.pub");
    fs.writeFileSync(pub, `${OTHER_KEY}\n`);
    expect((await runMain("discover", "root@127.0.0.1", "-i", pub)).stderr).toContain("is not a private key file");
    const key = path.join(tmp, "key");
    fs.writeFileSync(key, "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n");
    expect(await runMain("discover", "root@127.0.0.1", "-i", key, "--host-key", "SHA256:abc")).toEqual({
      code: 2,
      stderr: 'error: --host-key: got a "SHA256:" fingerprint of 3 characters; expected "SHA256:" and 43 characters of base64, as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it\n',
    });
    expect(await runMain("discover", "root@127.0.0.1", "-i", key, "--host-key", OTHER_FP, "--trust-on-first-use")).toEqual({
      code: 2,
      stderr: "error: --trust-on-first-use with --host-key: the key is pinned, nothing is trusted on first use; drop one of them\n",
    });
  });

  it("reads a pin as a whole public key, a fingerprint, or an ssh-keygen -lf line", () => {
    expect(parseHostKeyPin(`${OTHER_KEY} me@laptop`)).toEqual({ key: parsePublicKey(OTHER_KEY) });
    expect(parseHostKeyPin(OTHER_FP)).toEqual({ fingerprint: OTHER_FP });
    expect(parseHostKeyPin(`256 ${OTHER_FP} root@gpu1 (ED25519)`)).toEqual({ fingerprint: OTHER_FP });
    expect(() => parseHostKeyPin("MD5:12:34")).toThrow(/or its fingerprint "SHA256:…"/);
  });

  it("says SSH_AUTH_SOCK is not a socket when the agent is gone and no -i is given", () => {
    expect(() => planDiscover({ target: "root@127.0.0.1", agentSocket: path.join(tmp, "no-agent.sock") })).toThrow(
      `SSH_AUTH_SOCK: got ${JSON.stringify(path.join(tmp, "no-agent.sock"))}; is not a socket (is ssh-agent running?)`,
    );
  });

  it("exits 2 through the built CLI when the connection is refused, naming the target and the fix", async () => {
    const key = throwawayKey("refused_ed25519");
    const port = await closedPort();
    const r = cli("discover", `root@127.0.0.1:${port}`, "-i", key, "--known-hosts", "/dev/null");
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `error: discover: target "root@[127.0.0.1]:${port}": cannot connect to 127.0.0.1:${port} (ECONNREFUSED); check the address, the port and that sshd runs and is reachable\n`,
    );
    expect(r.stdout).toBe("");
  });

  it("gives up on a server that never speaks SSH", async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const key = fs.readFileSync(throwawayKey("silent_ed25519"), "utf8");
      await expect(probeHost({ host: "127.0.0.1", port, username: "root", privateKey: key, timeoutMs: 500 })).rejects.toMatchObject({ code: "timeout" });
    } finally {
      silent.close();
    }
  });

  it("finds plain, bracketed-port and hashed known_hosts entries", () => {
    const salt = Buffer.from("0123456789abcdef0123");
    const hashed = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("[gpu2]:2222").digest("base64")}`;
    const text = ["# comment", `gpu1,10.0.0.5 ${OTHER_KEY} me@laptop`, `${hashed} ${OTHER_KEY}`, `@revoked gpu3 ${OTHER_KEY}`, `*.lab,!gpu4.lab ${OTHER_KEY}`].join("\n");
    expect(knownHostKeys(text, "10.0.0.5", 22)).toEqual([parsePublicKey(OTHER_KEY)]);
    expect(knownHostKeys(text, "10.0.0.5", 2222)).toEqual([]);
    expect(knownHostKeys(text, "gpu2", 2222)).toHaveLength(1);
    expect(knownHostKeys(text, "gpu3", 22)).toEqual([]);
    expect(knownHostKeys(text, "gpu5.lab", 22)).toHaveLength(1);
    expect(knownHostKeys(text, "gpu4.lab", 22)).toEqual([]);
  });

  it("prints fingerprints as ssh-keygen does", () => {
    expect(fingerprint(parsePublicKey(OTHER_KEY))).toBe(sshKeygenFingerprint(OTHER_KEY));
    expect(fingerprint(parsePublicKey(OTHER_KEY))).toBe(OTHER_FP);
  });
});

describeWithSshd("discover against a real sshd on 127.0.0.1", () => {
  let sshd: Sshd;
  let target: string;
  let emptyKnownHosts: string;

  beforeAll(async () => {
    sshd = await startSshd();
    target = `${sshd.user}@127.0.0.1:${sshd.port}`;
    emptyKnownHosts = path.join(tmp, "known_hosts_empty");
    fs.writeFileSync(emptyKnownHosts, "");
  }, 30000);
  afterAll(async () => {
    await sshd?.stop();
  });

  it("probes this CPU-only machine for real: no GPUs, and lscpu, meminfo and os-release equal the local ones", async () => {
    const r = await probeHost({ host: "127.0.0.1", port: sshd.port, username: sshd.user, privateKey: sshd.clientPrivateKey, hostKey: sshd.hostPublicKey, timeoutMs: 20000 });
    expect(r.gpus).toEqual([]);
    expect(r.driverVersion).toBeNull();
    expect(r.cudaVersion).toBeNull();
    expect(r.cpu).toEqual(parseLscpu(spawnSync("lscpu", { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } }).stdout));
    expect(r.memTotalGiB).toBe(parseMeminfo(fs.readFileSync("/proc/meminfo", "utf8")).memTotalGiB);
    expect(r.os).toEqual(parseOsRelease(fs.readFileSync("/etc/os-release", "utf8")));
    expect(r.hostname).toBe(os.hostname());
    expect(`${r.hostKey.type} ${r.hostKey.base64}`).toBe(sshd.hostPublicKey);
    expect(r.hostKeyFingerprint).toBe(sshKeygenFingerprint(sshd.hostPublicKey));
    expect(r.warnings).toEqual([]);
  });

  it("refuses a server whose key is not the pinned one, printing both fingerprints", async () => {
    const probe = probeHost({ host: "127.0.0.1", port: sshd.port, username: sshd.user, privateKey: sshd.clientPrivateKey, hostKey: OTHER_KEY, timeoutMs: 20000 });
    await expect(probe).rejects.toThrow(ProbeError);
    await expect(probe).rejects.toMatchObject({
      code: "host-key",
      message: expect.stringContaining(`host key mismatch for 127.0.0.1:${sshd.port}: pinned ssh-ed25519 ${OTHER_FP}, server presented ssh-ed25519 ${sshKeygenFingerprint(sshd.hostPublicKey)}`),
    });
  });

  it("prints a stack snippet that parses, validates, and pins the server's key", async () => {
    const r = await discover({ target, identity: sshd.clientKeyPath, knownHosts: emptyKnownHosts, trustOnFirstUse: true, site: "basement" });
    const doc = load(r.snippet, { schema: CORE_SCHEMA }) as Record<string, unknown[]>;
    expect(Object.keys(doc)).toEqual(["gpu-hosting:hosts"]);
    const entry = doc["gpu-hosting:hosts"]![0] as Record<string, unknown>;
    expect(entry).toEqual({
      name: os.hostname().split(".")[0]!.toLowerCase().replace(/[^a-z0-9-]+/g, "-"),
      kind: "onprem",
      site: "basement",
      address: "127.0.0.1",
      port: sshd.port,
      user: sshd.user,
      hostKey: sshd.hostPublicKey,
      inventory: { gpu: null, gpuCount: 0, ramGiB: Math.round(parseMeminfo(fs.readFileSync("/proc/meminfo", "utf8")).memTotalGiB) },
    });
    expect(OnpremHostConfig.safeParse(entry).success).toBe(true);
    // Readable to paste: block style, two-space indents, the key unquoted on one line.
    const body = r.snippet.split("\n").filter((l) => !l.startsWith("#"));
    expect(body.slice(0, 3)).toEqual(["gpu-hosting:hosts:", `  - name: ${entry.name as string}`, "    kind: onprem"]);
    expect(body).toContain(`    hostKey: ${sshd.hostPublicKey}`);
    expect(body).toContain("    inventory:");
    const comments = r.snippet.split("\n").filter((l) => l.startsWith("#")).join("\n");
    expect(comments).toContain(`# host key  ssh-ed25519 ${sshKeygenFingerprint(sshd.hostPublicKey)} (trusted on first use, --trust-on-first-use`);
    expect(comments).toContain("# GPUs      no GPUs");
    expect(comments).toContain("# driver    none; CUDA none");
    expect(comments).toContain(`# OS        ${parseOsRelease(fs.readFileSync("/etc/os-release", "utf8")).prettyName}`);
    expect(comments).toMatch(/# RAM {7}\d+\.\d GiB \(MemTotal\)/);
    expect(comments).toMatch(/# CPU {7}.+, \d+ CPUs/);
  });

  it("with --country declares the site, so the pasted snippet passes check's allowed-locations", async () => {
    const r = await discover({ target, identity: sshd.clientKeyPath, hostKey: sshd.hostPublicKey, site: "basement", country: "de" });
    const doc = load(r.snippet, { schema: CORE_SCHEMA }) as Record<string, unknown>;
    expect(doc["gpu-hosting:sites"]).toEqual([{ name: "basement", country: "DE" }]);
    const { report } = checkStackConfig(doc, "snippet.yaml");
    expect(report.violations.filter((v) => v.policy === "allowed-locations")).toEqual([]);
    expect(() => planDiscover({ target, identity: sshd.clientKeyPath, knownHosts: emptyKnownHosts, country: "Germany" })).toThrow(/--country/);
  });

  it("checks the key known_hosts holds for the host, and refuses another one with both fingerprints", async () => {
    const good = path.join(tmp, "known_hosts_good");
    fs.writeFileSync(good, `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    const ok = await discover({ target, identity: sshd.clientKeyPath, knownHosts: good });
    expect(ok.snippet).toContain(`(matched the key pinned in ${good})`);

    const bad = path.join(tmp, "known_hosts_bad");
    fs.writeFileSync(bad, `[127.0.0.1]:${sshd.port} ${OTHER_KEY}\n`);
    const err = discover({ target, identity: sshd.clientKeyPath, knownHosts: bad });
    await expect(err).rejects.toThrow(UsageError);
    await expect(err).rejects.toThrow(`pinned ssh-ed25519 ${OTHER_FP}, server presented ssh-ed25519 ${sshKeygenFingerprint(sshd.hostPublicKey)}`);
    await expect(err).rejects.toThrow(`(pinned key from ${bad})`);
  });

  it("refuses an unpinned host key by default, naming its fingerprint and how to pin it, before authenticating", async () => {
    const fp = sshKeygenFingerprint(sshd.hostPublicKey);
    const before = sshd.log();
    const err = discover({ target, identity: sshd.clientKeyPath, knownHosts: emptyKnownHosts });
    await expect(err).rejects.toThrow(UsageError);
    await expect(err).rejects.toThrow(
      `discover: host key not pinned: 127.0.0.1:${sshd.port} presented the host key ssh-ed25519 ${fp}, which nothing pins; the connection was closed before authenticating. ` +
        `Nothing in --host-key or ${emptyKnownHosts} pins a key for "[127.0.0.1]:${sshd.port}". Compare ${fp} with the host's own (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), ` +
        `then run again with --host-key ${fp}`,
    );
    await expect(err).rejects.toThrow("to accept the key unchecked, run again with --trust-on-first-use");
    // sshd saw no login attempt for the user: the client key was never offered.
    expect(sshd.log().slice(before.length)).not.toMatch(/Accepted publickey|Postponed publickey/);
  });

  it("accepts the right key given as its fingerprint and refuses a wrong fingerprint", async () => {
    const fp = sshKeygenFingerprint(sshd.hostPublicKey);
    const ok = await discover({ target, identity: sshd.clientKeyPath, hostKey: fp });
    expect(ok.host.hostKey).toBe(sshd.hostPublicKey);
    expect(ok.snippet).toContain(`(matched the key pinned in --host-key)`);
    const bad = discover({ target, identity: sshd.clientKeyPath, hostKey: OTHER_FP });
    await expect(bad).rejects.toThrow(UsageError);
    await expect(bad).rejects.toThrow(`host key mismatch for 127.0.0.1:${sshd.port}: pinned ${OTHER_FP}, server presented ssh-ed25519 ${fp}`);
  });

  it("exits 2 through the built CLI for an unpinned key, printing its fingerprint, and with --trust-on-first-use prints the key it accepted", () => {
    const fp = sshKeygenFingerprint(sshd.hostPublicKey);
    const refused = cli("discover", target, "-i", sshd.clientKeyPath, "--known-hosts", emptyKnownHosts);
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain(`presented the host key ssh-ed25519 ${fp}, which nothing pins`);
    expect(refused.stderr).toContain(`run again with --host-key ${fp}`);

    const tofu = cli("discover", target, "-i", sshd.clientKeyPath, "--known-hosts", emptyKnownHosts, "--trust-on-first-use");
    expect(tofu.status).toBe(0);
    expect(tofu.stderr).toBe(
      `discover: trusted on first use (--trust-on-first-use): ssh-ed25519 ${fp}; compare it with the host's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub). The snippet pins it as hostKey.\n`,
    );
    expect((load(tofu.stdout, { schema: CORE_SCHEMA }) as { "gpu-hosting:hosts": { hostKey: string }[] })["gpu-hosting:hosts"][0]!.hostKey).toBe(sshd.hostPublicKey);

    // The fingerprint the refusal printed, passed back, is accepted.
    const pinned = cli("discover", target, "-i", sshd.clientKeyPath, "--host-key", fp);
    expect(pinned.stderr).toBe("");
    expect(pinned.status).toBe(0);
  });

  itWithAgent("signs with the ssh-agent at SSH_AUTH_SOCK when no -i is given, and names the agent when it holds no accepted key", async () => {
    if (AGENT_TOOL_MISSING !== null) throw new Error(`${AGENT_TOOL_MISSING} is required under CI=true (apt-get install -y openssh-client)`);
    const sock = path.join(tmp, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const env = { ...process.env, SSH_AUTH_SOCK: sock };
      const add = spawnSync("ssh-add", [sshd.clientKeyPath], { encoding: "utf8", env });
      expect(add.status).toBe(0);

      const viaAgent = await probeHost({ host: "127.0.0.1", port: sshd.port, username: sshd.user, agent: sock, hostKey: sshd.hostPublicKey, timeoutMs: 20000 });
      expect(formatKey(viaAgent.hostKey)).toBe(sshd.hostPublicKey);
      expect(planDiscover({ target, agentSocket: sock, hostKey: sshd.hostPublicKey })).toMatchObject({ agentSocket: sock });
      expect(planDiscover({ target, agentSocket: sock, hostKey: sshd.hostPublicKey }).identity).toBeUndefined();

      const r = cliWithEnv({ SSH_AUTH_SOCK: sock }, "discover", target, "--host-key", sshd.hostPublicKey, "--name", "gpu1");
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect((load(r.stdout, { schema: CORE_SCHEMA }) as { "gpu-hosting:hosts": { name: string; hostKey: string }[] })["gpu-hosting:hosts"][0]).toMatchObject({ name: "gpu1", hostKey: sshd.hostPublicKey });

      expect(spawnSync("ssh-add", ["-D"], { encoding: "utf8", env }).status).toBe(0);
      const empty = cliWithEnv({ SSH_AUTH_SOCK: sock }, "discover", target, "--host-key", sshd.hostPublicKey);
      expect(empty.status).toBe(2);
      expect(empty.stderr).toContain(`error: ssh-agent (SSH_AUTH_SOCK ${sock}): ${sshd.user}@127.0.0.1:${sshd.port} refused every key the ssh-agent offered`);
    } finally {
      agent.kill();
    }
  });

  it("runs through the built CLI: YAML by default, JSON with --json", () => {
    const y = cli("discover", target, "-i", sshd.clientKeyPath, "--host-key", sshd.hostPublicKey, "--name", "gpu1");
    expect(y.stderr).toBe("");
    expect(y.status).toBe(0);
    expect((load(y.stdout, { schema: CORE_SCHEMA }) as { "gpu-hosting:hosts": { name: string; hostKey: string }[] })["gpu-hosting:hosts"][0]).toMatchObject({ name: "gpu1", hostKey: sshd.hostPublicKey });

    const j = cli("discover", target, "-i", sshd.clientKeyPath, "--host-key", sshd.hostPublicKey, "--json");
    expect(j.status).toBe(0);
    const out = JSON.parse(j.stdout) as { host: { hostKey: string }; probe: { gpus: unknown[]; hostKeyFingerprint: string } };
    expect(out.host.hostKey).toBe(sshd.hostPublicKey);
    expect(out.probe.gpus).toEqual([]);
    expect(out.probe.hostKeyFingerprint).toBe(sshKeygenFingerprint(sshd.hostPublicKey));
  });

  it("exits 2 through the built CLI for a wrong pinned key and for a key the server refuses", () => {
    const pinned = cli("discover", target, "-i", sshd.clientKeyPath, "--host-key", OTHER_KEY);
    expect(pinned.status).toBe(2);
    expect(pinned.stderr).toContain(`pinned ssh-ed25519 ${OTHER_FP}, server presented ssh-ed25519 ${sshKeygenFingerprint(sshd.hostPublicKey)}`);

    const stranger = throwawayKey("stranger_ed25519");
    const auth = cli("discover", target, "-i", stranger, "--host-key", sshd.hostPublicKey);
    expect(auth.status).toBe(2);
    expect(auth.stderr).toBe(
      `error: -i ${stranger}: ${sshd.user}@127.0.0.1:${sshd.port} refused the key (All configured authentication methods failed); ` +
        `add its public key to ~${sshd.user}/.ssh/authorized_keys on the host, or give the right key with -i\n`,
    );
  });
});
