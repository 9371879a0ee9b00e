/**
 * `gpu-hosting discover` and `probeHost` end to end against a real OpenSSH sshd on 127.0.0.1
 * (test/helpers/sshd.ts): the CPU-only path for real, host key pinning, and exit 2 for bad input,
 * through `main()` and through the built CLI (dist/cli/main.js; `npm run build` first).
 */
import { spawnSync } from "node:child_process";
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
import { fingerprint, parsePublicKey, probeHost, ProbeError } from "../core/probe/ssh";
import { describeWithSshd, startSshd, type Sshd } from "./helpers/sshd";

const MAIN = path.join(__dirname, "..", "dist", "cli", "main.js");
/** A valid ed25519 key that no test server holds. */
const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const OTHER_FP = "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-discover-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  if (!fs.existsSync(path.join(__dirname, "..", "dist", "cli", "discover.js"))) throw new Error("dist/cli/discover.js is missing: run `npm run build` first");
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 60000, env: { ...process.env, NO_COLOR: "1" } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs the built main() in-process, capturing stderr. (From source, main() cannot find
 * package.json: it reads it relative to dist/cli.)
 */
function runMain(...args: string[]): { code: number; stderr: string } {
  if (!fs.existsSync(MAIN)) throw new Error("dist/cli/main.js is missing: run `npm run build` first");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { main } = require(MAIN) as typeof import("../cli/main");
  let stderr = "";
  const spy = jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: main(["node", "gpu-hosting", ...args]), stderr };
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

  it("exits 2 through main() for an unparseable target", () => {
    const r = runMain("discover", "gpu1.example.com");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: discover: target: got "gpu1.example.com"; expected user@host[:port], e.g. ubuntu@10.0.0.5, root@gpu1.example.com:2222 or admin@[2001:db8::5]:22\n');
  });

  it("exits 2 through main() for a missing key file, naming it and the fix", () => {
    const missing = path.join(tmp, "no-such-key");
    const r = runMain("discover", "root@127.0.0.1", "-i", missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: -i: got ${JSON.stringify(missing)}; cannot be read (ENOENT). Give the private key whose public half is in the host's authorized_keys, e.g. -i ~/.ssh/id_ed25519\n`);
  });

  it("exits 2 through main() for a .pub file given as the key and for an unknown --host-key-check", () => {
    const pub = path.join(tmp, "key.pub");
    fs.writeFileSync(pub, `${OTHER_KEY}\n`);
    expect(runMain("discover", "root@127.0.0.1", "-i", pub).stderr).toContain("is not a private key file");
    const key = path.join(tmp, "key");
    fs.writeFileSync(key, "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n");
    const r = runMain("discover", "root@127.0.0.1", "-i", key, "--host-key-check", "ask");
    expect(r).toEqual({ code: 2, stderr: 'error: --host-key-check: got "ask"; allowed: accept-new, strict\n' });
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
    const r = await discover({ target, identity: sshd.clientKeyPath, knownHosts: emptyKnownHosts, site: "basement" });
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
    expect(comments).toContain(`# host key  ssh-ed25519 ${sshKeygenFingerprint(sshd.hostPublicKey)} (accepted on first use`);
    expect(comments).toContain("# GPUs      no GPUs");
    expect(comments).toContain("# driver    none; CUDA none");
    expect(comments).toContain(`# OS        ${parseOsRelease(fs.readFileSync("/etc/os-release", "utf8")).prettyName}`);
    expect(comments).toMatch(/# RAM {7}\d+\.\d GiB \(MemTotal\)/);
    expect(comments).toMatch(/# CPU {7}.+, \d+ CPUs/);
  });

  it("with --country declares the site, so the pasted snippet passes check's allowed-locations", async () => {
    const r = await discover({ target, identity: sshd.clientKeyPath, knownHosts: emptyKnownHosts, site: "basement", country: "de" });
    const doc = load(r.snippet, { schema: CORE_SCHEMA }) as Record<string, unknown>;
    expect(doc["gpu-hosting:sites"]).toEqual([{ name: "basement", country: "DE" }]);
    const { report } = checkStackConfig(doc, "snippet.yaml");
    expect(report.violations.filter((v) => v.policy === "allowed-locations")).toEqual([]);
    expect(() => planDiscover({ target, identity: sshd.clientKeyPath, knownHosts: emptyKnownHosts, country: "Germany" })).toThrow(/--country/);
  });

  it("checks the key known_hosts holds for the host, and refuses another one with both fingerprints", async () => {
    const good = path.join(tmp, "known_hosts_good");
    fs.writeFileSync(good, `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    const ok = await discover({ target, identity: sshd.clientKeyPath, knownHosts: good, hostKeyCheck: "strict" });
    expect(ok.snippet).toContain(`(matched the key pinned in ${good})`);

    const bad = path.join(tmp, "known_hosts_bad");
    fs.writeFileSync(bad, `[127.0.0.1]:${sshd.port} ${OTHER_KEY}\n`);
    const err = discover({ target, identity: sshd.clientKeyPath, knownHosts: bad });
    await expect(err).rejects.toThrow(UsageError);
    await expect(err).rejects.toThrow(`pinned ssh-ed25519 ${OTHER_FP}, server presented ssh-ed25519 ${sshKeygenFingerprint(sshd.hostPublicKey)}`);
    await expect(err).rejects.toThrow(`(pinned key from ${bad})`);
  });

  it("refuses strict checking without a known key, saying how to pin one", async () => {
    await expect(discover({ target, identity: sshd.clientKeyPath, knownHosts: emptyKnownHosts, hostKeyCheck: "strict" })).rejects.toThrow(
      `--host-key-check strict: no host key for "[127.0.0.1]:${sshd.port}" in ${emptyKnownHosts}; give --host-key "ssh-ed25519 AAAA…"`,
    );
  });

  it("runs through the built CLI: YAML by default, JSON with --json", () => {
    const y = cli("discover", target, "-i", sshd.clientKeyPath, "--known-hosts", emptyKnownHosts, "--name", "gpu1");
    expect(y.stderr).toBe("");
    expect(y.status).toBe(0);
    expect((load(y.stdout, { schema: CORE_SCHEMA }) as { "gpu-hosting:hosts": { name: string; hostKey: string }[] })["gpu-hosting:hosts"][0]).toMatchObject({ name: "gpu1", hostKey: sshd.hostPublicKey });

    const j = cli("discover", target, "-i", sshd.clientKeyPath, "--known-hosts", emptyKnownHosts, "--json");
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
    const auth = cli("discover", target, "-i", stranger, "--known-hosts", emptyKnownHosts);
    expect(auth.status).toBe(2);
    expect(auth.stderr).toBe(
      `error: -i ${stranger}: ${sshd.user}@127.0.0.1:${sshd.port} refused the key (All configured authentication methods failed); ` +
        `add its public key to ~${sshd.user}/.ssh/authorized_keys on the host, or give the right key with -i\n`,
    );
  });
});
