/**
 * The gpu layer: the GPU driver and the container runtime, and its verification. Pure (no I/O,
 * no `@pulumi/*`). Install facts: shared/facts/providers-gpus-power.md §5.1–5.3 (NVIDIA driver
 * guide and kernel-module README, NVIDIA Container Toolkit install guide, AMD `amdgpu-install`).
 *
 * - Docker: `docker.io` from the distribution, unless a `docker` is installed.
 * - NVIDIA: the CUDA network repository's keyring, then the open kernel modules (`nvidia-open`)
 *   from Turing on (compute capability 7.5 and up; Blackwell supports only these) or the
 *   proprietary modules (`cuda-drivers`) for Pascal and Volta; the NVIDIA Container Toolkit and
 *   `nvidia-ctk runtime configure --runtime=docker`.
 * - AMD: `amdgpu-install --usecase=rocm` (amdgpu-dkms and ROCm), the render and video groups, and
 *   udev rules giving those groups /dev/kfd and /dev/dri/renderD* for containers.
 * - none (CPU hosts): Docker only.
 *
 * What is already there is kept: a driver that enumerates the GPUs (`nvidia-smi -L` lists them,
 * or /dev/kfd exists and `rocm-smi` answers) supports them, whatever its version. With
 * `driverPreinstalled` (Scaleway GPU OS images ship the driver, Docker and the toolkit) the script
 * holds no driver install at all and fails if the driver is not there.
 */
import { findGpu } from "../catalog";
import { NVIDIA_SMI_QUERY_COMMAND, NVIDIA_SMI_QUERY_FIELDS, parseNvidiaSmiCsv, parseRocmSmi, ROCM_SMI_COMMAND } from "../probe/parse";
import { describeGpus, type ProbeGpu } from "../probe/ssh";
import { APT_SHELL, holdDriverPackagesShell, installTracked, REBOOT_MARKER, type GpuVendor } from "./base";
import { layerScript, shq } from "./script";
import type { HostFile, LayerScript } from "./types";

/** Options of {@link renderGpuLayer}. */
export interface GpuLayerOptions {
  vendor: GpuVendor;
  /** The catalog GPU (name, architecture, compute capability); null on CPU hosts. */
  gpu: { name: string; architecture: string; computeCapability: string | null } | null;
  gpuCount: number;
  /** The image ships the driver, Docker and the container toolkit (Scaleway GPU OS images): install no driver. */
  driverPreinstalled: boolean;
  /** Container runtime the inference layer uses. */
  runtime: "docker";
}

/** NVIDIA driver package for a compute capability: open modules from Turing (7.5) on, proprietary before. */
export function nvidiaDriverPackage(computeCapability: string): "nvidia-open" | "cuda-drivers" {
  const m = /^(\d+)\.(\d+)$/.exec(computeCapability);
  if (!m) throw new Error(`gpu.computeCapability: "${computeCapability}" is not major.minor (e.g. "8.9"); fix the catalog entry`);
  return Number(m[1]) * 10 + Number(m[2]) >= 75 ? "nvidia-open" : "cuda-drivers";
}

/** The CUDA repository keyring package (facts §5.1). */
export const CUDA_KEYRING_DEB = "cuda-keyring_1.1-1_all.deb";
/** The ROCm release `amdgpu-install` comes from (facts §5.3, the documented example; newer GPUs may need a newer one). */
export const ROCM_RELEASE = { version: "6.2", deb: "amdgpu-install_6.2.60200-1_all.deb" } as const;
/** udev rules giving the render group the ROCm devices containers use. */
export const AMDGPU_UDEV_RULES = "/etc/udev/rules.d/70-gpu-hosting-amdgpu.rules";
/** Keyring of the NVIDIA Container Toolkit repository (facts §5.2). */
export const NVIDIA_CTK_KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg";

/** NVSwitch systems (HGX/DGX SXM boards) need the fabric manager, matching the driver exactly. */
const isNvswitchBoard = (name: string, count: number): boolean => count >= 4 && /sxm|^b[23]00$/.test(findGpu(name)?.id ?? name.toLowerCase());

function checkOptions(o: GpuLayerOptions): void {
  if (o.runtime !== "docker") throw new Error(`runtime: "${String(o.runtime)}" is not supported; use "docker"`);
  if (o.vendor === "none") {
    if (o.gpu !== null || o.gpuCount !== 0) throw new Error(`gpu: a host with vendor "none" has no GPUs; got ${o.gpuCount} × ${o.gpu?.name ?? "null"}. Set gpu: null and gpuCount: 0, or the GPU's vendor`);
    return;
  }
  if (!Number.isInteger(o.gpuCount) || o.gpuCount < 1) throw new Error(`gpuCount: ${o.gpuCount} GPUs with vendor "${o.vendor}"; use a whole number of 1 or more`);
  if (o.vendor === "nvidia" && !o.driverPreinstalled && (o.gpu === null || o.gpu.computeCapability === null)) {
    throw new Error(
      `gpu: ${o.gpu?.name ?? "null"} has no compute capability, so the NVIDIA driver flavour (open modules from 7.5, proprietary before) cannot be chosen; add computeCapability to its catalog entry, or set driverPreinstalled`,
    );
  }
}

const DOCKER_SHELL = `# Docker (docker.io from the distribution) unless one is installed.
if ! command -v docker >/dev/null 2>&1; then
  log "installing Docker (docker.io)"
  apt_get update
  apt_get install docker.io
  GH_CHANGED=1
fi
if ! systemctl is-active --quiet docker.service; then
  systemctl enable --now docker.service || fail "Docker does not start" docker.service
  GH_CHANGED=1
fi`;

const MARK_REBOOT_SHELL = `GH_REBOOT_MARKER="$GH_ROOT${REBOOT_MARKER}"
mark_reboot() {
  if [ ! -f "$GH_REBOOT_MARKER" ]; then GH_CHANGED=1; fi
  mkdir -p "$(dirname "$GH_REBOOT_MARKER")"
  printf '%s\\n' "$1" > "$GH_REBOOT_MARKER"
  log "$1"
  printf 'gpu-hosting: gpu: reboot required\\n'
}`;

function nvidiaShell(o: GpuLayerOptions): string {
  // The output is captured first: \`nvidia-smi -L | grep -q\` could fail under pipefail when grep
  // exits before nvidia-smi has written every line (SIGPIPE).
  const ok = `nvidia_ok() {
  local listed
  command -v nvidia-smi >/dev/null 2>&1 || return 1
  listed="$(nvidia-smi -L 2>/dev/null)" || return 1
  case "$listed" in "GPU "* | *$'\\n'"GPU "*) return 0 ;; esac
  return 1
}`;
  let driver: string;
  if (o.driverPreinstalled) {
    driver = `if ! nvidia_ok; then
  fail "driverPreinstalled: the image should ship the NVIDIA driver, but nvidia-smi lists no GPU ($(nvidia-smi -L 2>&1 | head -n 1)); use a GPU OS image (Scaleway: ubuntu_noble_gpu_os_12) or set driverPreinstalled: false"
fi
log "NVIDIA driver preinstalled ($(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1))"`;
  } else {
    const pkg = nvidiaDriverPackage(o.gpu?.computeCapability ?? "");
    const why = pkg === "nvidia-open" ? "open kernel modules: Turing and newer" : "proprietary kernel modules: Pascal and Volta";
    driver = `if nvidia_ok; then
  log "NVIDIA driver present ($(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1)); not installing one"
elif pkg_installed ${pkg}; then
  mark_reboot "the NVIDIA driver (${pkg}) is installed but its kernel module is not loaded"
else
  case "$(os_field ID)$(os_field VERSION_ID)" in
    ubuntu22.04) cuda_distro=ubuntu2204 ;;
    ubuntu24.04) cuda_distro=ubuntu2404 ;;
    debian12) cuda_distro=debian12 ;;
    *) fail "NVIDIA's CUDA repository is used here for Ubuntu 22.04, Ubuntu 24.04 and Debian 12 only; this host runs $(os_field PRETTY_NAME)" ;;
  esac
  case "$(dpkg --print-architecture)" in
    amd64) cuda_arch=x86_64 ;;
    arm64) cuda_arch=sbsa ;;
    *) fail "no CUDA repository for architecture $(dpkg --print-architecture)" ;;
  esac
  if ! pkg_installed cuda-keyring; then
    keyring_tmp="$(mktemp -d)"
    keyring_url="https://developer.download.nvidia.com/compute/cuda/repos/$cuda_distro/$cuda_arch/${CUDA_KEYRING_DEB}"
    curl -fsSL --retry 3 -o "$keyring_tmp/${CUDA_KEYRING_DEB}" "$keyring_url" || fail "downloading $keyring_url failed"
    apt_get install "$keyring_tmp/${CUDA_KEYRING_DEB}"
    rm -rf "$keyring_tmp"
  fi
  apt_get update
  apt_get install "linux-headers-$(uname -r)"
  log "installing ${pkg} (${why})"
  apt_get install ${pkg}
  GH_CHANGED=1
  if nvidia_ok; then
    log "NVIDIA driver ${pkg} installed and loaded"
  else
    mark_reboot "the NVIDIA driver (${pkg}) was installed; its kernel module loads at the next boot"
  fi
fi`;
  }
  const fabric =
    !o.driverPreinstalled && o.gpu && isNvswitchBoard(o.gpu.name, o.gpuCount)
      ? `\nlog "WARNING: ${o.gpuCount} × ${o.gpu.name} is an NVSwitch board: CUDA needs the fabric manager of exactly the driver's version (cuda-drivers-fabricmanager-<branch>), which this layer does not install"`
      : "";
  return `# NVIDIA driver.
${ok}
${driver}${fabric}
if nvidia_ok; then rm -f "$GH_REBOOT_MARKER"; fi
hold_driver_packages

# NVIDIA Container Toolkit, and Docker's nvidia runtime.
if ! command -v nvidia-ctk >/dev/null 2>&1; then
  log "installing the NVIDIA Container Toolkit"
  ctk_tmp="$(mktemp -d)"
  curl -fsSL --retry 3 -o "$ctk_tmp/gpgkey" https://nvidia.github.io/libnvidia-container/gpgkey || fail "downloading https://nvidia.github.io/libnvidia-container/gpgkey failed"
  gpg --batch --yes --dearmor -o "$ctk_tmp/keyring.gpg" "$ctk_tmp/gpgkey" || fail "gpg --dearmor of the NVIDIA Container Toolkit key failed"
  install_file ${shq(NVIDIA_CTK_KEYRING)} 0644 "$(base64 -w0 "$ctk_tmp/keyring.gpg")"
  curl -fsSL --retry 3 -o "$ctk_tmp/list" https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list || fail "downloading the NVIDIA Container Toolkit apt list failed"
  grep -q '^deb https://' "$ctk_tmp/list" || fail "the NVIDIA Container Toolkit apt list has no 'deb https://' line" "$ctk_tmp/list"
  install_file /etc/apt/sources.list.d/nvidia-container-toolkit.list 0644 "$(sed 's#deb https://#deb [signed-by=${NVIDIA_CTK_KEYRING}] https://#g' "$ctk_tmp/list" | base64 -w0)"
  rm -rf "$ctk_tmp"
  apt_get update
  apt_get install nvidia-container-toolkit
  GH_CHANGED=1
fi
docker_runtimes() { docker info --format '{{json .Runtimes}}' 2>/dev/null || true; }
has_nvidia_runtime() { case "$(docker_runtimes)" in *'"nvidia"'*) return 0 ;; esac; return 1; }
if ! has_nvidia_runtime; then
  nvidia-ctk runtime configure --runtime=docker --config="$GH_ROOT/etc/docker/daemon.json" >/dev/null || fail "nvidia-ctk runtime configure --runtime=docker failed"
  systemctl restart docker.service || fail "Docker does not restart after nvidia-ctk runtime configure" docker.service
  GH_CHANGED=1
  if ! has_nvidia_runtime; then
    fail "Docker lists no nvidia runtime after nvidia-ctk runtime configure and a restart (runtimes: $(docker_runtimes))" docker.service
  fi
  log "Docker has the nvidia runtime"
fi`;
}

function amdShell(o: GpuLayerOptions): { files: HostFile[]; body: string } {
  const rules: HostFile = {
    layer: "gpu",
    name: "70-gpu-hosting-amdgpu.rules",
    path: AMDGPU_UDEV_RULES,
    mode: "0644",
    content: [
      "# gpu-hosting: the ROCm devices for the render group (containers: --device /dev/kfd --device /dev/dri --group-add render --group-add video).",
      'KERNEL=="kfd", GROUP="render", MODE="0660"',
      'SUBSYSTEM=="drm", KERNEL=="renderD*", GROUP="render", MODE="0660"',
      "",
    ].join("\n"),
  };
  const url = `https://repo.radeon.com/amdgpu-install/${ROCM_RELEASE.version}/ubuntu/$codename/${ROCM_RELEASE.deb}`;
  const install = o.driverPreinstalled
    ? `if ! amd_ok; then fail "driverPreinstalled: the image should ship ROCm, but /dev/kfd or rocm-smi is missing; set driverPreinstalled: false"; fi`
    : `if amd_ok; then
  log "ROCm present; not installing it"
elif pkg_installed amdgpu-dkms; then
  mark_reboot "amdgpu-dkms is installed but /dev/kfd is missing or rocm-smi does not answer: its module loads at the next boot"
else
  case "$(os_field ID)$(os_field VERSION_CODENAME)" in
    ubuntujammy) codename=jammy ;;
    ubuntunoble) codename=noble ;;
    *) fail "amdgpu-install ${ROCM_RELEASE.version} is used here on Ubuntu 22.04 (jammy) and 24.04 (noble) only; this host runs $(os_field PRETTY_NAME)" ;;
  esac
  if ! command -v amdgpu-install >/dev/null 2>&1; then
    amd_tmp="$(mktemp -d)"
    curl -fsSL --retry 3 -o "$amd_tmp/${ROCM_RELEASE.deb}" "${url}" || fail "downloading ${url} failed"
    apt_get install "$amd_tmp/${ROCM_RELEASE.deb}"
    rm -rf "$amd_tmp"
  fi
  apt_get update
  apt_get install "linux-headers-$(uname -r)"
  wait_for_dpkg_lock
  log "installing amdgpu-dkms and ROCm ${ROCM_RELEASE.version} (amdgpu-install --usecase=rocm)"
  amdgpu-install -y --usecase=rocm || fail "amdgpu-install -y --usecase=rocm failed" "$GH_ROOT/var/log/apt/term.log"
  GH_CHANGED=1
  mark_reboot "amdgpu-dkms and ROCm ${ROCM_RELEASE.version} were installed; the new amdgpu module loads at the next boot"
fi`;
  return {
    files: [rules],
    body: `# AMD driver and ROCm.
PATH="$PATH:/opt/rocm/bin"
amd_ok() { [ -e "$GH_ROOT/dev/kfd" ] && command -v rocm-smi >/dev/null 2>&1 && rocm-smi --showproductname >/dev/null 2>&1; }
${install}
if amd_ok; then rm -f "$GH_REBOOT_MARKER"; fi
hold_driver_packages

# The ROCm devices for containers: render and video groups, udev rules.
for group in render video; do
  if ! getent group "$group" >/dev/null; then
    groupadd --system "$group" || fail "groupadd $group failed"
    GH_CHANGED=1
  fi
done
${installTracked([rules], "udev_changed")}
if [ "$udev_changed" = 1 ]; then
  if ! { udevadm control --reload-rules && udevadm trigger --subsystem-match=drm --subsystem-match=kfd; }; then
    fail "udevadm could not apply ${AMDGPU_UDEV_RULES}"
  fi
fi`,
  };
}

/**
 * `20-gpu.sh`: Docker, then the GPU driver and container runtime of `vendor` (see the module
 * comment), skipping what is there. When it installs a kernel module that is not loaded, it writes
 * `$GH_ROOT/var/lib/gpu-hosting/reboot-required` and prints `gpu-hosting: gpu: reboot required`
 * on stdout (the only line a layer prints there); it never reboots itself. Driver packages are
 * held (`apt-mark hold`) once installed.
 *
 * @throws Error naming the option, the value and the fix when the options do not fit together.
 */
export function renderGpuLayer(o: GpuLayerOptions): LayerScript {
  checkOptions(o);
  const parts = [APT_SHELL, holdDriverPackagesShell(o.vendor), MARK_REBOOT_SHELL, DOCKER_SHELL];
  let files: HostFile[] = [];
  if (o.vendor === "nvidia") parts.push(nvidiaShell(o));
  if (o.vendor === "amd") {
    const amd = amdShell(o);
    files = amd.files;
    parts.push(amd.body);
  }
  if (o.vendor === "none") parts.push(`log "no GPU declared: Docker only"`);
  return { ...layerScript("gpu", "20-gpu.sh", [], parts.join("\n\n")), files };
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/** Prefix of the marker lines around each section of the verification output. */
export const GPU_VERIFY_MARKER = "@@gpu-hosting-verify";
/** Sections {@link GPU_VERIFY_COMMAND} prints, in order. */
export const GPU_VERIFY_SECTIONS = ["nvidia-query", "rocm", "kfd", "docker-runtimes", "nvidia-ctk", "reboot-required"] as const;
type VerifySection = (typeof GPU_VERIFY_SECTIONS)[number];

const NVIDIA_QUERY_WITHOUT_CC = `nvidia-smi --query-gpu=${NVIDIA_SMI_QUERY_FIELDS.filter((f) => f !== "compute_cap").join(",")} --format=csv,noheader,nounits`;

/**
 * The verification as a POSIX sh script (read-only): each section between
 * `@@gpu-hosting-verify begin <name>` and `… end <name> rc=N` (or `absent` when the program is
 * missing). Paths honour `GPU_HOSTING_ROOT` like the layers.
 */
export const GPU_VERIFY_SCRIPT = `# gpu-hosting: gpu layer verification (read-only); prints each section between marker lines.
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/rocm/bin"
export PATH
R="\${GPU_HOSTING_ROOT:-}"
M='${GPU_VERIFY_MARKER}'
section() {
  name=$1
  program=$2
  shift 2
  printf '%s begin %s\\n' "$M" "$name"
  if command -v "$program" >/dev/null 2>&1; then
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\\n' "$out"
    printf '%s end %s rc=%s\\n' "$M" "$name" "$rc"
  else
    printf '%s end %s absent\\n' "$M" "$name"
  fi
}
# shellcheck disable=SC2317 # called through section()
nvidia_query() {
  q=$(${NVIDIA_SMI_QUERY_COMMAND} 2>&1)
  qrc=$?
  case $q in
    *"is not a valid field"*)
      q=$(${NVIDIA_QUERY_WITHOUT_CC} 2>&1)
      qrc=$?
      ;;
  esac
  printf '%s\\n' "$q"
  return "$qrc"
}
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
