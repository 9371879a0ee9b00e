/**
 * Kubernetes as a deployment target: the k8s example stack passes `gpu-hosting check`; a 70B bf16
 * model on a single-L4 pool fails vram-fit in `check` and through the analyzer protocol; under
 * mocks the program declares the Kapsule cluster, its GPU pool, the provider and the objects, with
 * secrets kept secret; `render` writes manifests that validate against the Kubernetes v1.33 schema.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "js-yaml";
import { kubernetesExposures } from "../core/clusters";
import { parseStackConfig, stackConfigInput } from "../core/config/schema";
import { buildFleet } from "../core/fleet";
import { FLEET_TYPE } from "../core/tokens";
import { startPolicyPack, type PolicyPackHandle } from "../testing/analyzer";
import { validateK8sObject } from "./helpers/k8s";
import { findInClear, SECRET_SIG, SECRET_SIG_KEY, type RecordedResource } from "./helpers/mocks";
import { runProgram, stackFileConfig } from "./helpers/program";

const ROOT = path.join(__dirname, "..");
const CLI = path.join(ROOT, "dist", "cli", "main.js");
type Config = Record<string, unknown>;
const copy = (c: Config): Config => JSON.parse(JSON.stringify(c)) as Config;
const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8" });

/** The k8s stack with a 70B bf16 model on a pool of single-L4 nodes. */
function broken(): Config {
  const c = copy(stackFileConfig("Pulumi.k8s.yaml"));
  const d = (c["gpu-hosting:deployments"] as Config[])[0]!;
  d.model = "meta-llama/Llama-3.3-70B-Instruct";
  d.dtype = "bf16";
  d.replicas = 1;
  return c;
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-k8s-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("gpu-hosting check on clusters", () => {
  it("passes the k8s example stack, counting the pool's nodes in cost and power", () => {
    const r = cli(["check", "--stack", "k8s", "--json"]);
    expect(r.status).toBe(0);
    const parsed = parseStackConfig(stackConfigInput(stackFileConfig("Pulumi.k8s.yaml")));
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    const fleet = buildFleet(parsed.config);
    expect(fleet.clusters).toEqual([expect.objectContaining({ name: "kapsule", gpu: "l4", gpusPerNode: 1, nodes: 3, site: "scaleway-fr-par-2" })]);
    // Three L4-1-24G nodes at the autoscaling maximum: the rent of three instances.
    expect(fleet.totals.eurPerMonth).toBeCloseTo(3 * 574.88, 1);
    expect(fleet.sites.find((s) => s.name === "scaleway-fr-par-2")?.hosts).toEqual(["kapsule (cluster)"]);
  });

  it("fails vram-fit for a 70B bf16 model on single-L4 nodes", () => {
    const file = path.join(tmp, "Pulumi.broken.yaml");
    fs.writeFileSync(file, `config:\n${Object.entries(broken()).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join("\n")}\n`);
    const r = cli(["check", file, "--json"]);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as { violations: { policy: string; message: string }[] };
    expect(report.violations.filter((v) => v.policy === "vram-fit").map((v) => v.message)).toEqual([expect.stringMatching(/^gpu-hosting:deployments\[0\] meta-llama\/Llama-3\.3-70B-Instruct \(bf16, vllm\) on 1 × l4/)]);
  });

  it("refuses more replicas than the pool has nodes, and an unknown cluster, naming the path", () => {
    const c = copy(stackFileConfig("Pulumi.k8s.yaml"));
    (c["gpu-hosting:deployments"] as Config[])[0]!.replicas = 5;
    const parsed = parseStackConfig(stackConfigInput(c));
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    expect(buildFleet(parsed.config).problems).toEqual(["gpu-hosting:deployments[0].replicas: 5 replicas need 5 nodes, but cluster kapsule has 3; raise its pool size (or autoscaling.maxSize) or lower replicas"]);
    (c["gpu-hosting:deployments"] as Config[])[0]!.cluster = "nope";
    const bad = parseStackConfig(stackConfigInput(c));
    expect(bad.ok ? [] : bad.problems).toContain('gpu-hosting:deployments[0].cluster: "nope" is not a cluster; declared clusters: kapsule');
  });
});

describe("the program under mocks", () => {
  let resources: RecordedResource[];
  const KEY = "configured-api-key-k8s-do-not-leak";
  beforeAll(async () => {
    ({ resources } = await runProgram({ ...stackFileConfig("Pulumi.k8s.yaml"), "gpu-hosting:apiKey": KEY }, { secretKeys: ["gpu-hosting:apiKey"] }));
  });

  it("declares the Kapsule cluster, its GPU pool with autoscaling, the provider and the objects", () => {
    const pool = resources.find((r) => r.type === "scaleway:kubernetes/pool:Pool")!;
    expect(pool.inputs).toMatchObject({ nodeType: "L4-1-24G", zone: "fr-par-2", size: 2, autoscaling: true, minSize: 1, maxSize: 3 });
    expect(resources.some((r) => r.type === "pulumi:providers:kubernetes")).toBe(true);
    const types = resources.map((r) => r.type);
    for (const t of ["gpu-hosting:kubernetes:Cluster", "gpu-hosting:kubernetes:InferenceDeployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:Service", "kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:core/v1:Secret"]) expect(types).toContain(t);
  });

  it("gives each replica the node type's GPU and the engine flags of the sizing", () => {
    const sts = resources.find((r) => r.type === "kubernetes:apps/v1:StatefulSet")!;
    const spec = sts.inputs.spec as { replicas: number; template: { spec: { containers: { args: string[]; resources: { limits: Record<string, string> } }[]; nodeSelector: Record<string, string> } } };
    expect(spec.replicas).toBe(2);
    const container = spec.template.spec.containers[0]!;
    expect(container.resources.limits["nvidia.com/gpu"]).toBe("1");
    expect(spec.template.spec.nodeSelector["nvidia.com/gpu.product"]).toBe("NVIDIA-L4");
    expect(container.args).toEqual(expect.arrayContaining(["--max-model-len", "8192", "--max-num-seqs", "4", "--tensor-parallel-size", "1"]));
  });

  it("keeps the API key in a secret Secret, never in clear", () => {
    const secret = resources.find((r) => r.type === "kubernetes:core/v1:Secret")!;
    const data = secret.inputs.stringData as Record<string, unknown>;
    expect(data[SECRET_SIG_KEY]).toBe(SECRET_SIG);
    const leaks = resources.flatMap((r) => [...findInClear(r.inputs, KEY, `${r.name}.inputs`), ...findInClear(r.outputs, KEY, `${r.name}.outputs`)]);
    expect(leaks).toEqual([]);
  });
});

describe("an existing AMD cluster under mocks", () => {
  const KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: kubeconfig-token-do-not-leak\n";
  let resources: RecordedResource[];
  beforeAll(async () => {
    const c: Config = {
      "gpu-hosting:clusters": [{ name: "onprem-k8s", kind: "existing", gpu: "mi300x", gpusPerNode: 8, nodes: 4, modelCacheHostPath: "/var/lib/models", gpuOperator: { installDriver: false } }],
      "gpu-hosting:deployments": [
        { name: "big", model: "meta-llama/Llama-3.3-70B-Instruct", cluster: "onprem-k8s", gpuCount: 2, context: "32k", concurrency: 8, autoscaling: { minReplicas: 1, maxReplicas: 4, targetWaitingRequests: 5 } },
      ],
      "gpu-hosting:kubeconfig": KUBECONFIG,
    };
    ({ resources } = await runProgram(c, { secretKeys: ["gpu-hosting:kubeconfig"] }));
  });

  it("asks for amd.com/gpu, selects MI300X nodes, keeps weights on the node and scales on the queue", () => {
    const dep = resources.find((r) => r.type === "kubernetes:apps/v1:Deployment")!;
    const pod = (dep.inputs.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
      containers: { image: string; args: string[]; resources: { limits: Record<string, string> }; readinessProbe: { httpGet?: { path: string } }; env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[];
      volumes: { name: string; hostPath?: { path: string } }[];
      tolerations: { key: string }[];
    };
    const c = pod.containers[0]!;
    expect(c.resources.limits["amd.com/gpu"]).toBe("2");
    expect(c.image).toMatch(/^rocm\/vllm.*@sha256:[0-9a-f]{64}$/);
    expect(c.args).toEqual(expect.arrayContaining(["--tensor-parallel-size", "2", "--max-model-len", "32768", "--max-num-seqs", "8"]));
    expect(c.readinessProbe.httpGet?.path).toBe("/health");
    expect(c.env.find((e) => e.name === "VLLM_API_KEY")?.valueFrom?.secretKeyRef).toEqual({ name: "big-secrets", key: "VLLM_API_KEY", optional: false });
    expect(pod.volumes.some((v) => v.hostPath?.path === "/var/lib/models")).toBe(true);
    expect(pod.tolerations.map((t) => t.key)).toContain("amd.com/gpu");
    const hpa = resources.find((r) => r.type === "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")!;
    expect(hpa.inputs.spec).toMatchObject({ minReplicas: 1, maxReplicas: 4 });
  });

  it("installs the GPU Operator chart without its driver, and keeps the kubeconfig secret", () => {
    const chart = resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart")!;
    expect(chart.inputs).toMatchObject({ chart: "gpu-operator", namespace: "gpu-operator", values: { driver: { enabled: false } } });
    const leaks = resources.flatMap((r) => [...findInClear(r.inputs, "kubeconfig-token-do-not-leak", `${r.name}.inputs`), ...findInClear(r.outputs, "kubeconfig-token-do-not-leak", `${r.name}.outputs`)]);
    expect(leaks).toEqual([]);
  });
});

describe("the policy pack on clusters (analyzer protocol)", () => {
  let pack: PolicyPackHandle;
  beforeAll(async () => {
    pack = await startPolicyPack(path.join(ROOT, "policies"), { timeoutMs: 180_000 });
  }, 200_000);
  afterAll(async () => {
    await pack?.close();
  });

  it("refuses the 70B bf16 model on single-L4 nodes with vram-fit", async () => {
    const { resources } = await runProgram(broken());
    const fleet = resources.find((r) => r.type === FLEET_TYPE)!;
    const d = await pack.analyze({ type: fleet.type, name: fleet.name, urn: fleet.urn, properties: fleet.inputs });
    const vram = d.filter((x) => x.policyName === "vram-fit");
    expect(vram.map((x) => x.enforcementLevel)).toEqual(["mandatory"]);
    expect(vram[0]!.message).toMatch(/meta-llama\/Llama-3\.3-70B-Instruct \(bf16, vllm\) on 1 × l4/);
  });
});

describe("network-exposure on Kubernetes objects", () => {
  it("reports a LoadBalancer Service and an Ingress without TLS, and passes a ClusterIP Service with a TLS Ingress", () => {
    const found = kubernetesExposures([
      { type: "kubernetes:core/v1:Service", name: "lb", props: { spec: { type: "LoadBalancer" } } },
      { type: "kubernetes:networking.k8s.io/v1:Ingress", name: "plain", props: { spec: { rules: [] } } },
      { type: "kubernetes:core/v1:Service", name: "ok", props: { spec: { type: "ClusterIP" } } },
      { type: "kubernetes:networking.k8s.io/v1:Ingress", name: "tls", props: { spec: { tls: [{ hosts: ["llm.example.com"] }] } } },
    ]);
    expect(found.map((e) => e.subject)).toEqual(["resource lb", "resource plain"]);
  });
});

describe("gpu-hosting render on clusters", () => {
  it("writes one YAML per object, each valid against the Kubernetes v1.33 schema (kubernetes-models)", () => {
    const out = path.join(tmp, "render");
    const r = cli(["render", "--stack", "k8s", "--out", out]);
    expect(r.status).toBe(0);
    const files = fs.readdirSync(path.join(out, "kapsule")).sort();
    expect(files).toEqual(["chat-00-statefulset.yaml", "chat-01-service.yaml", "chat-02-ingress.yaml", "chat-03-poddisruptionbudget.yaml"]);
    for (const f of files) {
      const obj = load(fs.readFileSync(path.join(out, "kapsule", f), "utf8")) as { kind: string };
      expect(() => validateK8sObject(obj)).not.toThrow();
    }
    const text = files.map((f) => fs.readFileSync(path.join(out, "kapsule", f), "utf8")).join("\n");
    expect(text).toContain("secretKeyRef");
    expect(text).not.toMatch(/stringData|hf_[A-Za-z0-9]{20,}/);
  });
});
