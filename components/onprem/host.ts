/**
 * `onprem.Host`: a machine that already exists (on premises or in a colocation rack), registered by
 * SSH address, user, private key (secret) and pinned host key, with a declared inventory that a
 * read-only probe verifies at every `pulumi up`. Pulumi never owns the machine: the probe is a
 * `command.remote.Command` without a `delete` command, so destroying the stack runs nothing on it.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { catalog, closest, findGpu } from "../../core/catalog";
import { checkProbe, DEFAULT_ONPREM_USER, DEFAULT_SSH_PORT, ownedHostProblems } from "../../core/hosts/onprem";
import { parsePublicKey, probeCommand, probeScriptHash, renderProbeScript, type ProbeResult } from "../../core/probe/ssh";
import { ONPREM_HOST_TYPE } from "../../core/tokens";
import { hostInputs, type GpuHost, type HostConnection, type HostFacts } from "../host";

/** Arguments of {@link Host}. */
export interface HostArgs {
  /** Address SSH connects to (IP or DNS name), reachable from where `pulumi up` runs. */
  address: pulumi.Input<string>;
  /** SSH port. @default 22 */
  port?: number;
  /** Login user; needs passwordless sudo for the software layers (the probe itself needs none). @default "root" */
  user?: string;
  /** Private key (OpenSSH format) whose public half is in the user's authorized_keys. Always handled as a secret. */
  privateKey: pulumi.Input<string>;
  /** Pinned host public key as in known_hosts, "ssh-ed25519 AAAA…"; connections presenting another key are refused. `gpu-hosting discover` prints it. */
  hostKey: string;
  /** Declared facts (from `resolveHost`); plain values, so policies can read them at preview. */
  facts: HostFacts;
  /** Run the probe and fail the update when it disagrees with `facts`. @default true */
  probe?: boolean;
}

export { checkProbe, DEFAULT_ONPREM_USER, DEFAULT_SSH_PORT };

/**
 * Checks the plain arguments with the owned-host kind's validators (the same `gpu-hosting check`
 * runs). Returns the problems, each starting with `prefix`; empty when all is well. Pure.
 */
export function onpremHostProblems(prefix: string, args: Pick<HostArgs, "hostKey" | "facts" | "port" | "user">): string[] {
  const { gpu } = args.facts;
  // Facts come from resolveHost, which stores the catalog id; an alias here means hand-built facts.
  if (gpu !== null && findGpu(gpu)?.id !== gpu) {
    return [`${prefix}: facts.gpu "${gpu}" is not a GPU id of the catalog; closest: ${closest(gpu, catalog().gpus.map((g) => g.id)).join(", ")} (\`gpu-hosting catalog gpus\` lists them)`];
  }
  return ownedHostProblems(
    prefix,
    { hostKey: args.hostKey, port: args.port ?? DEFAULT_SSH_PORT, user: args.user ?? DEFAULT_ONPREM_USER, inventory: { gpu: args.facts.gpu, gpuCount: args.facts.gpuCount } },
    catalog(),
  );
}

/** An existing machine reached over SSH; implements {@link GpuHost}. */
export class Host extends pulumi.ComponentResource implements GpuHost {
  /** Type token. */
  public static readonly __pulumiType = ONPREM_HOST_TYPE;

  /** Declared facts, as given. */
  public readonly facts: HostFacts;
  /** SSH access; the private key is a secret, the host key pinned. */
  public readonly connection: HostConnection;
  /** What the probe found, once it agreed with `facts`; null when `probe: false`. Unknown during preview. */
  public readonly probe: pulumi.Output<ProbeResult | null>;
  /** The probe command (escape hatch); undefined when `probe: false`. */
  public readonly probeCommand?: command.remote.Command;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Host.__pulumiType, name, hostInputs(args.facts, { port: args.port, user: args.user, hostKey: args.hostKey }), opts);
    const prefix = `onprem.Host ${name}`;
    const problems = onpremHostProblems(prefix, args);
    if (problems.length > 0) throw new pulumi.ResourceError(problems.join("\n"), this);

    const hostKey = parsePublicKey(args.hostKey);
    const pinned = `${hostKey.type} ${hostKey.base64}`;
    const port = args.port ?? DEFAULT_SSH_PORT;
    const user = args.user ?? DEFAULT_ONPREM_USER;
    const privateKey = pulumi.secret(args.privateKey);
    this.facts = args.facts;
    this.connection = { host: pulumi.output(args.address), port, user, privateKey, hostKey: pulumi.output(pinned) };

    if (args.probe ?? true) {
      const script = renderProbeScript();
      this.probeCommand = new command.remote.Command(
        `${name}-probe`,
        {
          // The provider refuses a server whose host key differs from the pinned one.
          connection: { host: args.address, port, user, privateKey, hostKey: pinned },
          create: probeCommand(script),
          // No `delete`: destroying the stack never runs anything on the machine.
          triggers: [probeScriptHash(script)],
        },
        { parent: this },
      );
      this.probe = this.probeCommand.stdout.apply((stdout) => {
        try {
          return checkProbe(prefix, stdout, pinned, args.facts);
        } catch (e) {
          throw new pulumi.ResourceError((e as Error).message, this);
        }
      });
    } else {
      this.probe = pulumi.output(null);
    }

    this.registerOutputs({
      facts: this.facts,
      connection: { host: this.connection.host, port, user, hostKey: pinned },
      probe: this.probe,
    });
  }
}
