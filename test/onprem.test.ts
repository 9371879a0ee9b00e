/**
 * `onprem.Host` under Pulumi mocks (the probe command's inputs, parentage, secrecy, the probe
 * parsed from stdout and checked against the declared inventory), and the probe script itself:
 * shellchecked, and run for real with stand-in `nvidia-smi`s that replay captured fixtures.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveHost, type HostFacts } from "../core/fleet";
import { OnpremHostConfig } from "../core/config/schema";
import { parseLscpu, parseMeminfo } from "../core/probe/parse";
import {
  compareInventory,
  parseProbeOutput,
  probeCommand,
  probeScriptHash,
  renderProbeScript,
  splitProbeOutput,
  type ProbeGpu,
  type ProbeResult,
} from "../core/probe/ssh";
import { checkProbe, Host, onpremHostProblems, type HostArgs } from "../components/onprem";
import { findInClear, outputValue, recordResources, SECRET_SIG, SECRET_SIG_KEY, type Recorder } from "./helpers/mocks";

const FIXTURES = path.join(__dirname, "fixtures", "probe");
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only-not-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n";

/**
 * Runs the rendered probe (as `sh -c '<script>'`, exactly as sent over SSH) on this machine with
 * stand-in programs first on PATH; returns its stdout. lscpu, /proc/meminfo and os-release are real.
 */
function runProbeLocally(stubs: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-probe-"));
  try {
    for (const [name, body] of Object.entries(stubs)) fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    const r = spawnSync("sh", ["-c", probeCommand()], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}` } });
    if (r.status !== 0) throw new Error(`probe exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A stand-in nvidia-smi replaying fixtures: the query, and the banner for plain `nvidia-smi`. */
const nvidiaSmi = (query: string, banner = "nvidia-smi-banner-h100.txt", refuseComputeCap = false): string =>
  [
    'case "$*" in',
    refuseComputeCap ? `  *compute_cap*) cat '${path.join(FIXTURES, "nvidia-smi-compute-cap-invalid.txt")}'; exit 2 ;;` : "",
    `  --query-gpu=*) cat '${path.join(FIXTURES, query)}' ;;`,
    `  "") cat '${path.join(FIXTURES, banner)}' ;;`,
    "  *) echo unexpected nvidia-smi arguments: \"$*\" >&2; exit 9 ;;",
    "esac",
  ].join("\n");

const H100_STDOUT = runProbeLocally({ "nvidia-smi": nvidiaSmi("nvidia-smi-query-8xh100.csv") });

/**
 * Runs a Pulumi program that declares one Host under mocks (the command's stdout given) in a child
 * process, as `pulumi up` would run it; returns its exit status and output.
 */
function runMockedProgram(hostArgs: HostArgs, commandStdout: string): { status: number | null; stdout: string; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-program-"));
  try {
    const file = path.join(dir, "program.ts");
    fs.writeFileSync(
      file,
      [
        `import * as pulumi from ${JSON.stringify(require.resolve("@pulumi/pulumi"))};`,
        `import { Host } from ${JSON.stringify(path.join(__dirname, "..", "components", "onprem"))};`,
        `const stdout = ${JSON.stringify(commandStdout)};`,
        "void pulumi.runtime",
        "  .setMocks({ newResource: (a) => ({ id: `${a.name}-id`, state: a.type === \"command:remote:Command\" ? { ...a.inputs, stdout } : a.inputs }), call: (a) => a.inputs })",
        `  .then(() => { const host = new Host("gpu1", ${JSON.stringify(hostArgs)}); return host.probe.apply(() => console.log("constructed")); });`,
        "",
      ].join("\n"),
    );
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: path.join(__dirname, ".."), encoding: "utf8", timeout: 60000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function facts(inventory: { gpu: string | null; gpuCount: number; ramGiB?: number }): HostFacts {
  const cfg = OnpremHostConfig.parse({ name: "gpu1", kind: "onprem", site: "basement", address: "10.0.0.5", hostKey: HOST_KEY, inventory });
  const problems: string[] = [];
  const f = resolveHost(cfg, 0, [{ name: "basement", cooling: "air", powerBudgetWatts: 8000 }], problems);
  if (!f) throw new Error(problems.join("\n"));
  return f;
}

// shellcheck: CI must have it (the test fails there without it); elsewhere it skips, saying why.
const HAVE_SHELLCHECK = spawnSync("sh", ["-c", "command -v shellcheck"], { encoding: "utf8" }).status === 0;
const SHELLCHECK_MISSING = "shellcheck is required to lint the rendered probe script; install it with `apt-get install -y shellcheck`";
if (!HAVE_SHELLCHECK && process.env.CI !== "true") console.warn(`skipping the shellcheck test: ${SHELLCHECK_MISSING} (set CI=true to make this a failure)`);
const itShellcheck = HAVE_SHELLCHECK || process.env.CI === "true" ? it : it.skip;

describe("probe script", () => {
  itShellcheck("passes shellcheck as POSIX sh, and so does the sh -c wrapper sent over SSH", () => {
    if (!HAVE_SHELLCHECK) throw new Error(SHELLCHECK_MISSING);
    for (const text of [renderProbeScript(), `${probeCommand()}\n`]) {
      const r = spawnSync("shellcheck", ["--shell=sh", "--severity=style", "-"], { input: text, encoding: "utf8" });
      expect(r.stdout).toBe("");
      expect(r.status).toBe(0);
    }
  });

  it("prints every section between markers; absent programs are marked absent", () => {
    const s = splitProbeOutput(runProbeLocally({}));
    expect(s["nvidia-query"]).toEqual({ text: "", rc: null });
    expect(s.rocm.rc).toBeNull();
    expect(s.lscpu.rc).toBe(0);
    expect(parseLscpu(s.lscpu.text).cpus).toBe(parseLscpu(spawnSync("lscpu", { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } }).stdout).cpus);
    expect(parseMeminfo(s.meminfo.text).memTotalKiB).toBe(parseMeminfo(fs.readFileSync("/proc/meminfo", "utf8")).memTotalKiB);
  });

  it("asks nvidia-smi again without compute_cap when the driver refuses the field (P100, driver 470)", () => {
    const out = runProbeLocally({ "nvidia-smi": nvidiaSmi("nvidia-smi-query-p100-no-compute-cap.csv", "nvidia-smi-banner-h100.txt", true) });
    const r = parseProbeOutput(out, HOST_KEY);
    expect(r.gpus).toEqual([
      { vendor: "nvidia", index: 0, name: "Tesla P100-PCIE-16GB", memoryMiB: 16280, catalogId: "tesla-p100-16gb", powerLimitWatts: 250, busId: "00000000:00:04.0", computeCapability: null },
    ]);
    expect(r.driverVersion).toBe("470.182.03");
  });

  it("reads AMD GPUs from rocm-smi JSON", () => {
    const r = parseProbeOutput(runProbeLocally({ "rocm-smi": `cat '${path.join(FIXTURES, "rocm-smi-mi300x-vf.json")}'` }), HOST_KEY);
    expect(r.gpus.map((g) => [g.vendor, g.catalogId])).toEqual(r.gpus.map(() => ["amd", "mi300x"]));
    expect(r.gpus.length).toBeGreaterThan(0);
    expect(r.driverVersion).toBeNull();
  });

  it("fails with the driver's own words when nvidia-smi cannot reach the driver", () => {
    const out = runProbeLocally({ "nvidia-smi": `cat '${path.join(FIXTURES, "nvidia-smi-driver-not-loaded.txt")}'; exit 9` });
    expect(() => parseProbeOutput(out, HOST_KEY)).toThrow(/the NVIDIA driver is not loaded/);
  });

  it("names the missing section when the output is cut short", () => {
    expect(() => parseProbeOutput(H100_STDOUT.split("@@gpu-hosting-probe begin lscpu")[0]!, HOST_KEY)).toThrow(
      'probe output: no "@@gpu-hosting-probe begin lscpu" line; expected the output of the gpu-hosting probe script',
    );
  });

  it("has a stable content hash for triggers", () => {
    expect(probeScriptHash()).toMatch(/^[0-9a-f]{64}$/);
    expect(probeScriptHash()).toBe(probeScriptHash(renderProbeScript()));
    expect(probeScriptHash("echo other")).not.toBe(probeScriptHash());
  });
});

describe("compareInventory", () => {
  const gpu = (name: string, catalogId: string | null): ProbeGpu => ({ vendor: "nvidia", index: 0, name, memoryMiB: 24564, catalogId, powerLimitWatts: 450, busId: "00000000:01:00.0", computeCapability: "8.9" });
  const rtx = gpu("NVIDIA GeForce RTX 4090", "rtx-4090");

  it.each<[string, { gpu: string | null; gpuCount: number; ramGiB?: number }, Pick<ProbeResult, "gpus" | "memTotalGiB">, string[]]>([
    ["agrees on 2 × RTX 4090", { gpu: "rtx-4090", gpuCount: 2 }, { gpus: [rtx, rtx], memTotalGiB: 125.6 }, []],
    ["reports a missing GPU with both values", { gpu: "rtx-4090", gpuCount: 2 }, { gpus: [rtx], memTotalGiB: 125.6 }, ["inventory.gpuCount: declared 2 × rtx-4090, probe found 1 × NVIDIA GeForce RTX 4090 (rtx-4090)"]],
    ["reports another model", { gpu: "rtx-4090", gpuCount: 1 }, { gpus: [gpu("NVIDIA L4", "l4")], memTotalGiB: 31 }, ["inventory.gpu: declared 1 × rtx-4090, probe found 1 × NVIDIA L4 (l4)"]],
    ["reports GPUs on a host declared CPU-only", { gpu: null, gpuCount: 0 }, { gpus: [rtx], memTotalGiB: 31 }, ["inventory.gpu: declared no GPUs (gpu: null), probe found 1 × NVIDIA GeForce RTX 4090 (rtx-4090)"]],
    ["reports no GPUs found", { gpu: "l4", gpuCount: 1 }, { gpus: [], memTotalGiB: 31 }, ["inventory.gpu: declared 1 × l4, probe found no GPUs"]],
    ["reports a GPU the catalog does not know", { gpu: "l4", gpuCount: 1 }, { gpus: [gpu("NVIDIA A2", null)], memTotalGiB: 31 }, ["inventory.gpu: declared 1 × l4, probe found 1 × NVIDIA A2 (not in the catalog)"]],
    ["accepts MemTotal a little under the installed RAM", { gpu: null, gpuCount: 0, ramGiB: 256 }, { gpus: [], memTotalGiB: 251.5 }, []],
    ["reports RAM far from MemTotal", { gpu: null, gpuCount: 0, ramGiB: 512 }, { gpus: [], memTotalGiB: 251.5 }, ["inventory.ramGiB: declared 512 GiB, probe found 251.5 GiB (MemTotal)"]],
  ])("%s", (_name, declared, probe, expected) => {
    expect(compareInventory(declared, probe).map((m) => m.message)).toEqual(expected);
  });
});

describe("onprem.Host under mocks", () => {
  let rec: Recorder;
  let stdout = H100_STDOUT;

  beforeAll(async () => {
    rec = await recordResources({ state: (args) => (args.type === "command:remote:Command" ? { stdout, stderr: "" } : undefined) });
  });
  beforeEach(() => {
    rec.reset();
    stdout = H100_STDOUT;
  });

  const args = (over: Partial<ConstructorParameters<typeof Host>[1]> = {}): ConstructorParameters<typeof Host>[1] => ({
    address: "10.0.0.5",
    port: 2222,
    user: "llm",
    privateKey: PRIVATE_KEY,
    hostKey: `${HOST_KEY} root@gpu1`,
    facts: facts({ gpu: "h100-sxm-80gb", gpuCount: 8 }),
    ...over,
  });

  it("runs the probe over SSH as a child, with the pinned key, the key as a secret, and no delete command", async () => {
    const host = new Host("gpu1", args());
    await rec.settled(host.urn, host.probe);
    const cmd = rec.one("command:remote:Command", "gpu1-probe");
    const hostUrn = (await outputValue(host.urn)).value!;
    expect(hostUrn).toBe("urn:pulumi:stack::project::gpu-hosting:onprem:Host::gpu1");
    expect(cmd.urn).toBe("urn:pulumi:stack::project::gpu-hosting:onprem:Host$command:remote:Command::gpu1-probe");
    expect(cmd.parentUrn).toBe(hostUrn);
    // An object holding a secret is secret as a whole: the connection travels wrapped.
    const conn = cmd.inputs.connection as Record<string, unknown>;
    expect(conn[SECRET_SIG_KEY]).toBe(SECRET_SIG);
    expect(conn.value).toMatchObject({ host: "10.0.0.5", port: 2222, user: "llm", hostKey: HOST_KEY, privateKey: PRIVATE_KEY });
    expect(findInClear(cmd.inputs, "test-only-not-a-real-key")).toEqual([]);
    expect(cmd.inputs.create).toBe(probeCommand());
    expect(cmd.inputs.delete).toBeUndefined();
    expect(cmd.inputs.update).toBeUndefined();
    expect(cmd.inputs.triggers).toEqual([probeScriptHash()]);
  });

  it("exposes the probe parsed from the command's stdout, and the connection", async () => {
    const host = new Host("gpu1", args());
    const probe = (await outputValue(host.probe)).value!;
    expect(probe.gpus).toHaveLength(8);
    expect(probe.gpus[0]).toEqual({ vendor: "nvidia", index: 0, name: "NVIDIA H100 80GB HBM3", memoryMiB: 81559, catalogId: "h100-sxm-80gb", powerLimitWatts: 700, busId: "00000000:18:00.0", computeCapability: "9.0" });
    expect(probe).toMatchObject({ driverVersion: "550.54.15", cudaVersion: "12.4", hostKey: { type: "ssh-ed25519" }, hostKeyFingerprint: "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU" });
    expect(probe.memTotalGiB).toBeCloseTo(parseMeminfo(fs.readFileSync("/proc/meminfo", "utf8")).memTotalGiB, 6);
    expect(host.connection.port).toBe(2222);
    expect(host.connection.user).toBe("llm");
    expect((await outputValue(host.connection.host)).value).toBe("10.0.0.5");
    expect((await outputValue(host.connection.hostKey!)).value).toBe(HOST_KEY);
    const key = await outputValue(host.connection.privateKey);
    expect(key).toEqual({ value: PRIVATE_KEY, isSecret: true, isKnown: true });
    expect(host.facts.gpu).toBe("h100-sxm-80gb");
  });

  it("never registers the private key in clear", async () => {
    const host = new Host("gpu1", args());
    await rec.settled(host.urn, host.probe);
    const self = rec.one("gpu-hosting:onprem:Host", "gpu1");
    expect(self.outputs).toMatchObject({ facts: { gpu: "h100-sxm-80gb", gpuCount: 8 }, connection: { host: "10.0.0.5", port: 2222, user: "llm", hostKey: HOST_KEY } });
    expect((self.outputs?.probe as ProbeResult).gpus).toHaveLength(8);
    expect(findInClear(rec.resources, "test-only-not-a-real-key")).toEqual([]);
  });

  it("fails the program with both values when the probe disagrees with the declared inventory", () => {
    const expected =
      "onprem.Host gpu1: the probe disagrees with the declared inventory:\n" +
      "  inventory.gpuCount: declared 4 × h100-sxm-80gb, probe found 8 × NVIDIA H100 80GB HBM3 (h100-sxm-80gb)\n" +
      "Correct the host's inventory in the stack file";
    expect(() => checkProbe("onprem.Host gpu1", H100_STDOUT, HOST_KEY, { gpu: "h100-sxm-80gb", gpuCount: 4, ramGiB: null })).toThrow(expected);
    // The failed apply also fails registerOutputs, which Pulumi surfaces as an unhandled rejection
    // that ends the program (jest would pin it on this test): run the program as its own process.
    const ok = runMockedProgram(args(), H100_STDOUT);
    expect(ok).toMatchObject({ status: 0, stdout: "constructed\n" });
    const r = runMockedProgram(args({ facts: facts({ gpu: "h100-sxm-80gb", gpuCount: 4 }) }), H100_STDOUT);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(expected);
    expect(r.stdout).not.toContain("constructed");
  });

  it("declares no command with probe: false", async () => {
    const host = new Host("gpu1", args({ probe: false }));
    await rec.settled(host.urn);
    expect(rec.ofType("command:remote:Command")).toEqual([]);
    expect((await outputValue(host.probe)).value).toBeNull();
  });

  it("rejects a GPU id the catalog does not know, naming the closest ids", () => {
    const f = { ...facts({ gpu: "h100-sxm-80gb", gpuCount: 8 }), gpu: "h100-sxm" };
    expect(() => new Host("gpu1", args({ facts: f }))).toThrow(/^onprem\.Host gpu1: facts\.gpu "h100-sxm" is not a GPU id of the catalog; closest: h100-sxm-80gb/);
  });

  it.each([
    ["ssh-ed25519", 'hostKey: got "ssh-ed25519"; expected a public host key as in known_hosts'],
    ["ssh-dss AAAAB3NzaC1kc3MAAACBAP", 'hostKey: got key type "ssh-dss"'],
    ["ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", 'whose base64 blob is a "ssh-ed25519" key'],
  ])("rejects the host key %j", (hostKey, message) => {
    expect(onpremHostProblems("onprem.Host gpu1", { hostKey, facts: facts({ gpu: null, gpuCount: 0 }) })).toEqual([expect.stringContaining(message)]);
    expect(() => new Host("gpu1", args({ hostKey }))).toThrow(message);
  });
});
