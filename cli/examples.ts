/**
 * Examples shown at the end of each command's `--help`, by command path. main.ts attaches them
 * after every command is registered; test/completion.test.ts checks that every command has some
 * and that each one parses (and runs, where it is offline and cheap).
 *
 * Each line is a whole command line, optionally followed by `# comment`. No pipes; a redirection
 * (`> file`) may end a line: the test parses the part before it as an argument list.
 */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  "": [
    "gpu-hosting fit llama-3.1-70b --context 32k --concurrency 16",
    "gpu-hosting estimate --model llama-3.1-8b --gpu l4 --max-model-len 16k",
    "gpu-hosting check --stack prod",
    "gpu-hosting completion bash   # shell completion; see `gpu-hosting completion --help`",
  ],
  estimate: [
    "gpu-hosting estimate --model meta-llama/Llama-3.1-8B-Instruct --gpu l4 --max-model-len 16k",
    "gpu-hosting estimate --model llama-3.1-70b --gpu h100-sxm-80gb --gpu-count 4 --dtype fp8 --kv-cache-dtype fp8 --json",
    "gpu-hosting estimate --model qwen3-8b --engine cpu --ram-gib 32 --dtype q4_k_m --max-model-len 8k",
    "gpu-hosting estimate --model llama-3.1-8b --vram-gib 24 --concurrency 8 --max-model-len 8k",
  ],
  fit: [
    "gpu-hosting fit meta-llama/Llama-3.1-70B-Instruct --context 32k --concurrency 16",
    "gpu-hosting fit qwen3-30b-a3b --context 16k --eu-only --max-eur-month 1500 --json",
    "gpu-hosting fit llama-3.1-8b --provider scaleway --include-unlisted",
    "gpu-hosting fit qwen3-32b --context 16k --concurrency 8 --owned rtx-pro-6000-blackwell --eur-per-kwh 0.30 --years 3 --include-serverless",
  ],
  catalog: ["gpu-hosting catalog gpus", "gpu-hosting catalog offers --json", "gpu-hosting catalog models"],
  "catalog gpus": ["gpu-hosting catalog gpus", "gpu-hosting catalog gpus --json"],
  "catalog offers": ["gpu-hosting catalog offers", "gpu-hosting catalog offers --json"],
  "catalog models": ["gpu-hosting catalog models", "gpu-hosting catalog models --json"],
  check: [
    "gpu-hosting check --stack prod                 # stacks/Pulumi.prod.yaml, a text report",
    "gpu-hosting check stacks/Pulumi.dev.yaml --format markdown",
    "gpu-hosting check --stack dev --json",
  ],
  discover: [
    "gpu-hosting discover ubuntu@10.0.0.5 -i ~/.ssh/id_ed25519 --site office-dc --country DE",
    'gpu-hosting discover root@gpu1.example.com:2222 --host-key "ssh-ed25519 AAAA…"',
    "gpu-hosting discover admin@[2001:db8::5] --trust-on-first-use --json",
  ],
  render: ["gpu-hosting render --stack prod --out rendered", "gpu-hosting render stacks/Pulumi.dev.yaml --host dev-gpu --out /tmp/dev"],
  completion: [
    "gpu-hosting completion bash > ~/.local/share/bash-completion/completions/gpu-hosting",
    "gpu-hosting completion zsh > \"${fpath[1]}/_gpu-hosting\"",
    "gpu-hosting completion fish > ~/.config/fish/completions/gpu-hosting.fish",
  ],
};

/** Commands whose output shows prices: their `--help` says the prices exclude VAT. */
export const PRICE_COMMANDS: readonly string[] = ["fit", "catalog", "catalog offers", "check"];
