/**
 * The commands whose code loads only when they run: `check`, `render`, `discover` and
 * `completion`. Their options are declared here, so `--help` and completion know them, and each
 * action imports its module (the stack schema, the layers, SSH) on first use. `fit`, `estimate` and
 * `catalog` do not pay for them: a cold `fit` is the start-up the benchmark holds to 2 × a bare
 * Node start (bench/run.js).
 */
import type { Command } from "commander";
import type { CheckFlags } from "./check";
import type { DiscoverFlags } from "./discover";
import type { RenderFlags } from "./render";

/** Shells `completion` writes scripts for (checked again by cli/completion.ts's parseShell). */
export const SHELLS = ["bash", "zsh", "fish"] as const;

export function registerCheck(program: Command): void {
  program
    .command("check")
    .description("Validate a stack and run the policy checks offline (VRAM fit, GPU capability, power, cost, locations, exposure, secrets). Exit 0 clean, 1 mandatory violation, 2 invalid input")
    .argument("[stack-file]", "a stack file, e.g. stacks/Pulumi.prod.yaml (or use --stack)")
    .option("-s, --stack <name>", "stack name: reads stacks/Pulumi.<name>.yaml")
    .option("--format <format>", "text, markdown (a pull-request comment) or json", "text")
    .option("--policy-config <file>", "policy config JSON, as for `pulumi preview --policy-pack-config`")
    .option("--base <file>", "the base branch's version of the stack file: report what changed against it (hosts, deployments, €/month, watts, kWh, CO2e, violations new or fixed); a path that does not exist means a new stack")
    .option("--json", "same as --format json")
    .action(async (file: string | undefined, flags: CheckFlags) => {
      const { runCheckCommand } = await import("./check");
      process.exitCode = runCheckCommand(file, flags);
    });
}

export function registerDiscover(program: Command): void {
  program
    .command("discover")
    .description("Probe an existing machine over SSH (read-only) and print its gpu-hosting:hosts entry: host key pinned, GPUs, RAM")
    .argument("<target>", "user@host[:port]")
    .option("-i, --identity <file>", "private key file (default: the ssh-agent when SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519)")
    .option("--host-key <key>", 'expected host key: "ssh-ed25519 AAAA…" or its fingerprint "SHA256:…" (ssh-keygen -lf on the host)')
    .option("--known-hosts <file>", "known_hosts file holding the host's key (default: ~/.ssh/known_hosts; read only)")
    .option("--trust-on-first-use", "without a pinned key, accept the key the host presents and print its fingerprint (default: refuse, printing it)")
    .option("--name <name>", "host name in the stack (default: the machine's hostname)")
    .option("--site <site>", "site the host belongs to", "onprem")
    .option("--country <code>", "the site's ISO country code (e.g. DE): the snippet then declares the site, so allowed-locations can place it")
    .option("--timeout <seconds>", "give up after this long", "20")
    .option("--json", "print JSON")
    .action(async (target: string, flags: DiscoverFlags) => {
      const { runDiscoverCommand } = await import("./discover");
      await runDiscoverCommand(target, flags);
    });
}

export function registerRender(program: Command): void {
  program
    .command("render")
    .description("Write every artifact the software layers apply on each host (scripts, systemd units, cloud-config, Caddyfile) and a manifest.json, without credentials. Exit 0 written, 2 invalid input")
    .argument("[stack-file]", "a stack file, e.g. stacks/Pulumi.prod.yaml (or use --stack)")
    .option("-s, --stack <name>", "stack name: reads stacks/Pulumi.<name>.yaml")
    .option("--host <name>", "only this host")
    .option("-o, --out <dir>", "output folder; one sub-folder per host")
    .option("--json", "print the manifests as JSON instead of a table")
    .action(async (file: string | undefined, flags: RenderFlags) => {
      const { runRenderCommand } = await import("./render");
      process.exitCode = runRenderCommand(file, flags);
    });
}

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .description("Print a shell completion script (commands, options, dtypes, engines, catalog GPU and model ids) for bash, zsh or fish")
    .argument("<shell>", `one of ${SHELLS.join(", ")}`)
    .action(async (shell: string) => {
      const { completionScript, parseShell } = await import("./completion");
      process.stdout.write(completionScript(program, parseShell(shell)));
    });
}
