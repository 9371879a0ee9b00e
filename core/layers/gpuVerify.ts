/**
 * The gpu layer's verification: a read-only script printing marker-separated sections
 * (`nvidia-smi` query, `rocm-smi`, /dev/kfd, Docker runtimes, `nvidia-ctk`, the reboot marker), and
 * the pure check of its output against the declared GPUs. Split from gpu.ts, which renders the
 * install; `layers.HostSoftware` runs GPU_VERIFY_COMMAND after the gpu layer (and its reboot).
 */
import { findGpu } from "../catalog";
import { parseNvidiaSmiCsv, parseRocmSmi, ROCM_SMI_COMMAND } from "../probe/parse";
import { sectionScriptPrologue } from "../probe/sections";
import { describeGpus, type ProbeGpu } from "../probe/ssh";
import { REBOOT_MARKER, type GpuVendor } from "./base";

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/** Prefix of the marker lines around each section of the verification output. */
export const GPU_VERIFY_MARKER = "@@gpu-hosting-verify";
/** Sections {@link GPU_VERIFY_COMMAND} prints, in order. */
export const GPU_VERIFY_SECTIONS = ["nvidia-query", "rocm", "kfd", "docker-runtimes", "nvidia-ctk", "reboot-required"] as const;
type VerifySection = (typeof GPU_VERIFY_SECTIONS)[number];

/**
 * The verification as a POSIX sh script (read-only): each section between
 * `@@gpu-hosting-verify begin <name>` and `… end <name> rc=N` (or `absent` when the program is
 * missing). Paths honour `GPU_HOSTING_ROOT` like the layers.
 */
export const GPU_VERIFY_SCRIPT = `${sectionScriptPrologue("gpu-hosting: gpu layer verification (read-only); prints each section between marker lines.", GPU_VERIFY_MARKER)}R="\${GPU_HOSTING_ROOT:-}"
# shellcheck disable=SC2317 # called through section()
has_file() { test -e "$R$1"; }
section nvidia-query nvidia-smi nvidia_query
section rocm rocm-smi ${ROCM_SMI_COMMAND}
section kfd test has_file /dev/kfd
section docker-runtimes docker docker info --format '{{json .Runtimes}}'
section nvidia-ctk nvidia-ctk nvidia-ctk --version
section reboot-required test has_file ${REBOOT_MARKER}
exit 0
`;

const shWrap = (script: string): string => `sh -c '${script.replace(/'/g, `'\\''`)}'`;

/** The command whose stdout {@link verifyGpu} reads: the script as root (directly, or through `sudo -n`: `docker info` needs the daemon's socket). */
export const GPU_VERIFY_COMMAND = `if [ "$(id -u)" = 0 ]; then ${shWrap(GPU_VERIFY_SCRIPT)}; else sudo -n ${shWrap(GPU_VERIFY_SCRIPT)}; fi`;

interface Section {
  text: string;
  /** Exit status; null when the program is not installed. */
  rc: number | null;
}

function splitVerifyOutput(stdout: string): Record<VerifySection, Section> {
  const lines = stdout.split(/\r?\n/);
  const out: Partial<Record<VerifySection, Section>> = {};
  for (const name of GPU_VERIFY_SECTIONS) {
    const begin = lines.indexOf(`${GPU_VERIFY_MARKER} begin ${name}`);
    const endAt = lines.findIndex((l, i) => i > begin && l.startsWith(`${GPU_VERIFY_MARKER} end ${name} `));
    const end = /^\S+ end \S+ (?:rc=(\d+)|(absent))$/.exec(lines[endAt] ?? "");
    if (begin < 0 || endAt < 0 || !end) {
      throw new Error(`the verification output has no complete "${name}" section (expected "${GPU_VERIFY_MARKER} begin ${name}" … "end ${name} rc=N"); was it cut short, or not the output of GPU_VERIFY_COMMAND?`);
    }
    out[name] = { text: lines.slice(begin + 1, endAt).join("\n").trim(), rc: end[2] ? null : Number(end[1]) };
  }
  return out as Record<VerifySection, Section>;
}

const firstLine = (t: string): string => (t.split("\n").find((l) => l.trim() !== "") ?? "").trim();
const probeGpu = (vendor: "nvidia" | "amd", g: { index: number; name: string; memoryMiB: number; catalogId: string | null }): ProbeGpu => ({
  vendor,
  index: g.index,
  name: g.name,
  memoryMiB: g.memoryMiB,
  catalogId: g.catalogId,
  powerLimitWatts: null,
  busId: null,
  computeCapability: null,
});

/** GPUs nvidia-smi lists, or why it could not (null when nvidia-smi is not installed). */
function readNvidia(s: Section): { gpus: ProbeGpu[]; problem: string | null } | null {
  if (s.rc === null) return null;
  try {
    const gpus = parseNvidiaSmiCsv(s.text).map((g) => probeGpu("nvidia", g));
    if (s.rc !== 0 && gpus.length === 0 && !/No devices were found/i.test(s.text)) {
      return { gpus, problem: `nvidia-smi exited ${s.rc}: "${firstLine(s.text)}"; check dmesg | grep -i nvidia` };
    }
    return { gpus, problem: null };
  } catch (e) {
    return { gpus: [], problem: (e as Error).message };
  }
}

/** GPUs rocm-smi lists, or why it could not (null when rocm-smi is not installed). */
function readAmd(s: Section): { gpus: ProbeGpu[]; problem: string | null } | null {
  if (s.rc === null) return null;
  const json = s.text.slice(Math.max(0, s.text.indexOf("{")));
  if (s.rc !== 0 && !json.startsWith("{")) return { gpus: [], problem: `rocm-smi exited ${s.rc}: "${firstLine(s.text)}"; check dmesg | grep -i amdgpu` };
  try {
    return { gpus: parseRocmSmi(json).map((g) => probeGpu("amd", g)), problem: null };
  } catch (e) {
    return { gpus: [], problem: (e as Error).message };
  }
}

/** Runtime names from `docker info --format '{{json .Runtimes}}'`; null when unreadable. */
function dockerRuntimes(text: string): string[] | null {
  try {
    const v: unknown = JSON.parse(firstLine(text));
    return v && typeof v === "object" && !Array.isArray(v) ? Object.keys(v).sort() : null;
  } catch {
    return null;
  }
}

/**
 * Checks the output of {@link GPU_VERIFY_COMMAND} against the declared GPUs. Returns one message per
 * problem, each naming what was expected, what was found and the fix; empty when all is well:
 * - nvidia/amd: the driver answers (`nvidia-smi` / `rocm-smi`, and /dev/kfd for AMD), as many GPUs
 *   as declared (fewer or more is a problem: sizing, power and cost count `gpuCount`), all of the
 *   declared model (matched through the catalog by the driver's name), and Docker answers; NVIDIA
 *   also needs `nvidia-ctk` and Docker's "nvidia" runtime.
 * - none (CPU host): Docker answers, and no GPU shows up. A GPU on a host declared without one is
 *   a problem, as for an on-prem inventory: the power and cost checks would miss it.
 * Unreadable output is a problem too (fail closed).
 */
export function verifyGpu(o: { vendor: GpuVendor; gpuCount: number; gpuName: string | null }, stdout: string): string[] {
  let s: Record<VerifySection, Section>;
  try {
    s = splitVerifyOutput(stdout);
  } catch (e) {
    return [`gpu layer: ${(e as Error).message}`];
  }
  const problems: string[] = [];
  const gpu = o.gpuName === null ? undefined : findGpu(o.gpuName);
  const id = gpu?.id ?? null;
  const declared = o.vendor === "none" ? "no GPUs (gpu: null)" : `${o.gpuCount} × ${gpu?.name ?? o.gpuName ?? "an unnamed GPU"} (${id ?? "not in the catalog"})`;
  const reboot = s["reboot-required"].rc === 0 ? `; a reboot is pending (${REBOOT_MARKER}): the new kernel module loads at boot, so verify after it` : "";
  const nvidia = readNvidia(s["nvidia-query"]);
  const amd = readAmd(s.rocm);

  if (o.vendor === "none") {
    const found = [...(nvidia?.gpus ?? []), ...(amd?.gpus ?? [])];
    if (found.length > 0) {
      problems.push(
        `gpu layer: expected ${declared}, found ${describeGpus(found)}; declare them (gpu: ${found[0]?.catalogId ?? "<catalog id>"}, gpuCount: ${found.length}) so the sizing, power and cost checks count them`,
      );
    }
  } else {
    const tool = o.vendor === "nvidia" ? "nvidia-smi" : "rocm-smi";
    const read = o.vendor === "nvidia" ? nvidia : amd;
    const lspci = `lspci | grep -i ${o.vendor === "nvidia" ? "nvidia" : "amd"}`;
    if (read === null) {
      const fix = o.vendor === "nvidia" ? "install the driver (nvidia-open from Turing on, cuda-drivers for Pascal and Volta)" : "install ROCm (amdgpu-install --usecase=rocm)";
      problems.push(`gpu layer: ${tool} is not installed: expected ${declared}, found no ${o.vendor === "nvidia" ? "NVIDIA driver" : "ROCm"}${reboot}; run the gpu layer (20-gpu.sh) again or ${fix}`);
    } else if (read.problem !== null) {
      problems.push(`gpu layer: the ${o.vendor === "nvidia" ? "NVIDIA driver" : "AMD driver"} does not answer: expected ${declared}${reboot}; ${read.problem}`);
    } else if (read.gpus.length === 0) {
      problems.push(`gpu layer: expected ${declared}, ${tool} found no GPUs; check that they are seated and visible (${lspci}) and supported by the installed driver`);
    } else if (id === null || read.gpus.some((g) => g.catalogId !== id)) {
      const other = read.gpus.find((g) => g.catalogId !== id);
      const fix = other?.catalogId ? `declare the GPU the host has (gpu: ${other.catalogId})` : `add "${other?.name ?? ""}" to the catalog (core/catalog/data/gpus.json) and declare it`;
      problems.push(`gpu layer: expected ${declared}, found ${describeGpus(read.gpus)}; ${fix}, or use a host with ${id ?? o.gpuName}`);
    } else if (read.gpus.length < o.gpuCount) {
      const list = o.vendor === "nvidia" ? "nvidia-smi -L" : "rocm-smi";
      problems.push(
        `gpu layer: expected ${declared}, found ${describeGpus(read.gpus)}; a GPU is missing or not visible to the driver: check ${list} and ${lspci} on the host (a GPU that fell off the bus needs a reboot or a hardware ticket), or declare gpuCount: ${read.gpus.length}`,
      );
    } else if (read.gpus.length > o.gpuCount) {
      problems.push(`gpu layer: expected ${declared}, found ${describeGpus(read.gpus)}; declare gpuCount: ${read.gpus.length} so the sizing, power and cost checks count every GPU`);
    }
    if (o.vendor === "amd" && s.kfd.rc !== 0) {
      problems.push(`gpu layer: /dev/kfd is missing, so containers cannot use the GPUs: the amdgpu kernel driver is not loaded${reboot}; check dmesg | grep -i amdgpu, or run the gpu layer again`);
    }
    if (o.vendor === "nvidia" && s["nvidia-ctk"].rc === null) {
      problems.push(
        `gpu layer: the NVIDIA Container Toolkit is not installed (no nvidia-ctk), so containers cannot reach the GPUs; run the gpu layer again, or install nvidia-container-toolkit, run nvidia-ctk runtime configure --runtime=docker and restart docker`,
      );
    }
  }

  const d = s["docker-runtimes"];
  if (d.rc === null) {
    problems.push(`gpu layer: Docker is not installed (no docker command); run the gpu layer (20-gpu.sh) again or apt-get install docker.io`);
  } else if (d.rc !== 0) {
    problems.push(`gpu layer: Docker does not answer (docker info exited ${d.rc}: "${firstLine(d.text)}"); start it with systemctl enable --now docker`);
  } else if (o.vendor === "nvidia") {
    const runtimes = dockerRuntimes(d.text);
    if (runtimes === null) problems.push(`gpu layer: cannot read Docker's runtimes from "${firstLine(d.text)}"; expected the JSON of docker info --format '{{json .Runtimes}}'`);
    else if (!runtimes.includes("nvidia")) {
      problems.push(`gpu layer: Docker has no "nvidia" runtime (runtimes: ${runtimes.join(", ") || "none"}); run nvidia-ctk runtime configure --runtime=docker and systemctl restart docker`);
    }
  }
  return problems;
}
