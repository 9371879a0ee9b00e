/**
 * A CPU host serving a deployment end to end: an owned (`kind: onprem`) CPU-only host, planned by
 * `planStack` from a small stack written here, its layers applied over SSH with the components' own
 * command (`RUN_AS_ROOT`, the script on stdin), the secret files written with the component's
 * command, Caddy from the image's local apt repository with its internal CA, and the official
 * `openai` client talking to it from this machine through the forwarder.
 *
 * What is a stand-in (test/host/standins.ts, clearly named on the host): `docker` and the engine.
 * The image has no network and no docker.io, so `/usr/bin/docker` is a stand-in that execs a small
 * python3 OpenAI-compatible server; the rendered systemd unit (for real) runs it with the flags,
 * port binding and env file it renders. Everything else is the real thing: systemd, apt, Caddy.
 *
 * The host is booted with the hardening cloud-config only to give it the admin user `llm` with sudo
 * and the test's key (an owned host reached as a sudo user); onprem hosts get no cloud-config.
 */
import https from "node:https";
import OpenAI from "openai";
import { renderHardeningCloudConfig } from "../../core/cloudinit";
import { checkStackConfig, readStackYaml } from "../../core/checks/stackFile";
import { planStack, type HostPlan } from "../../core/layers/plan";
import type { LayerScript } from "../../core/layers/types";
import { RUN_AS_ROOT } from "../../components/layers/hostSoftware";
import { STANDIN_FILES } from "./standins";
import { bootTestHost, buildTestHost, clientKey, describeWithTestHost, phaseRecorder, ssh, testHostMissing, type SshResult, type TestHost, type TestHostImage } from "./testHost";

/**
 * debootstrap's minbase writes no /etc/hosts, and cloud-init (manage_etc_hosts: localhost) adds only the
 * host name; Caddy's Go resolver then asks DNS for "localhost" (its admin endpoint) and fails. Cloud
 * images have these lines; so does this boot.
 */
const ETC_HOSTS = { path: "/etc/hosts", content: "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n", mode: 0o644 };
const ADMIN = "llm";
const API_KEY = "test-endpoint-key-0123456789abcdef";

const { phases, phase } = phaseRecorder();

/** A one-host CPU stack: an owned host without GPUs serving one small model. */
function cpuStack(hostKey: string, context: string): HostPlan {
  const yaml = `config:
  gpu-hosting:sites:
    - name: test-site
      powerBudgetWatts: 3600
      country: DE
      electricityEurPerKwh: 0.32
  gpu-hosting:hosts:
    - name: cpu-host
      kind: onprem
      site: test-site
      address: 127.0.0.1
      user: ${ADMIN}
      hostKey: ${hostKey}
      inventory:
        gpu: null
        gpuCount: 0
        ramGiB: 16
  gpu-hosting:deployments:
    - name: chat
      model: Qwen/Qwen2.5-0.5B-Instruct
      hosts: [cpu-host]
      context: ${context}
      concurrency: 1
`;
  const { config, fleet } = checkStackConfig(readStackYaml(yaml, "cpu-stack.yaml"), "cpu-stack.yaml");
  const plans = planStack(config, fleet);
  if (plans.length !== 1) throw new Error(`expected one host plan, got ${plans.length}`);
  return plans[0]!;
}

/**
 * The command `layers.HostSoftware` runs for a secret file (components/layers/hostSoftware.ts, the
 * secret step's `create`; not exported there, so spelled out here the same way), content on stdin.
 */
function secretFileCommand(file: string, readers: string[]): string {
  const dir = file.slice(0, file.lastIndexOf("/")) || "/";
  return `if [ "$(id -u)" = 0 ]; then S=; else S="sudo -n"; fi; $S sh -c 'umask 077; mkdir -p ${dir} && cat > ${file}.new && mv ${file}.new ${file}'${readers.length > 0 ? ` && { $S systemctl try-restart ${readers.join(" ")} 2>/dev/null || true; }` : ""}`;
}

/** The content `secretFileContent` (components/fleet.ts) gives a secret file: `*_API_KEY` the endpoint's key, no HF token here. */
const secretContent = (variables: string[]): string => variables.filter((v) => /API_KEY$/.test(v)).map((v) => `${v}=${API_KEY}\n`).join("");

/** A fetch for the openai client over node:https that trusts only the given CA (Caddy's internal root). */
function fetchWithCa(ca: string): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input.toString() : input.url);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const body = init?.body === undefined || init.body === null ? undefined : typeof init.body === "string" ? init.body : Buffer.from(await new Response(init.body).arrayBuffer());
    return new Promise<Response>((resolve, reject) => {
      const req = https.request(url, { method: init?.method ?? "GET", headers, ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
          resolve(new Response(chunks.length ? Buffer.concat(chunks) : null, { status: res.statusCode ?? 0, headers: h }));
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  }) as typeof fetch;
}

describeWithTestHost("a CPU-only onprem host serving a deployment (stand-in docker and engine, real systemd, apt, Caddy)", () => {
  let image: TestHostImage;
  let host: TestHost | undefined;
  let plan: HostPlan;
  let httpsPort: number;
  let ca: string;
  const key = testHostMissing() ? undefined : clientKey();
  const as = (command: string, stdin?: string): Promise<SshResult> =>
    ssh({ host: host!.host, port: host!.port, user: ADMIN, privateKey: key!.privateKey, hostKey: host!.hostKey, command, stdin, timeoutMs: 300_000 });
  const llm = async (command: string, stdin?: string): Promise<string> => {
    const r = await as(command, stdin);
    if (r.code !== 0) throw new Error(`${command} exited ${r.code}:\n${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };
  const layer = (p: HostPlan, name: LayerScript["layer"]): LayerScript => {
    const l = p.layers.find((x) => x.layer === name);
    if (!l) throw new Error(`the plan has no ${name} layer: ${p.layers.map((x) => x.name).join(" ")}`);
    return l;
  };
  /** Applies a layer as the component does; returns its last stderr line ("gpu-hosting: <layer>: changed|unchanged"). */
  const apply = async (l: LayerScript, label: string): Promise<string> => {
    const r = await phase(`${l.name} (${label})`, () => as(RUN_AS_ROOT, l.script), (x) => `exit ${x.code}: ${x.stderr.trim().split("\n").pop()}`);
    if (r.code !== 0) {
      const journal = await host!.inside("journalctl -u caddy.service -u gpu-hosting-chat.service -n 60 --no-pager -o short-monotonic");
      throw new Error(`${l.name} exited ${r.code}:\n${r.stderr}${r.stdout}\n--- journal ---\n${journal.stdout}`);
    }
    return r.stderr.trim().split("\n").pop()!;
  };
  /** When each unit last became active, and its main pid: changes on every (re)start. */
  const started = async (units: string[]): Promise<string> => llm(`systemctl show -p ActiveEnterTimestampMonotonic -p MainPID ${units.join(" ")}`);
  const client = (apiKey: string): OpenAI =>
    new OpenAI({ apiKey, baseURL: `https://127.0.0.1:${httpsPort}/${plan.deployments[0]!.name}/v1`, fetch: fetchWithCa(ca), maxRetries: 0, timeout: 30_000 });

  beforeAll(async () => {
    image = await phase("image", () => buildTestHost(), (i) => `${i.builtMs === null ? "reused" : "built"} ${i.rootfs}`);
    host = await phase(
      "boot until sshd answers",
      () => bootTestHost({ image, userData: renderHardeningCloudConfig({ adminUser: ADMIN, sshPublicKeys: [key!.publicKey] }), hostname: "cpu-host", publicKeys: [key!.publicKey], files: [...STANDIN_FILES, ETC_HOSTS] }),
      (h) => `${h.name}, stand-ins: ${STANDIN_FILES.map((f) => f.path).join(" ")}`,
    );
    plan = await phase("render", async () => cpuStack(host!.hostKey, "4k"), (p) => `host ${p.host} (${p.kind}), admin user ${p.adminUser}, layers ${p.layers.map((l) => l.name).join(" ")}`);
    await phase("cloud-init status --wait", () => llm("cloud-init status --wait || true"));
  }, 30 * 60_000);

  afterAll(async () => {
    if (host) await phase("stop", () => host!.stop());
    key?.dispose();
    console.log(`[test-host] phases (CPU host):\n${phases.map(([n, ms, note]) => `  ${n.padEnd(38)} ${(ms / 1000).toFixed(1).padStart(7)} s  ${note}`).join("\n")}`);
  }, 120_000);

  it("plans the CPU host with a gpu layer of vendor none, and applies base and gpu (Docker only) over SSH", async () => {
    expect(plan.adminUser).toBe(ADMIN);
    expect(plan.layers.map((l) => l.layer)).toEqual(["base", "gpu", "inference", "endpoint", "health"]);
    expect(layer(plan, "gpu").script).toContain('log "no GPU declared: Docker only"');
    expect(await apply(layer(plan, "base"), "first run")).toMatch(/gpu-hosting: base: (un)?changed$/);
    const gpu = await as(RUN_AS_ROOT, layer(plan, "gpu").script);
    expect(gpu.code).toBe(0);
    expect(gpu.stderr).toContain("gpu-hosting: gpu: no GPU declared: Docker only");
    expect(gpu.stdout).not.toContain("reboot required");
    expect(await llm("systemctl is-active docker.service")).toBe("active");
    expect(await llm("docker info")).toMatch(/stand-in docker/);
  });

  it("writes the secret files with the component's command, applies inference, endpoint and health; the health layer passes", async () => {
    for (const ref of plan.secrets) {
      const r = await as(secretFileCommand(ref.path, plan.secretReaders[ref.path] ?? []), secretContent(ref.variables));
      expect(r.code).toBe(0);
      expect((await host!.inside(`stat -c '%a %U' ${ref.path}`)).stdout.trim()).toBe("600 root");
    }
    expect(await apply(layer(plan, "inference"), "first run")).toMatch(/gpu-hosting: inference: changed$/);
    expect(await llm("systemctl is-active gpu-hosting-chat.service")).toBe("active");
    // The rendered unit runs the stand-in engine through the stand-in docker, with the unit's flags.
    const cmdline = await llm("ps -o args= -p $(systemctl show -p MainPID --value gpu-hosting-chat.service)");
    expect(cmdline).toMatch(/engine\.py 127\.0\.0\.1 8000 .*--alias chat .*-c 4096/);
    // The run that installs caddy goes on to validate, restart and say "changed" (apt never reads the script).
    expect(await apply(layer(plan, "endpoint"), "first run, installs caddy")).toMatch(/gpu-hosting: endpoint: changed$/);
    expect(await llm("systemctl is-active caddy.service")).toBe("active");
    expect(await apply(layer(plan, "health"), "first run")).toMatch(/gpu-hosting: health: unchanged$/);
    const health = await as(RUN_AS_ROOT, layer(plan, "health").script);
    expect(health.stderr).toContain("gpu-hosting: health: healthy: https://127.0.0.1/ serves chat");
  });

  // Found by this suite: the layer arrives on bash's stdin (RUN_AS_ROOT is `bash -s`), and apt-get once read
  // the rest of the script from it, so a fresh install of caddy ended the layer early with exit 0. The body
  // now runs in one function with stdin from /dev/null (core/layers/script.ts); this test keeps it so.
  it("runs the endpoint layer that installs caddy on a fresh host to its end", async () => {
    const fresh = await as("sudo -n apt-get purge -y -q caddy </dev/null >/dev/null 2>&1; sudo -n rm -f /var/lib/gpu-hosting/caddy-dropin.sha256; command -v caddy || echo gone");
    expect(fresh.stdout.trim()).toBe("gone");
    const r = await as(RUN_AS_ROOT, layer(plan, "endpoint").script);
    expect(r.code).toBe(0);
    expect(r.stderr.trim().split("\n").pop()).toMatch(/^gpu-hosting: endpoint: changed$/);
    expect(await llm("systemctl is-active caddy.service")).toBe("active");
  });

  it("serves the official openai client over TLS from Caddy's internal CA through the forwarder; without the key 401", async () => {
    httpsPort = await host!.forward(443);
    ca = await llm("sudo -n cat /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt");
    expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const ok = client(API_KEY);
    const models = await phase("openai models.list", async () => (await ok.models.list()).data, (d) => d.map((m) => m.id).join(", "));
    expect(models.map((m) => m.id)).toEqual(["chat"]);
    expect((models[0] as unknown as { max_model_len: number }).max_model_len).toBe(4096);
    const chat = await phase(
      "openai chat.completions.create",
      () => ok.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "Say hello" }] }),
      (c) => JSON.stringify(c.choices[0]?.message.content),
    );
    expect(chat.choices[0]?.message.content).toContain("got: Say hello");
    // A wrong key: Caddy answers 401 before the engine sees the request.
    await expect(client("not-the-key-0123456789").models.list()).rejects.toMatchObject({ status: 401 });
    // No key at all (no Authorization header): 401 too.
    const noKey = await new Promise<number>((resolve, reject) => {
      https.get({ host: "127.0.0.1", port: httpsPort, path: "/chat/v1/models", ca }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on("error", reject);
    });
    expect(noKey).toBe(401);
    // A certificate from another CA is not trusted: the client checks the chain.
    await expect(new OpenAI({ apiKey: API_KEY, baseURL: `https://127.0.0.1:${httpsPort}/chat/v1`, maxRetries: 0, timeout: 10_000 }).models.list()).rejects.toThrow();
  });

  it("a second apply changes nothing; a new context re-renders only the inference layer and restarts only its unit", async () => {
    const units = ["gpu-hosting-chat.service", "caddy.service"];
    const before = await started(units);
    for (const name of ["inference", "endpoint", "health"] as const) expect(await apply(layer(plan, name), "second run")).toMatch(new RegExp(`gpu-hosting: ${name}: unchanged$`));
    expect(await started(units)).toBe(before);

    const next = cpuStack(host!.hostKey, "8k");
    expect(layer(next, "inference").hash).not.toBe(layer(plan, "inference").hash);
    for (const name of ["base", "gpu", "endpoint", "health"] as const) expect(layer(next, name).hash).toBe(layer(plan, name).hash);
    const caddyBefore = await started(["caddy.service"]);
    const chatBefore = await started(["gpu-hosting-chat.service"]);
    expect(await apply(layer(next, "inference"), "context 8k")).toMatch(/gpu-hosting: inference: changed$/);
    for (const name of ["endpoint", "health"] as const) expect(await apply(layer(next, name), "after context 8k")).toMatch(new RegExp(`gpu-hosting: ${name}: unchanged$`));
    expect(await started(["caddy.service"])).toBe(caddyBefore);
    expect(await started(["gpu-hosting-chat.service"])).not.toBe(chatBefore);
    expect(await llm("systemctl show -p ExecStart --value gpu-hosting-chat.service")).toMatch(/ -c 8192 /);
    expect(await llm("ps -o args= -p $(systemctl show -p MainPID --value gpu-hosting-chat.service)")).toMatch(/-c 8192/);
    const models = (await client(API_KEY).models.list()).data;
    expect((models[0] as unknown as { max_model_len: number }).max_model_len).toBe(8192);
  });
});
