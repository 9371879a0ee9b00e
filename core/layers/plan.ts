/**
 * From a stack to what runs on each host: the layers in order, the secret files they read, and
 * what `pulumi up` waits for. Pure; `gpu-hosting render` writes it to disk, `layers.HostSoftware`
 * applies it over SSH, and the tests run the same scripts against a real sshd.
 */
import { findGpu } from "../catalog";
import { renderHardeningCloudConfig } from "../cloudinit";
import { concurrencyPerReplica } from "../config/replicas";
import type { DeploymentConfig, StackConfig } from "../config/schema";
import type { Fleet, HostFacts } from "../fleet";
import { planPrivateNetwork } from "../hetzner/network";
import type { HostConfig } from "../hosts";
import { renderBaseLayer, renderBootstrapLayer } from "./base";
import { renderEndpointLayer } from "./endpoint";
import { GPU_VERIFY_COMMAND, renderGpuLayer, verifyGpu } from "./gpu";
import { renderHealthLayer } from "./health";
import { renderInferenceLayer } from "./inference";
import { renderPowerLayer } from "./power";
import type { LayerScript, SecretFileRef } from "./types";

/** Admin user created where the stack creates or bootstraps the login. */
export const DEFAULT_ADMIN_USER = "llm";
/** First engine port on a host; deployment i listens on FIRST_ENGINE_PORT + i. */
export const FIRST_ENGINE_PORT = 8000;
/** Port of the proxy's plain-HTTP listener on the private network, for a load balancer that terminates TLS. */
export const PRIVATE_PROXY_PORT = 8080;
/** Public key placed in a rendered cloud-config when the stack file has none (`render` needs no credentials). */
export const PLACEHOLDER_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdwdS1ob3N0aW5nLXJlbmRlci1wbGFjZWhvbGRlcg gpu-hosting:sshPublicKey";

/** One deployment served by a host. */
export interface ServedDeployment {
  name: string;
  /** Model id the endpoint lists (`--served-model-name`). */
  servedModel: string;
  /** Engine port on the host (bound to 127.0.0.1 unless `publicEnginePort`). */
  port: number;
  /** Secret file holding its engine API key and Hugging Face token. */
  envFile: string;
}

/** What runs on one host. */
export interface HostPlan {
  host: string;
  kind: HostConfig["kind"];
  /** The user the layers log in as (sudo). */
  adminUser: string;
  /** Run first, as the host's first login user, where cloud-init does not run; null elsewhere. */
  bootstrap: LayerScript | null;
  /** base, gpu, power, inference (one per deployment), endpoint, health: in order. */
  layers: LayerScript[];
  /** Secret files the layers read; the component writes them from Pulumi secrets first. */
  secrets: SecretFileRef[];
  /** Units that read a secret file, by its path: restarted (if running) when its value changes. */
  secretReaders: Record<string, string[]>;
  /** What removes a layer's effect when its resource is deleted (inference units), by script name. */
  removals: Record<string, string>;
  /** Cloud-config handed over at first boot (Scaleway, Hetzner Cloud); null where cloud-init does not run. */
  cloudConfig: string | null;
  deployments: ServedDeployment[];
  /** Where clients reach the endpoint, or null when the host serves nothing. */
  endpointUrl: string | null;
  /** The public TCP port the host's firewall opens for the endpoint (443, or 80 without TLS); null when none. */
  publicPort: number | null;
  /** The command whose output {@link verifyGpu} checks after the gpu layer. */
  gpuVerifyCommand: string;
  /** Problems the gpu layer's verification output shows; empty when the GPUs are as declared. */
  verifyGpu(stdout: string): string[];
}

/** Options of {@link planHost}. */
export interface PlanOptions {
  /** The admin user's public key, for the cloud-config. @default a placeholder (render) */
  sshPublicKey?: string;
}

const needsBootstrap = (h: HostConfig): boolean => h.kind === "hetzner-dedicated" || ((h.kind === "onprem" || h.kind === "colocation") && h.user === "root");
const cloudInit = (h: HostConfig): boolean => h.kind === "scaleway" || h.kind === "hetzner-cloud";

function adminUserOf(h: HostConfig): string {
  if ((h.kind === "onprem" || h.kind === "colocation") && h.user !== "root") return h.user;
  return DEFAULT_ADMIN_USER;
}

function privateNetworkOf(h: HostConfig): Parameters<typeof renderBaseLayer>[0]["privateNetwork"] {
  if (h.kind !== "hetzner-dedicated" || !h.privateNetwork) return null;
  const p = planPrivateNetwork({ ...h.privateNetwork, location: h.location });
  const prefix = h.privateNetwork.vswitchSubnet.split("/")[1];
  return { vlan: h.privateNetwork.vlan, address: `${p.serverPrivateIp}/${prefix}`, gateway: p.gateway, routes: [h.privateNetwork.networkIpRange] };
}

/** Plans one host. `facts` and the deployments' sizing come from `buildFleet`. */
export function planHost(h: HostConfig, facts: HostFacts, config: StackConfig, fleet: Fleet, o: PlanOptions = {}): HostPlan {
  const gpu = facts.gpu ? findGpu(facts.gpu) ?? null : null;
  const adminUser = adminUserOf(h);
  const layers: LayerScript[] = [];
  const secrets: SecretFileRef[] = [];
  const removals: Record<string, string> = {};
  const secretReaders: Record<string, string[]> = {};

  layers.push(renderBaseLayer({ hardenSsh: !cloudInit(h), privateNetwork: privateNetworkOf(h), gpuVendor: facts.gpuVendor }));
  layers.push(
    renderGpuLayer({
      vendor: facts.gpuVendor,
      gpu: gpu ? { name: gpu.name, architecture: gpu.architecture, computeCapability: gpu.computeCapability } : null,
      gpuCount: facts.gpuCount,
      driverPreinstalled: h.kind === "scaleway" && /gpu/i.test(h.image),
      runtime: "docker",
    }),
  );
  const power = renderPowerLayer({ vendor: facts.gpuVendor, gpuCount: facts.gpuCount, capWatts: facts.gpuPowerCapWatts });
  if (power) layers.push(power);

  const served: ServedDeployment[] = [];
  const mine: [DeploymentConfig, number][] = config.deployments.map((d, i) => [d, i] as [DeploymentConfig, number]).filter(([d]) => d.hosts?.includes(h.name));
  mine.forEach(([d], n) => {
    const sizing = fleet.deployments.find((s) => s.name === d.name);
    if (!sizing) return;
    const port = FIRST_ENGINE_PORT + n;
    const layer = renderInferenceLayer({
      deployment: d.name,
      sizing,
      context: d.context,
      // This host runs one replica: its share of the deployment's total concurrency.
      concurrency: concurrencyPerReplica(d),
      gpuMemoryUtilization: d.gpuMemoryUtilization,
      kvCacheDtype: d.kvCacheDtype,
      gpuVendor: facts.gpuVendor,
      port,
      bindAddress: d.endpoint.publicEnginePort ? "0.0.0.0" : "127.0.0.1",
      ...(d.image ? { image: d.image } : {}),
      apiKey: d.endpoint.apiKey,
    });
    layers.push(layer);
    secrets.push(...layer.secrets);
    const unit = `gpu-hosting-${d.name}.service`;
    for (const ref of layer.secrets) (secretReaders[ref.path] ??= []).push(unit);
    removals[layer.name] = [
      "set -u",
      `systemctl disable --now ${unit} 2>/dev/null || true`,
      `rm -f /etc/systemd/system/${unit} ${layer.secrets.map((s) => s.path).join(" ")}`,
      "systemctl daemon-reload 2>/dev/null || true",
    ].join("\n");
    served.push({ name: d.name, servedModel: d.name, port, envFile: layer.secrets[0]?.path ?? "" });
  });

  let endpointUrl: string | null = null;
  let publicPort: number | null = null;
  if (served.length > 0) {
    const first = mine[0]![0];
    const tls = first.endpoint.tls;
    const net = privateNetworkOf(h);
    // A Hetzner load balancer terminates TLS and reaches the proxy's private listener through the vSwitch.
    const lb = h.kind === "hetzner-dedicated" && h.loadBalancer && net ? { domain: h.loadBalancer.domain, address: net.address.split("/")[0]! } : null;
    const domain = lb ? lb.domain : (h.domain ?? null);
    const endpoint = renderEndpointLayer({
      routes: served.map((s) => ({ deployment: s.name, port: s.port })),
      domain: lb ? null : domain,
      apiKey: first.endpoint.apiKey,
      tls,
      ...(lb ? { public: false, privateListener: { address: lb.address, port: PRIVATE_PROXY_PORT } } : {}),
    });
    layers.push(endpoint);
    secrets.push(...endpoint.secrets);
    for (const ref of endpoint.secrets) (secretReaders[ref.path] ??= []).push("caddy.service");
    publicPort = lb ? null : tls ? 443 : 80;
    const scheme = tls || lb ? "https" : "http";
    endpointUrl = `${scheme}://${domain ?? "<host address>"}/`;
    const timeout = Math.max(...mine.map(([d]) => d.healthTimeoutSeconds));
    // The health layer runs on the host and asks the proxy there, as a client would.
    const local = lb ? `http://${lb.address}:${PRIVATE_PROXY_PORT}/` : tls ? `https://${domain ?? "127.0.0.1"}/` : "http://127.0.0.1/";
    layers.push(renderHealthLayer({ url: local, models: served.map((s) => s.servedModel), timeoutSeconds: timeout, apiKey: first.endpoint.apiKey }));
  }

  const bootstrap = needsBootstrap(h) ? renderBootstrapLayer({ adminUser }) : null;
  return {
    host: h.name,
    kind: h.kind,
    adminUser,
    bootstrap,
    layers,
    secrets: dedupe(secrets),
    removals,
    secretReaders,
    cloudConfig: cloudInit(h) ? renderHardeningCloudConfig({ adminUser, sshPublicKeys: [o.sshPublicKey ?? PLACEHOLDER_PUBLIC_KEY] }) : null,
    deployments: served,
    endpointUrl,
    publicPort,
    gpuVerifyCommand: GPU_VERIFY_COMMAND,
    verifyGpu: (stdout) => verifyGpu({ vendor: facts.gpuVendor, gpuCount: facts.gpuCount, gpuName: gpu?.name ?? null }, stdout),
  };
}

function dedupe(refs: SecretFileRef[]): SecretFileRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => (seen.has(r.path) ? false : (seen.add(r.path), true)));
}

/** Plans every host of a stack, in config order. */
export function planStack(config: StackConfig, fleet: Fleet, o: PlanOptions = {}): HostPlan[] {
  return config.hosts.flatMap((h) => {
    const facts = fleet.hosts.find((f) => f.name === h.name);
    return facts ? [planHost(h, facts, config, fleet, o)] : [];
  });
}
