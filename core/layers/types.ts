/**
 * What the software layers render: for each layer, one self-contained bash script that installs the
 * layer's files on the host, applies them, verifies the result and fails loudly (what is missing
 * and the last lines of the relevant log). Pure data; `core/layers/*.ts` render it, the components
 * apply it over SSH (@pulumi/command, triggers = `hash`), `gpu-hosting render` writes it to disk.
 */

/** The layers, in the order they run on a host. */
export const LAYERS = ["base", "gpu", "power", "inference", "endpoint", "health"] as const;
export type LayerName = (typeof LAYERS)[number];

/** A file a layer installs on the host. */
export interface HostFile {
  layer: LayerName;
  /** Name in `gpu-hosting render` output, by type: `*.service`, `*.timer`, `Caddyfile`, `*.yaml`, `*.conf`, `*.json`. */
  name: string;
  /** Absolute path on the host. */
  path: string;
  /** Octal mode, e.g. "0644". */
  mode: string;
  content: string;
}

/**
 * A secret file the layer expects on the host, written by the component from a Pulumi secret (over
 * SSH stdin, never on a command line, never in a unit file). Renderers name it; they never see the
 * value.
 */
export interface SecretFileRef {
  /** Absolute path, root-only (0600), e.g. /etc/gpu-hosting/chat.env. */
  path: string;
  /** Variable names it holds, e.g. ["VLLM_API_KEY", "HF_TOKEN"]. */
  variables: string[];
  /** What it is for, for `render`'s manifest. */
  description: string;
}

/** One layer's script and what it installs. */
export interface LayerScript {
  layer: LayerName;
  /** File name in `render` output, e.g. "20-gpu.sh". */
  name: string;
  /** The script (bash, `set -euo pipefail`), self-contained: it writes `files` itself. */
  script: string;
  /** Files the script installs (also written separately by `render`, for reading). */
  files: HostFile[];
  /** Secret files the script reads (written before it runs). */
  secrets: SecretFileRef[];
  /** sha256 of the script: the components re-run the layer only when it changes. */
  hash: string;
}
