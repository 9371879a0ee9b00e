/**
 * Helpers of the CPU-host suite (inference.e2e.ts): the small stacks it plans, the commands
 * `layers.HostSoftware` runs besides the layers (secret files, removals; spelled out here the same
 * way because the component builds them inline), and an `openai`-client `fetch` that trusts only
 * Caddy's internal CA.
 */
import https from "node:https";
import { checkStackConfig, readStackYaml } from "../../core/checks/stackFile";
import { planStack, type HostPlan } from "../../core/layers/plan";

/**
 * debootstrap's minbase writes no /etc/hosts, and cloud-init (manage_etc_hosts: localhost) adds only the
 * host name; Caddy's Go resolver then asks DNS for "localhost" (its admin endpoint) and fails. Cloud
 * images have these lines; so does this boot.
 */
export const ETC_HOSTS = { path: "/etc/hosts", content: "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n", mode: 0o644 };
export const ADMIN = "llm";
/** The endpoint's API key in these tests (a throwaway value, never a real secret). */
export const API_KEY = "test-endpoint-key-0123456789abcdef";

/** What the test stack declares. */
export interface StackOptions {
  /** The host's pinned SSH key. */
  hostKey: string;
  /** Deployments on the host, in order (the first gets engine port 8000, the next 8001, …). */
  deployments: Array<{ name: string; context: string }>;
  /** A declared GPU (catalog id) and count; none (a CPU-only host) when absent. */
  gpu?: { id: string; count: number };
}

/** A one-host stack planned by `planStack`: an owned host (`kind: onprem`, reached as `llm` with sudo). */
export function planTestStack(o: StackOptions): HostPlan {
  const deployments = o.deployments
    .map((d) => `    - name: ${d.name}\n      model: Qwen/Qwen2.5-0.5B-Instruct\n      hosts: [cpu-host]\n      context: ${d.context}\n      concurrency: 1\n`)
    .join("");
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
      hostKey: ${o.hostKey}
      inventory:
        gpu: ${o.gpu ? o.gpu.id : "null"}
        gpuCount: ${o.gpu ? o.gpu.count : 0}
        ramGiB: 16
${deployments ? `  gpu-hosting:deployments:\n${deployments}` : ""}`;
  const { config, fleet } = checkStackConfig(readStackYaml(yaml, "cpu-stack.yaml"), "cpu-stack.yaml");
  const plans = planStack(config, fleet);
  if (plans.length !== 1) throw new Error(`expected one host plan, got ${plans.length}`);
  return plans[0]!;
}

/** The component's own commands (components/layers/hostSoftware.ts), re-exported for the suites. */
export { secretFileCreateCommand as secretFileCommand, secretFileDeleteCommand, removalCommand } from "../../components/layers/hostSoftware";

/** The content `secretFileContent` (components/fleet.ts) gives a secret file: `*_API_KEY` the endpoint's key, no HF token here. */
export const secretContent = (variables: string[]): string => variables.filter((v) => /API_KEY$/.test(v)).map((v) => `${v}=${API_KEY}\n`).join("");

/** A fetch for the openai client over node:https that trusts only the given CA (Caddy's internal root). */
export function fetchWithCa(ca: string): typeof fetch {
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

/** GET over HTTPS trusting only `ca`, with an optional bearer key: status and body. */
export function httpsGet(port: number, path: string, ca: string, key?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: "127.0.0.1", port, path, ca, headers: key ? { Authorization: `Bearer ${key}` } : {} }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}
