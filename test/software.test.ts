/**
 * The stack program under Pulumi mocks, with the software layers: what `layers.HostSoftware`
 * declares (one command per layer, in order, re-run by content hash), that secrets stay secret,
 * that engine flags follow the sizing core, and that firewalls and the load balancer open only
 * what the endpoint needs.
 */
import * as pulumi from "@pulumi/pulumi";
import { HostSoftware } from "../components/layers/hostSoftware";
import { parseStackConfig, stackConfigInput } from "../core/config/schema";
import { buildFleet } from "../core/fleet";
import { planStack } from "../core/layers/plan";
import { findInClear, recordResources, SECRET_SIG, SECRET_SIG_KEY, type RecordedResource } from "./helpers/mocks";
import { runProgram, stackFileConfig, TEST_SECRETS } from "./helpers/program";

type Config = Record<string, unknown>;
const copy = (c: Config): Config => JSON.parse(JSON.stringify(c)) as Config;
const isSecretValue = (v: unknown): boolean => typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
/** A value, out of its secret envelope if it has one. */
const unwrap = (v: unknown): Record<string, unknown> => (isSecretValue(v) ? (v as { value: Record<string, unknown> }).value : (v as Record<string, unknown>));
const commands = (rs: RecordedResource[], host: string): RecordedResource[] => rs.filter((r) => r.type === "command:remote:Command" && r.name.startsWith(`${host}-software-`));
const API_KEY = "configured-api-key-7f3a9-do-not-leak";

describe("software layers under mocks (prod stack)", () => {
  let resources: RecordedResource[];
  let exports: Record<string, unknown>;
  beforeAll(async () => {
    // A preview, as `pulumi preview` runs it; the API key is configured so that its value is known.
    ({ resources, exports } = await runProgram({ ...stackFileConfig("Pulumi.prod.yaml"), "gpu-hosting:apiKey": API_KEY }, { stack: "prod", secretKeys: ["gpu-hosting:apiKey"] }));
  });

  it("declares one HostSoftware per host, each command in layer order", () => {
    expect(resources.filter((r) => r.type === "gpu-hosting:layers:HostSoftware").map((r) => r.name).sort()).toEqual(["gex-1-software", "rack-1-software", "scw-h100-software"]);
    expect(commands(resources, "gex-1").map((r) => r.name.slice("gex-1-software-".length))).toEqual([
      "00-bootstrap",
      "secret-etc-gpu-hosting-chat-large-env",
      "secret-etc-gpu-hosting-caddy-env",
      "10-base",
      "20-gpu",
      "reboot",
      "gpu-verify",
      "30-power",
      "40-inference-chat-large",
      "50-endpoint",
      "60-health",
    ]);
  });

  it("re-runs a layer only when its script changes: triggers carry the script's hash", () => {
    const base = commands(resources, "scw-h100").find((r) => r.name.endsWith("10-base"))!;
    const triggers = base.inputs.triggers as string[];
    expect(triggers[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(base.inputs.create).toBe('if [ "$(id -u)" = 0 ]; then bash -s; else sudo -n bash -s; fi');
    expect(String(base.inputs.stdin)).toContain("# gpu-hosting layer: base.");
  });

  it("writes secret files from secret stdin, and never shows the API key, the Robot password or the SSH key in clear", () => {
    const secretCmds = resources.filter((r) => r.type === "command:remote:Command" && /-secret-/.test(r.name));
    expect(secretCmds.length).toBe(6);
    for (const r of secretCmds) expect({ name: r.name, stdinSecret: isSecretValue(r.inputs.stdin) }).toEqual({ name: r.name, stdinSecret: true });
    // A rotated key reaches the running proxy and engine: the units that read each file restart.
    const caddyEnv = secretCmds.find((r) => r.name === "scw-h100-software-secret-etc-gpu-hosting-caddy-env")!;
    expect(String(caddyEnv.inputs.create)).toContain("systemctl try-restart caddy.service");
    const chatEnv = secretCmds.find((r) => r.name === "scw-h100-software-secret-etc-gpu-hosting-chat-env")!;
    expect(String(chatEnv.inputs.create)).toContain("systemctl try-restart gpu-hosting-chat.service");
    for (const needle of [API_KEY, TEST_SECRETS["gpu-hosting:robotPassword"]!, "TESTKEY-not-a-real-key-7f3a9"]) {
      const leaks = resources.flatMap((r) => [...findInClear(r.inputs, needle, `${r.name}.inputs`), ...findInClear(r.outputs, needle, `${r.name}.outputs`)]);
      expect({ needle: needle.slice(0, 12), leaks }).toEqual({ needle: needle.slice(0, 12), leaks: [] });
    }
  });

  it("exports the endpoints and the API key as a secret", async () => {
    const endpoints = exports.endpoints as { deployment: string; host: string; model: string; url: pulumi.Output<string> }[];
    expect(endpoints.map(({ deployment, host, model }) => [deployment, host, model])).toEqual([
      ["chat-large", "gex-1", "chat-large"],
      ["chat", "scw-h100", "chat"],
      ["internal", "rack-1", "internal"],
    ]);
    expect(await new Promise((resolve) => endpoints[0]!.url.apply(resolve))).toBe("https://llm.example.com/");
    expect(await new Promise((resolve) => endpoints[2]!.url.apply(resolve))).toBe("https://192.0.2.10/");
    expect(pulumi.Output.isInstance(exports.apiKey)).toBe(true);
    expect(await pulumi.isSecret(exports.apiKey as pulumi.Output<string>)).toBe(true);
  });

  it("removes a deployment's unit and secret file when its inference command is deleted, never the driver", () => {
    const inference = commands(resources, "scw-h100").find((r) => r.name.endsWith("40-inference-chat"))!;
    expect(String(inference.inputs.delete)).toContain("systemctl disable --now gpu-hosting-chat.service");
    expect(String(inference.inputs.delete)).toContain("rm -f /etc/systemd/system/gpu-hosting-chat.service /etc/gpu-hosting/chat.env");
    const gpu = commands(resources, "scw-h100").find((r) => r.name.endsWith("20-gpu"))!;
    expect(gpu.inputs.delete).toBeUndefined();
  });

  it("opens 443 on the Scaleway security group for the endpoint, and SSH only from the listed CIDRs", () => {
    const sg = resources.find((r) => r.type === "scaleway:instance/securityGroup:SecurityGroup" && r.name === "scw-h100-sg")!;
    expect(sg.inputs.inboundRules).toEqual([
      { action: "accept", protocol: "TCP", port: 22, ipRange: "198.51.100.0/24" },
      { action: "accept", protocol: "TCP", port: 443, ipRange: "0.0.0.0/0" },
      { action: "accept", protocol: "TCP", port: 443, ipRange: "::/0" },
    ]);
  });

  it("sends the Hetzner load balancer to the proxy's private listener, health-checking /health there", () => {
    const service = resources.find((r) => r.type === "hcloud:index/loadBalancerService:LoadBalancerService")!;
    expect(service.inputs).toMatchObject({ protocol: "https", listenPort: 443, destinationPort: 8080, healthCheck: { protocol: "http", port: 8080, http: { path: "/health" } } });
    const robot = resources.find((r) => Array.isArray((r.inputs as { firewallRules?: unknown }).firewallRules))!;
    const rules = robot.inputs.firewallRules as { name: string; dstPort?: string; srcIp?: string }[];
    expect(rules.find((r) => r.name === "private network")).toMatchObject({ srcIp: "10.100.0.0/16", dstPort: "8080" });
    expect(rules.some((r) => r.dstPort === "443")).toBe(false);
  });
});

describe("software layers under mocks (variants)", () => {
  it("serves a 70B AWQ model on 2 × L40S with tensor parallel 2 and the deployment's context", async () => {
    const c = copy(stackFileConfig("Pulumi.dev.yaml"));
    (c["gpu-hosting:hosts"] as Config[])[0]!.type = "L40S-2-48G";
    c["gpu-hosting:deployments"] = [{ name: "big", model: "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", hosts: ["dev-gpu"], context: "16k", concurrency: 4 }];
    c["gpu-hosting:budgets"] = { eurPerMonth: 5000 };
    const { resources } = await runProgram(c);
    const inference = commands(resources, "dev-gpu").find((r) => r.name.endsWith("40-inference-big"))!;
    const script = String(inference.inputs.stdin);
    expect(script).toContain("gpu-hosting-big.service");
    // The unit travels base64-encoded inside the script; decode the install_file lines to read it.
    const unit = [...script.matchAll(/install_file '([^']+)' '[0-7]+' '([A-Za-z0-9+/=]+)'/g)].find((m) => m[1] === "/etc/systemd/system/gpu-hosting-big.service")!;
    const text = Buffer.from(unit[2]!, "base64").toString("utf8");
    expect(text).toContain("--tensor-parallel-size 2");
    expect(text).toContain("--max-model-len 16384");
    expect(text).toContain("--max-num-seqs 4");
  });

  it("opens no endpoint port on a host that serves nothing, and runs no serving layers there", async () => {
    const c = copy(stackFileConfig("Pulumi.dev.yaml"));
    c["gpu-hosting:deployments"] = [];
    const { resources } = await runProgram(c);
    const sg = resources.find((r) => r.type === "scaleway:instance/securityGroup:SecurityGroup")!;
    expect((sg.inputs.inboundRules as { port: number }[]).map((r) => r.port)).toEqual([22]);
    expect(commands(resources, "dev-gpu").map((r) => r.name.slice("dev-gpu-software-".length))).toEqual(["10-base", "20-gpu", "reboot", "gpu-verify", "30-power"]);
  });

  it("opens 443 in the Robot firewall of a dedicated server without a load balancer", async () => {
    const c = copy(stackFileConfig("Pulumi.prod.yaml"));
    const gex = (c["gpu-hosting:hosts"] as Config[])[0]!;
    delete gex.loadBalancer;
    delete gex.privateNetwork;
    const { resources } = await runProgram(c);
    const robot = resources.find((r) => Array.isArray((r.inputs as { firewallRules?: unknown }).firewallRules))!;
    const https = (robot.inputs.firewallRules as { name: string; dstPort?: string; ipVersion?: string }[]).filter((r) => r.dstPort === "443");
    expect(https.map((r) => [r.name, r.ipVersion])).toEqual([
      ["https v4", "ipv4"],
      ["https v6", "ipv6"],
    ]);
  });

  it("gives a host serving two deployments two units on two ports and two routes", async () => {
    const c = copy(stackFileConfig("Pulumi.dev.yaml"));
    c["gpu-hosting:deployments"] = [
      { name: "chat", model: "meta-llama/Llama-3.2-3B-Instruct", hosts: ["dev-gpu"], context: "8k", gpuMemoryUtilization: 0.45 },
      { name: "code", model: "meta-llama/Llama-3.2-3B-Instruct", hosts: ["dev-gpu"], context: "8k", gpuMemoryUtilization: 0.4 },
    ];
    const { resources } = await runProgram(c);
    const names = commands(resources, "dev-gpu").map((r) => r.name.slice("dev-gpu-software-".length));
    expect(names.filter((n) => n.startsWith("40-inference-"))).toEqual(["40-inference-chat", "40-inference-code"]);
    const endpoint = String(commands(resources, "dev-gpu").find((r) => r.name.endsWith("50-endpoint"))!.inputs.stdin);
    const caddy = [...endpoint.matchAll(/install_file '([^']+)' '[0-7]+' '([A-Za-z0-9+/=]+)'/g)].find((m) => m[1] === "/etc/caddy/Caddyfile")!;
    const text = Buffer.from(caddy[2]!, "base64").toString("utf8");
    expect(text).toContain("@route_chat path /chat /chat/*");
    expect(text).toContain("reverse_proxy 127.0.0.1:8000");
    expect(text).toContain("@route_code path /code /code/*");
    expect(text).toContain("reverse_proxy 127.0.0.1:8001");
  });

  it("generates the API key when none is configured", async () => {
    const { resources } = await runProgram(copy(stackFileConfig("Pulumi.dev.yaml")));
    expect(resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => [r.name, r.inputs.length, r.inputs.special])).toEqual([["test-api-key", 48, false]]);
  });

  it("uses gpu-hosting:apiKey when it is set, and generates none", async () => {
    const c = copy(stackFileConfig("Pulumi.dev.yaml"));
    c["gpu-hosting:apiKey"] = "configured-key-abcdefghijklmnop";
    const { resources } = await runProgram(c);
    expect(resources.some((r) => r.type === "random:index/randomPassword:RandomPassword")).toBe(false);
  });
});

describe("layers.HostSoftware", () => {
  it("logs in as root only for the bootstrap, then as the admin user it creates", async () => {
    const rec = await recordResources({ state: (a) => (a.type === "command:remote:Command" ? { stdout: "", stderr: "" } : undefined) });
    const raw = stackFileConfig("Pulumi.prod.yaml");
    const parsed = parseStackConfig(stackConfigInput(raw));
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    const fleet = buildFleet(parsed.config);
    const plan = planStack(parsed.config, fleet).find((p) => p.host === "gex-1")!;
    const connection = { host: pulumi.output("203.0.113.5"), port: 22, user: "root", privateKey: pulumi.secret("test-private-key") };
    const secretFiles = Object.fromEntries(plan.secrets.map((s) => [s.path, pulumi.secret(`X=${s.path}\n`)]));
    const ok = new HostSoftware("gex-1-software", { connection, plan: { ...plan, verifyGpu: () => [] }, secretFiles });
    await rec.settled(ok.urn, ok.gpuCheck!);
    const users = rec.resources.filter((r) => r.type === "command:remote:Command").map((r) => [r.name.slice("gex-1-software-".length), unwrap(r.inputs.connection).user]);
    expect(users[0]).toEqual(["00-bootstrap", "root"]);
    expect(new Set(users.slice(1).map(([, u]) => u))).toEqual(new Set(["llm"]));
    expect(await new Promise((resolve) => ok.gpuCheck!.apply(resolve))).toBe("ok");

  });

  it("refuses a plan whose secret file has no content", async () => {
    await recordResources();
    const parsed = parseStackConfig(stackConfigInput(stackFileConfig("Pulumi.dev.yaml")));
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    const plan = planStack(parsed.config, buildFleet(parsed.config))[0]!;
    const connection = { host: pulumi.output("203.0.113.5"), port: 22, user: "llm", privateKey: pulumi.secret("k") };
    expect(() => new HostSoftware("x", { connection, plan, secretFiles: {} })).toThrow("layers.HostSoftware x: no content for the secret file /etc/gpu-hosting/chat.env");
  });
});
