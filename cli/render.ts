/**
 * `gpu-hosting render`: writes, for each host of a stack, every artifact the software layers
 * apply, so a user can read exactly what will run before anything runs. No credentials: secrets
 * appear only as references to the root-only files that hold them on the host.
 */
import fs from "node:fs";
import path from "node:path";
import { dump } from "js-yaml";
import { planClusters } from "../core/clusters";
import { checkStackConfig, readStackYaml, StackInputError } from "../core/checks/stackFile";
import { planStack, type HostPlan } from "../core/layers/plan";
import { sha256 } from "../core/layers/script";
import { resolveStackFile } from "./check";
import { badValue, UsageError } from "./errors";
import { printJson, table } from "./format";

export interface RenderFlags {
  stack?: string;
  host?: string;
  out?: string;
  json?: boolean;
}

/** One file of a host's render folder, as `manifest.json` lists it. */
export interface ManifestEntry {
  /** File name inside `<out>/<host>/`. */
  file: string;
  layer: string;
  /** What it is: a layer script (run as root), a file a script installs, or the first-boot cloud-config. */
  type: "script" | "file" | "cloud-config";
  /** Where it ends up on the host (scripts: null, they are run from stdin). */
  targetPath: string | null;
  mode: string | null;
  sha256: string;
}

/** A host's `manifest.json`. */
export interface HostManifest {
  host: string;
  kind: string;
  adminUser: string;
  /** Order in which the scripts run. */
  order: string[];
  files: ManifestEntry[];
  /** Root-only files the component writes from Pulumi secrets; their values never appear here. */
  secrets: { path: string; variables: string[]; description: string }[];
  endpoint: string | null;
}


/** The files of one host's render folder: name → content, plus the manifest. */
export function renderHostFiles(plan: HostPlan): { files: Map<string, string>; manifest: HostManifest } {
  const files = new Map<string, string>();
  const entries: ManifestEntry[] = [];
  const add = (file: string, content: string, e: Omit<ManifestEntry, "file" | "sha256">): void => {
    const existing = files.get(file);
    if (existing !== undefined) {
      if (existing === content) return;
      throw new Error(`host ${plan.host}: two different artifacts are both named ${file}; rename one in its renderer`);
    }
    files.set(file, content);
    entries.push({ file, ...e, sha256: sha256(content) });
  };
  const scripts = [...(plan.bootstrap ? [plan.bootstrap] : []), ...plan.layers];
  if (plan.cloudConfig !== null) add("cloud-config.yaml", plan.cloudConfig, { layer: "base", type: "cloud-config", targetPath: null, mode: null });
  for (const s of scripts) {
    add(s.name, s.script, { layer: s.layer, type: "script", targetPath: null, mode: "0755" });
    for (const f of s.files) add(f.name, f.content, { layer: f.layer, type: "file", targetPath: f.path, mode: f.mode });
  }
  const manifest: HostManifest = {
    host: plan.host,
    kind: plan.kind,
    adminUser: plan.adminUser,
    order: scripts.map((s) => s.name),
    files: entries,
    secrets: plan.secrets.map((s) => ({ path: s.path, variables: s.variables, description: s.description })),
    endpoint: plan.endpointUrl,
  };
  return { files, manifest };
}

export function runRenderCommand(file: string | undefined, f: RenderFlags): number {
  if (!f.out) throw new UsageError("--out <dir>: required; e.g. `gpu-hosting render --stack prod --out rendered`");
  const stackFile = resolveStackFile(file, f.stack);
  let text: string;
  try {
    text = fs.readFileSync(stackFile, "utf8");
  } catch (e) {
    throw badValue(f.stack ? "--stack" : "<stack-file>", f.stack ?? stackFile, `cannot read ${stackFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, "Run from the project root, or give the path of a Pulumi.<stack>.yaml");
  }
  let plans: HostPlan[];
  let clusterPlans: ReturnType<typeof planClusters>;
  try {
    const raw = readStackYaml(text, stackFile);
    const { config, fleet } = checkStackConfig(raw, stackFile);
    const publicKey = raw["gpu-hosting:sshPublicKey"];
    plans = planStack(config, fleet, typeof publicKey === "string" ? { sshPublicKey: publicKey } : {});
    clusterPlans = planClusters(config, fleet);
  } catch (e) {
    if (e instanceof StackInputError) throw new UsageError(e.problems.length > 0 ? `${e.message}:\n  ${e.problems.join("\n  ")}` : e.message);
    throw new UsageError(`${stackFile}: cannot render: ${(e as Error).message}`);
  }
  if (f.host !== undefined) {
    const names = [...plans.map((p) => p.host), ...new Set(clusterPlans.map((p) => p.cluster))];
    plans = plans.filter((p) => p.host === f.host);
    clusterPlans = clusterPlans.filter((p) => p.cluster === f.host);
    if (plans.length === 0 && clusterPlans.length === 0) throw badValue("--host", f.host, `not a host or cluster of ${stackFile}; hosts and clusters: ${names.join(", ") || "none"}`);
  }
  const manifests: HostManifest[] = [];
  for (const plan of plans) {
    const { files, manifest } = renderHostFiles(plan);
    const dir = path.join(f.out, plan.host);
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, content] of files) fs.writeFileSync(path.join(dir, name), content, { mode: name.endsWith(".sh") ? 0o755 : 0o644 });
    fs.writeFileSync(path.join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    manifests.push(manifest);
  }
  // Clusters: one YAML file per object, `DIR/<cluster>/<deployment>-<kind>.yaml`, in apply order.
  const clusterFiles: { cluster: string; files: string[] }[] = [];
  for (const p of clusterPlans) {
    const dir = path.join(f.out, p.cluster);
    fs.mkdirSync(dir, { recursive: true });
    let entry = clusterFiles.find((c) => c.cluster === p.cluster);
    if (!entry) clusterFiles.push((entry = { cluster: p.cluster, files: [] }));
    p.objects.forEach((o, i) => {
      const file = `${p.deployment}-${String(i).padStart(2, "0")}-${o.kind.toLowerCase()}.yaml`;
      fs.writeFileSync(path.join(dir, file), dump(o, { lineWidth: -1, noRefs: true }));
      entry!.files.push(file);
    });
  }
  if (f.json) printJson({ out: f.out, hosts: manifests, clusters: clusterFiles });
  else {
    process.stdout.write(
      `${table(
        ["host", "kind", "scripts", "files", "secret files", "folder"],
        [
          ...manifests.map((m) => [m.host, m.kind, String(m.order.length), String(m.files.length), String(m.secrets.length), path.join(f.out!, m.host)]),
          ...clusterFiles.map((c) => [c.cluster, "cluster", "0", String(c.files.length), "1", path.join(f.out!, c.cluster)]),
        ],
      )}\n`,
    );
  }
  return 0;
}
