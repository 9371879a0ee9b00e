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

export { GPU_VERIFY_COMMAND, GPU_VERIFY_MARKER, GPU_VERIFY_SCRIPT, GPU_VERIFY_SECTIONS, verifyGpu } from "./gpuVerify";
