/**
 * `layers.HostSoftware`: applies a host's rendered layers (core/layers, `HostPlan`) over SSH with
 * `@pulumi/command`, in order: bootstrap (as the first login user, where cloud-init does not run),
 * the secret files (written from Pulumi secrets over SSH stdin: never on a command line, never in a
 * unit), then base, gpu (with its verification, and one reboot when a new kernel module needs it),
 * power, one inference layer per deployment, endpoint, health. Each layer re-runs only when its
 * script changes (`triggers` = its content hash). Removing a deployment removes its unit (the
 * inference command's `delete`), never the driver.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import type { HostPlan } from "../../core/layers/plan";
import { REBOOT_MARKER } from "../../core/layers/base";
import type { LayerScript } from "../../core/layers/types";
import { HOST_SOFTWARE_TYPE } from "../../core/tokens";
import type { HostConnection } from "../host";

/** Runs the script given on stdin as root: directly when logged in as root, else through sudo. */
export const RUN_AS_ROOT = 'if [ "$(id -u)" = 0 ]; then bash -s; else sudo -n bash -s; fi';

/** As root or through sudo: the prefix of the commands below (`$S` is empty for root). */
const AS_ROOT_PREFIX = 'if [ "$(id -u)" = 0 ]; then S=; else S="sudo -n"; fi;';

/**
 * Writes a secret file from stdin, root-only from its first byte (umask 077), then restarts the
 * running units that read it, so a rotated key or token reaches them.
 */
export function secretFileCreateCommand(file: string, readers: string[]): string {
  const dir = file.slice(0, file.lastIndexOf("/")) || "/";
  return `${AS_ROOT_PREFIX} $S sh -c 'umask 077; mkdir -p ${dir} && cat > ${file}.new && mv ${file}.new ${file}'${readers.length > 0 ? ` && { $S systemctl try-restart ${readers.join(" ")} 2>/dev/null || true; }` : ""}`;
}

/** Removes a secret file (its command's `delete`). */
export const secretFileDeleteCommand = (file: string): string => `${AS_ROOT_PREFIX} $S rm -f ${file}`;

/** A layer command's `delete`: the plan's removal script, as root, from a here-document. */
export const removalCommand = (removal: string): string => `${RUN_AS_ROOT} <<'GPU_HOSTING_REMOVE'\n${removal}\nGPU_HOSTING_REMOVE`;

/** Arguments of {@link HostSoftware}. */
export interface HostSoftwareArgs {
  /** How the host component reaches the host (its first login user: root on Hetzner dedicated servers). */
  connection: HostConnection;
  /** The rendered layers for this host (`planHost`); plain values, known at preview. */
  plan: HostPlan;
  /** Contents of the plan's secret files, by path, each a Pulumi secret (e.g. `VLLM_API_KEY=…`). */
  secretFiles: Record<string, pulumi.Input<string>>;
  /** How long to keep dialling after the reboot a new driver needs, seconds. @default 900 */
  rebootWaitSeconds?: number;
}

const hashOf = (s: string): string => createHash("sha256").update(s).digest("hex");

/** The software of one host, applied over SSH. */
export class HostSoftware extends pulumi.ComponentResource {
  /** Type token. */
  public static readonly __pulumiType = HOST_SOFTWARE_TYPE;

  /** One command per layer, by script name (escape hatch). */
  public readonly commands: Record<string, command.remote.Command>;
  /** The health layer's output once the endpoint answered; unknown during preview. */
  public readonly health?: pulumi.Output<string>;
  /** "ok" once the GPU verification agreed with the declared GPUs; the update fails otherwise. */
  public readonly gpuCheck?: pulumi.Output<string>;

  constructor(name: string, args: HostSoftwareArgs, opts?: pulumi.ComponentResourceOptions) {
    super(HostSoftware.__pulumiType, name, { host: args.plan.host, layers: args.plan.layers.map((l) => ({ layer: l.layer, name: l.name, hash: l.hash })) }, opts);
    const c = args.connection;
    const dialing = { dialErrorLimit: Math.ceil((args.rebootWaitSeconds ?? 900) / 10), perDialTimeout: 10 };
    const login = { host: c.host, port: c.port, user: c.user, privateKey: c.privateKey, ...(c.hostKey ? { hostKey: c.hostKey } : {}), ...dialing };
    const admin = { ...login, user: args.plan.adminUser };
    this.commands = {};
    let previous: pulumi.Resource[] = [];

    const run = (layer: LayerScript, connection: typeof login, extra: { delete?: string } = {}, once = false): command.remote.Command => {
      const cmd = new command.remote.Command(
        `${name}-${layer.name.replace(/\.sh$/, "")}`,
        // After the gpu layer, every layer also waits for the GPU verification to pass.
        { connection, create: RUN_AS_ROOT, stdin: layer.script, triggers: this.gpuCheck ? [layer.hash, this.gpuCheck] : [layer.hash], ...extra },
        // The bootstrap turns root login off, so it can only run once: later changes are the base layer's.
        once ? { parent: this, dependsOn: previous, ignoreChanges: ["stdin", "triggers"] } : { parent: this, dependsOn: previous },
      );
      this.commands[layer.name] = cmd;
      previous = [cmd];
      return cmd;
    };

    if (args.plan.bootstrap) run(args.plan.bootstrap, login, {}, true);

    for (const ref of args.plan.secrets) {
      const content = args.secretFiles[ref.path];
      if (content === undefined) throw new pulumi.ResourceError(`layers.HostSoftware ${name}: no content for the secret file ${ref.path} (${ref.description}); pass it in secretFiles`, this);
      const secret = pulumi.secret(content);
      const readers = args.plan.secretReaders[ref.path] ?? [];
      const cmd = new command.remote.Command(
        `${name}-secret-${ref.path.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "")}`,
        {
          connection: admin,
          // The content arrives on stdin; umask 077 makes the file root-only from its first byte.
          // A new value reaches the units that read it (a rotated API key, a new token) by a restart of those already running.
          create: secretFileCreateCommand(ref.path, readers),
          delete: secretFileDeleteCommand(ref.path),
          stdin: secret,
          triggers: [secret.apply(hashOf)],
        },
        { parent: this, dependsOn: previous },
      );
      this.commands[ref.path] = cmd;
      previous = [cmd];
    }

    for (const layer of args.plan.layers) {
      const removal = args.plan.removals[layer.name];
      const cmd = run(layer, admin, removal ? { delete: removalCommand(removal) } : {});
      if (layer.layer === "gpu") {
        // A new kernel module is loaded by one reboot; the commands after it keep dialling until SSH is back.
        const reboot = new command.remote.Command(
          `${name}-reboot`,
          {
            connection: admin,
            create: `if [ -f ${REBOOT_MARKER} ]; then sudo -n rm -f ${REBOOT_MARKER}; sudo -n nohup sh -c 'sleep 2; systemctl reboot' >/dev/null 2>&1 & echo rebooting; else echo no-reboot; fi`,
            triggers: [layer.hash],
          },
          { parent: this, dependsOn: [cmd] },
        );
        // Then the GPUs as declared: driver loaded, toolkit present, count and model (core/layers/gpu.ts verifyGpu).
        const verify = new command.remote.Command(`${name}-gpu-verify`, { connection: admin, create: args.plan.gpuVerifyCommand, triggers: [layer.hash] }, { parent: this, dependsOn: [reboot] });
        this.gpuCheck = verify.stdout.apply((out) => {
          const problems = args.plan.verifyGpu(out);
          if (problems.length > 0) throw new pulumi.ResourceError(`layers.HostSoftware ${name}: the GPU layer's verification failed:\n  ${problems.join("\n  ")}`, this);
          return "ok";
        });
        this.commands.reboot = reboot;
        this.commands["gpu-verify"] = verify;
        previous = [verify];
      }
    }

    this.health = this.commands[args.plan.layers.find((l) => l.layer === "health")?.name ?? ""]?.stdout;
    this.registerOutputs({ health: this.health, gpuCheck: this.gpuCheck });
  }
}
