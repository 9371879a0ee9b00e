/**
 * A CPU host serving a deployment end to end: an owned (`kind: onprem`) CPU-only host, planned by
 * `planStack` from a small stack written here, its layers applied over SSH with the components' own
 * command (`RUN_AS_ROOT`, the script on stdin), the secret files written with the component's
 * command, Caddy from the image's local apt repository with its internal CA, and the official
 * `openai` client talking to it from this machine through the forwarder.
 *
 * What is a stand-in (test/host/standins.ts, clearly named on the host): `docker`. The image has no
 * network and no docker.io, so `/usr/bin/docker` is a stand-in that, for the llama.cpp image, execs
 * a real llama.cpp on CPU (test/host/engine.ts: node-llama-cpp, bind-mounted into the host, running
 * the tiny GGUF of test/host/tinyGguf.ts behind a small OpenAI-compatible server of ours, not
 * llama-server); the rendered systemd unit (for real) runs it with the flags, port binding and env
 * file it renders. Everything else is the real thing: systemd, apt, Caddy.
 *
 * The host is booted with the hardening cloud-config only to give it the admin user `llm` with sudo
 * and the test's key (an owned host reached as a sudo user); onprem hosts get no cloud-config.
 *
 * Then, in order: the gpu verification in its CPU form (and as a host declared with an L4 would see
 * it), the engine port refused from a second network namespace while 443 answers, a second apply,
 * a new context, a reboot, and a second deployment added and removed with the component's delete.
 * The tests share one host and run in order: each starts from the state the one before left.
 */
import OpenAI from "openai";
import { renderHardeningCloudConfig } from "../../core/cloudinit";
import { REBOOT_MARKER } from "../../core/layers/base";
import type { HostPlan } from "../../core/layers/plan";
import type { LayerScript } from "../../core/layers/types";
import { RUN_AS_ROOT } from "../../components/layers/hostSoftware";
import { HOST_ADDRESS, joinOutside, OUTSIDE_PROBE } from "./outside";
import { ADMIN, API_KEY, ETC_HOSTS, fetchWithCa, httpsGet, planTestStack, removalCommand, secretContent, secretFileCommand, secretFileDeleteCommand } from "./serving";
import { ENGINE_DIR_IN_HOST, engineBinds, installCpuEngine, NODE_LLAMA_CPP_VERSION } from "./engine";
import { NVIDIA_SMI_STANDIN, STANDIN_FILES } from "./standins";
import { TINY_ANSWER_BYTE } from "./tinyGguf";
import { bootTestHost, rebootAndWait, buildTestHost, clientKey, describeWithTestHost, phaseRecorder, ssh, testHostMissing, type SshResult, type TestHost, type TestHostImage } from "./testHost";

const { phases, phase } = phaseRecorder();

/** A one-host CPU stack: an owned host without GPUs serving one small model. */
const cpuStack = (hostKey: string, context: string): HostPlan => planTestStack({ hostKey, deployments: [{ name: "chat", context }] });

describeWithTestHost("a CPU-only onprem host serving a deployment (stand-in docker; llama.cpp on CPU with a tiny model; real systemd, apt, Caddy)", () => {
  let image: TestHostImage;
  let host: TestHost | undefined;
  let plan: HostPlan;
  /** The plan last applied (the context test moves it to 8k). */
  let current: HostPlan;
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
  /** A plan's layer by kind ("inference": the first) or by script name ("40-inference-second.sh"). */
  const layer = (p: HostPlan, name: LayerScript["layer"] | `${string}.sh`): LayerScript => {
    const l = p.layers.find((x) => x.layer === name || x.name === name);
    if (!l) throw new Error(`the plan has no ${name} layer: ${p.layers.map((x) => x.name).join(" ")}`);
    return l;
  };
  /** The gpu verification as the component runs it after the gpu layer (as the admin user, `plan.gpuVerifyCommand`): its stdout. */
  const verification = async (label: string): Promise<string> => {
    const r = await phase(`gpu verification (${label})`, () => as(plan.gpuVerifyCommand), (x) => `exit ${x.code}`);
    expect(r.code).toBe(0);
    return r.stdout;
  };
  /** Applies a layer as the component does; returns its last stderr line ("gpu-hosting: <layer>: changed|unchanged"). */
  const apply = async (l: LayerScript, label: string): Promise<string> => {
    const r = await phase(`${l.name} (${label})`, () => as(RUN_AS_ROOT, l.script), (x) => `exit ${x.code}: ${x.stderr.trim().split("\n").pop()}`);
    if (r.code !== 0) {
      const journal = await host!.inside("journalctl -u caddy.service -u 'gpu-hosting-*' -n 60 --no-pager -o short-monotonic");
      throw new Error(`${l.name} exited ${r.code}:\n${r.stderr}${r.stdout}\n--- journal ---\n${journal.stdout}`);
    }
    return r.stderr.trim().split("\n").pop()!;
  };
  /** When each unit last became active, and its main pid: changes on every (re)start. */
  const started = async (units: string[]): Promise<string> => llm(`systemctl show -p ActiveEnterTimestampMonotonic -p MainPID ${units.join(" ")}`);
  const client = (apiKey: string): OpenAI =>
    new OpenAI({ apiKey, baseURL: `https://127.0.0.1:${httpsPort}/${plan.deployments[0]!.name}/v1`, fetch: fetchWithCa(ca), maxRetries: 0, timeout: 120_000 });

  beforeAll(async () => {
    image = await phase("image", () => buildTestHost(), (i) => `${i.builtMs === null ? "reused" : "built"} ${i.rootfs}`);
    const engine = await phase("cpu engine", () => installCpuEngine(), (e) => `node-llama-cpp ${NODE_LLAMA_CPP_VERSION} ${e.installedMs === null ? "reused" : "installed"} in ${e.dir}`);
    host = await phase(
      "boot until sshd answers",
      () => bootTestHost({ image, userData: renderHardeningCloudConfig({ adminUser: ADMIN, sshPublicKeys: [key!.publicKey] }), hostname: "cpu-host", publicKeys: [key!.publicKey], files: [...STANDIN_FILES, ETC_HOSTS], binds: engineBinds(engine.dir) }),
      (h) => `${h.name}, stand-ins: ${STANDIN_FILES.map((f) => f.path).join(" ")}; engine: llama.cpp via node-llama-cpp, bound at ${ENGINE_DIR_IN_HOST}`,
    );
    plan = await phase("render", async () => cpuStack(host!.hostKey, "4k"), (p) => `host ${p.host} (${p.kind}), admin user ${p.adminUser}, layers ${p.layers.map((l) => l.name).join(" ")}`);
    await phase("cloud-init status --wait", () => llm("cloud-init status --wait || true"));
  }, 30 * 60_000);

  afterAll(async () => {
    if (host) await phase("stop", () => host!.stop());
    key?.dispose();
    console.log(`[test-host] phases (CPU host):\n${phases.map(([n, ms, note]) => `  ${n.padEnd(52)} ${(ms / 1000).toFixed(1).padStart(7)} s  ${note}`).join("\n")}`);
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

  it("verifies the gpu layer in its CPU form: no GPU and Docker answering is accepted; a host declared with an L4 fails with the expected messages", async () => {
    // The component's reboot step reboots only when the gpu layer left its marker: a CPU host needs none.
    expect((await host!.inside(`test -e ${REBOOT_MARKER}; echo $?`)).stdout.trim()).toBe("1");
    const out = await verification("CPU host");
    expect(out).toContain("@@gpu-hosting-verify end nvidia-query absent");
    expect(out).toContain("@@gpu-hosting-verify end rocm absent");
    expect(out).toContain("@@gpu-hosting-verify end docker-runtimes rc=0");
    expect(out).toContain("@@gpu-hosting-verify end reboot-required rc=1");
    // What the component's gpu-verify step does with it: no problem, so gpuCheck is "ok" and the later layers run.
    expect(plan.verifyGpu(out)).toEqual([]);

    // The same host and output, declared with one NVIDIA L4: the verification fails, saying what is missing and the fix.
    const l4 = planTestStack({ hostKey: host!.hostKey, deployments: [], gpu: { id: "l4", count: 1 } });
    expect(l4.gpuVerifyCommand).toBe(plan.gpuVerifyCommand);
    const problems = l4.verifyGpu(out);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^gpu layer: nvidia-smi is not installed: expected 1 × NVIDIA L4 \(l4\), found no NVIDIA driver; run the gpu layer \(20-gpu\.sh\) again or install the driver/);
    expect(problems[1]).toMatch(/^gpu layer: the NVIDIA Container Toolkit is not installed \(no nvidia-ctk\)/);
    expect(problems[2]).toBe('gpu layer: Docker has no "nvidia" runtime (runtimes: io.containerd.runc.v2, runc); run nvidia-ctk runtime configure --runtime=docker and systemctl restart docker');

    // Docker stopped: the CPU host fails too (fail closed), with the fix.
    await llm("sudo -n systemctl stop docker.service");
    try {
      expect(plan.verifyGpu(await verification("CPU host, docker stopped"))).toEqual([
        'gpu layer: Docker does not answer (docker info exited 1: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"); start it with systemctl enable --now docker',
      ]);
    } finally {
      await llm("sudo -n systemctl start docker.service");
    }

    // A GPU showing up on a host declared without one (a stand-in nvidia-smi answering as an L4 driver): not accepted.
    expect((await host!.inside(`cat > /usr/local/bin/nvidia-smi <<'EOF'\n${NVIDIA_SMI_STANDIN}EOF\nchmod 755 /usr/local/bin/nvidia-smi`)).code).toBe(0);
    try {
      const gpuFound = await verification("CPU host, a stand-in nvidia-smi lists an L4");
      expect(plan.verifyGpu(gpuFound)).toEqual([
        "gpu layer: expected no GPUs (gpu: null), found 1 × NVIDIA L4 (l4); declare them (gpu: l4, gpuCount: 1) so the sizing, power and cost checks count them",
      ]);
      // …and what the L4 host would then still miss is only the container toolkit and runtime.
      expect(l4.verifyGpu(gpuFound)).toEqual([expect.stringMatching(/^gpu layer: the NVIDIA Container Toolkit is not installed/), expect.stringMatching(/^gpu layer: Docker has no "nvidia" runtime/)]);
    } finally {
      await host!.inside("rm -f /usr/local/bin/nvidia-smi");
    }
    expect(plan.verifyGpu(await verification("CPU host, again"))).toEqual([]);
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
    expect(cmdline).toMatch(/^node \S+\/server\.mjs 127\.0\.0\.1 8000 .*--alias chat .*-c 4096/);
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
      () => ok.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "Say hello" }], max_tokens: 8 }),
      (c) => `${JSON.stringify(c.choices[0]?.message.content)} (${c.usage?.prompt_tokens} prompt + ${c.usage?.completion_tokens} completion tokens, ${c.system_fingerprint})`,
    );
    // llama.cpp's greedy decoding of the tiny model: its weights make it answer "A" at every step, 8 tokens as asked.
    expect(chat.choices[0]?.message.content).toBe(TINY_ANSWER_BYTE.repeat(8));
    expect(chat.choices[0]?.finish_reason).toBe("length");
    expect(chat.usage?.completion_tokens).toBe(8);
    // The prompt as the model's vocabulary tokenizes it: "user: Say hello\nassistant:" is 26 characters, each one token (bytes, "▁" for a space).
    expect(chat.usage?.prompt_tokens).toBe(26);
    expect(chat.system_fingerprint).toBe(`llama.cpp via node-llama-cpp ${NODE_LLAMA_CPP_VERSION} (CPU)`);
    // A wrong key: Caddy answers 401 before the engine sees the request.
    await expect(client("not-the-key-0123456789").models.list()).rejects.toMatchObject({ status: 401 });
    // No key at all (no Authorization header): 401 too.
    expect((await httpsGet(httpsPort, "/chat/v1/models", ca)).status).toBe(401);
    // A certificate from another CA is not trusted: the client checks the chain.
    await expect(new OpenAI({ apiKey: API_KEY, baseURL: `https://127.0.0.1:${httpsPort}/chat/v1`, maxRetries: 0, timeout: 10_000 }).models.list()).rejects.toThrow();
  });

  it("refuses plain TCP to the engine port from outside the host (a second namespace on a veth link) while 443 serves through Caddy", async () => {
    // The engine is up and answers on the host's own loopback, but from the LAN only 443 (Caddy) connects…
    expect(JSON.parse((await host!.inside("curl -sS http://127.0.0.1:8000/health")).stdout)).toEqual({ status: "ok" });
    const outside = await phase("join a second namespace to the host (veth)", () => joinOutside(host!), () => `host ${HOST_ADDRESS}`);
    try {
      const probe = await phase("probe from outside", () => outside.node(OUTSIDE_PROBE, [HOST_ADDRESS, "8000,443", "443", "/chat/v1/models"], { PROBE_CA: ca, PROBE_KEY: API_KEY }), (x) => x.replace(/,"body".*$/, "}}"));
      const r = JSON.parse(probe) as { tcp: Record<string, string>; https: { status?: number; body?: string; error?: string } };
      expect(r.tcp["8000"]).toBe("ECONNREFUSED");
      expect(r.tcp["443"]).toBe("connected");
      expect(r.https.status).toBe(200);
      expect((JSON.parse(r.https.body!) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual(["chat"]);
    } finally {
      outside.dispose();
    }
    // …because the rendered unit publishes it on the host's loopback only (no firewall is involved: the layers install none).
    expect(await llm("systemctl show -p ExecStart --value gpu-hosting-chat.service")).toContain(" -p 127.0.0.1:8000:8000 ");
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
    current = next;
  });

  it("comes back serving after a reboot: units enabled, the engine started after docker, healthy through Caddy with TLS and the key", async () => {
    await phase("reboot until SSH answers", () => rebootAndWait(host!, (c) => as(c)));
    // Nothing is applied again: the units the layers enabled start by themselves.
    const models = await phase("until the endpoint answers again", async () => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const r = await httpsGet(httpsPort, "/chat/v1/models", ca, API_KEY).catch((e: Error) => ({ status: 0, body: e.message }));
        if (r.status === 200) return r.body;
        if (Date.now() > deadline) throw new Error(`the endpoint did not answer 200 within 120 s after the reboot (last: ${r.status} ${r.body})`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    });
    expect((JSON.parse(models) as { data: Array<{ id: string; max_model_len: number }> }).data.map((m) => [m.id, m.max_model_len])).toEqual([["chat", 8192]]);
    expect(await llm("systemctl is-enabled gpu-hosting-chat.service caddy.service docker.service")).toBe("enabled\nenabled\nenabled");
    expect(await llm("systemctl is-active gpu-hosting-chat.service caddy.service")).toBe("active\nactive");
    // Ordering: the unit is After= and Requires= docker.service, and its engine started once docker was up.
    expect(await llm("systemctl show -p After --value gpu-hosting-chat.service")).toMatch(/\bdocker\.service\b/);
    const dockerUp = Number(await llm("systemctl show -p ActiveEnterTimestampMonotonic --value docker.service"));
    const engineStart = Number(await llm("systemctl show -p ExecMainStartTimestampMonotonic --value gpu-hosting-chat.service"));
    expect(dockerUp).toBeGreaterThan(0);
    expect(engineStart).toBeGreaterThanOrEqual(dockerUp);
    // The official client, the same CA (Caddy's internal CA survived the reboot) and key; without the key still 401.
    const chat = await phase("openai chat after reboot", () => client(API_KEY).chat.completions.create({ model: "chat", messages: [{ role: "user", content: "Back?" }], max_tokens: 3 }), (c) => JSON.stringify(c.choices[0]?.message.content));
    expect(chat.choices[0]?.message.content).toBe(TINY_ANSWER_BYTE.repeat(3));
    expect((await httpsGet(httpsPort, "/chat/v1/models", ca)).status).toBe(401);
    const health = await as(RUN_AS_ROOT, layer(current, "health").script);
    expect(health.code).toBe(0);
    expect(health.stderr).toContain("gpu-hosting: health: healthy: https://127.0.0.1/ serves chat");
  });

  it("adds a second deployment, then removing it removes its unit, env file and route with the component's delete; chat keeps serving", async () => {
    const both = planTestStack({ hostKey: host!.hostKey, deployments: [{ name: "chat", context: "8k" }, { name: "second", context: "4k" }] });
    const second = layer(both, "40-inference-second.sh");
    // Adding it changes chat's layer not at all, and the endpoint and health layers (one route and model more).
    expect(layer(both, "40-inference-chat.sh").hash).toBe(layer(current, "inference").hash);
    expect(layer(both, "endpoint").hash).not.toBe(layer(current, "endpoint").hash);
    const chatBefore = await started(["gpu-hosting-chat.service"]);
    for (const ref of both.secrets.filter((r) => !current.secrets.some((c) => c.path === r.path))) {
      expect(ref.path).toBe("/etc/gpu-hosting/second.env");
      expect((await as(secretFileCommand(ref.path, both.secretReaders[ref.path] ?? []), secretContent(ref.variables))).code).toBe(0);
    }
    expect(await apply(second, "added")).toMatch(/gpu-hosting: inference: changed$/);
    expect(await apply(layer(both, "endpoint"), "second route")).toMatch(/gpu-hosting: endpoint: changed$/);
    expect((await as(RUN_AS_ROOT, layer(both, "health").script)).stderr).toContain("serves chat second");
    const secondModels = await httpsGet(httpsPort, "/second/v1/models", ca, API_KEY);
    expect(secondModels.status).toBe(200);
    expect((JSON.parse(secondModels.body) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual(["second"]);

    // Removed from the stack: the plan is the chat-only one again. Pulumi updates first (endpoint, health), then deletes
    // (the inference command's delete, then the secret file's).
    const after = planTestStack({ hostKey: host!.hostKey, deployments: [{ name: "chat", context: "8k" }] });
    expect(after.layers.map((l) => l.hash)).toEqual(current.layers.map((l) => l.hash));
    expect(await apply(layer(after, "endpoint"), "route removed")).toMatch(/gpu-hosting: endpoint: changed$/);
    expect((await as(RUN_AS_ROOT, layer(after, "health").script)).code).toBe(0);
    const removal = both.removals[second.name];
    expect(removal).toBeDefined();
    const removed = await phase("remove deployment second (component's delete)", () => as(removalCommand(removal!)), (r) => `exit ${r.code}`);
    expect(removed.code).toBe(0);
    expect((await as(secretFileDeleteCommand("/etc/gpu-hosting/second.env"))).code).toBe(0);

    expect(await llm("systemctl show -p LoadState --value gpu-hosting-second.service")).toBe("not-found");
    expect(await llm("systemctl list-units --all --plain --no-legend 'gpu-hosting-*'")).not.toContain("second");
    expect(await llm("sudo -n ls /etc/systemd/system /etc/gpu-hosting")).not.toMatch(/second/);
    expect(await llm("ss -Hltn 'sport = :8001'")).toBe("");
    expect(await llm("grep -c second /etc/caddy/Caddyfile || true")).toBe("0");
    // The route is gone: /second/… now falls to the default route (chat's engine), which knows no such path.
    const gone = await httpsGet(httpsPort, "/second/v1/models", ca, API_KEY);
    expect(gone.status).toBe(404);
    expect(gone.body).not.toMatch(/"id": ?"second"/);
    // chat was never restarted, and serves.
    expect(await started(["gpu-hosting-chat.service"])).toBe(chatBefore);
    expect((await client(API_KEY).models.list()).data.map((m) => m.id)).toEqual(["chat"]);
  });
});
