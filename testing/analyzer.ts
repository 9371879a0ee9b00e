/**
 * A test harness for CrossGuard policy packs that speaks the analyzer protocol, the way
 * `pulumi preview --policy-pack <dir>` does, without the Pulumi CLI: it starts the pack with
 * `@pulumi/pulumi`'s `run-policy-pack` (the program behind the CLI's `pulumi-analyzer-policy`
 * plugin), reads the port the pack prints, and sends `Analyze`, `AnalyzeStack`, `Configure` and
 * `GetAnalyzerInfo` over gRPC. Pulumi has no official harness (pulumi-policy#445).
 *
 * ```ts
 * const pack = await startPolicyPack("policies");
 * const diagnostics = await pack.analyze({ type: "my:mod:Res", name: "r", properties: { … } });
 * await pack.close();
 * ```
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as analyzerGrpc from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as analyzerPb from "@pulumi/pulumi/proto/analyzer_pb";
import * as pluginPb from "@pulumi/pulumi/proto/plugin_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";

/** A resource as the engine hands it to an analyzer. */
export interface AnalyzerResource {
  type: string;
  name: string;
  /** Input properties; secrets in Pulumi's wire form (`{ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value }`). */
  properties: Record<string, unknown>;
  /** @default a URN built from type and name in stack "test", project "test" */
  urn?: string;
  parent?: string;
  dependencies?: string[];
  protect?: boolean;
}

export type EnforcementLevelName = "advisory" | "mandatory" | "disabled" | "remediate";

export interface Diagnostic {
  policyName: string;
  policyPackName: string;
  message: string;
  enforcementLevel: EnforcementLevelName;
  urn: string;
}

export interface PolicyInfo {
  name: string;
  description: string;
  enforcementLevel: EnforcementLevelName;
  /** JSON schema of the policy's config, with defaults. */
  configSchema: Record<string, unknown> | undefined;
  remediationSteps: string;
}

export interface PolicyPackHandle {
  port: number;
  analyze(resource: AnalyzerResource): Promise<Diagnostic[]>;
  analyzeStack(resources: AnalyzerResource[]): Promise<Diagnostic[]>;
  /** Per-policy config as in `--policy-pack-config`: `{ "policy": { enforcementLevel?, …props } }`. */
  configure(config: Record<string, { enforcementLevel?: EnforcementLevelName } & Record<string, unknown>>): Promise<void>;
  info(): Promise<{ name: string; policies: PolicyInfo[] }>;
  /** What the pack wrote to stderr so far (startup errors, logs). */
  stderr(): string;
  close(): Promise<void>;
}

const LEVELS: Record<number, EnforcementLevelName> = {
  [analyzerPb.EnforcementLevel.ADVISORY]: "advisory",
  [analyzerPb.EnforcementLevel.MANDATORY]: "mandatory",
  [analyzerPb.EnforcementLevel.DISABLED]: "disabled",
  [analyzerPb.EnforcementLevel.REMEDIATE]: "remediate",
};
const LEVEL_CODES: Record<EnforcementLevelName, number> = {
  advisory: analyzerPb.EnforcementLevel.ADVISORY,
  mandatory: analyzerPb.EnforcementLevel.MANDATORY,
  disabled: analyzerPb.EnforcementLevel.DISABLED,
  remediate: analyzerPb.EnforcementLevel.REMEDIATE,
};

/** Builds the URN the engine would give a resource. */
export function testUrn(type: string, name: string, parentType?: string): string {
  return `urn:pulumi:test::test::${parentType ? `${parentType}$` : ""}${type}::${name}`;
}

function toStruct(props: Record<string, unknown>): Struct {
  // JSON round trip drops undefined and functions, as the engine's serialisation does.
  return Struct.fromJavaScript(JSON.parse(JSON.stringify(props ?? {})) as never);
}

function options(r: AnalyzerResource): analyzerPb.AnalyzerResourceOptions {
  const o = new analyzerPb.AnalyzerResourceOptions();
  o.setProtect(r.protect ?? false);
  if (r.parent) o.setParent(r.parent);
  return o;
}

/** The fields AnalyzeRequest and AnalyzerResource share. */
function fill<T extends analyzerPb.AnalyzeRequest | analyzerPb.AnalyzerResource>(target: T, r: AnalyzerResource): T {
  target.setType(r.type);
  target.setName(r.name);
  target.setUrn(r.urn ?? testUrn(r.type, r.name));
  target.setProperties(toStruct(r.properties));
  target.setOptions(options(r));
  return target;
}

function diagnostics(res: analyzerPb.AnalyzeResponse): Diagnostic[] {
  return res.getDiagnosticsList().map((d) => ({
    policyName: d.getPolicyname(),
    policyPackName: d.getPolicypackname(),
    message: d.getMessage(),
    enforcementLevel: LEVELS[d.getEnforcementlevel()] ?? "advisory",
    urn: d.getUrn(),
  }));
}

/**
 * Starts a policy pack directory as the Pulumi CLI does and connects to it.
 * @param packDir folder with PulumiPolicy.yaml and the pack's entry (index.ts / index.js)
 * @param opts.timeoutMs how long to wait for the port (TypeScript packs are type-checked at start). @default 120000
 */
export async function startPolicyPack(packDir: string, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<PolicyPackHandle> {
  const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack/index.js");
  const cwd = path.resolve(packDir);
  // The CLI passes its engine's address first; the pack only logs to it, so a closed port will do.
  const child: ChildProcess = spawn(process.execPath, [runner, "127.0.0.1:1", "."], { cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`policy pack in ${cwd} printed no port within ${opts.timeoutMs ?? 120000} ms; stderr:\n${err}`)), opts.timeoutMs ?? 120000);
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`policy pack in ${cwd} exited with ${code} before printing its port; stderr:\n${err}`));
    });
  });
  const client = new analyzerGrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = <Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req): Promise<Res> =>
    new Promise((resolve, reject) => fn.call(client, req, (e, r) => (e ? reject(e) : resolve(r))));

  return {
    port,
    async analyze(r) {
      return diagnostics(await call(client.analyze, fill(new analyzerPb.AnalyzeRequest(), r)));
    },
    async analyzeStack(resources) {
      const req = new analyzerPb.AnalyzeStackRequest();
      req.setResourcesList(
        resources.map((r) => {
          const a = fill(new analyzerPb.AnalyzerResource(), r);
          if (r.parent) a.setParent(r.parent);
          a.setDependenciesList(r.dependencies ?? []);
          return a;
        }),
      );
      return diagnostics(await call(client.analyzeStack, req));
    },
    async configure(config) {
      // As the Pulumi CLI does (ReconcilePolicyPackConfig): a policy's own enforcement level and its
      // config schema's defaults fill in what the given config leaves out.
      const info = await call<Empty, analyzerPb.AnalyzerInfo>(client.getAnalyzerInfo, new Empty());
      const known = new Map(info.getPoliciesList().map((p) => [p.getName(), p]));
      const req = new analyzerPb.ConfigureAnalyzerRequest();
      const map = req.getPolicyconfigMap();
      for (const [name, { enforcementLevel, ...props }] of Object.entries(config)) {
        const policy = known.get(name);
        const schema = (policy?.getConfigschema()?.getProperties()?.toJavaScript() ?? {}) as Record<string, { default?: unknown }>;
        const defaults = Object.fromEntries(Object.entries(schema).filter(([, v]) => v && typeof v === "object" && "default" in v).map(([k, v]) => [k, v.default]));
        const pc = new analyzerPb.PolicyConfig();
        pc.setEnforcementlevel(enforcementLevel ? LEVEL_CODES[enforcementLevel] : (policy?.getEnforcementlevel() ?? analyzerPb.EnforcementLevel.ADVISORY));
        pc.setProperties(toStruct({ ...defaults, ...props }));
        map.set(name, pc);
      }
      await call(client.configure, req);
    },
    async info() {
      const r = await call<Empty, analyzerPb.AnalyzerInfo>(client.getAnalyzerInfo, new Empty());
      return {
        name: r.getName(),
        policies: r.getPoliciesList().map((p) => ({
          name: p.getName(),
          description: p.getDescription(),
          enforcementLevel: LEVELS[p.getEnforcementlevel()] ?? "advisory",
          configSchema: p.getConfigschema()?.getProperties()?.toJavaScript() as Record<string, unknown> | undefined,
          remediationSteps: p.getRemediationSteps(),
        })),
      };
    },
    stderr: () => err,
    async close() {
      client.close();
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
    },
  };
}

/** Plugin info request type re-exported for callers that want version checks. */
export type PluginInfo = pluginPb.PluginInfo;
