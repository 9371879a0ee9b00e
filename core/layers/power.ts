/**
 * The power layer: persistence mode (NVIDIA) and the GPU power cap, applied at every boot by a
 * oneshot systemd unit and read back by the script. Pure (no I/O, no `@pulumi/*`).
 *
 * - NVIDIA: `nvidia-smi -pm 1` (persistence mode: the driver stays initialised between jobs) and,
 *   with a cap, one `nvidia-smi -pl <W>` for all GPUs (without `-i` it applies to every GPU); read
 *   back with `nvidia-smi --query-gpu=power.limit` and `persistence_mode`.
 * - AMD: `rocm-smi --setpoweroverdrive <W>` (rocm_smi.py: "Set the maximum GPU power using Power
 *   OverDrive in Watts"; a whole number of watts, refused outside the board's range, and a value
 *   above the current cap asks for confirmation, which the unit's empty stdin refuses: raising a
 *   cap over the default fails loudly instead of being accepted). Read back with
 *   `rocm-smi --showmaxpower` ("Max Graphics Package Power (W)"). AMD has no persistence mode; with
 *   no cap there is nothing to apply.
 *
 * A cap that is removed stays until the next boot (the unit no longer sets it): it is lower than
 * the board power the power-budget check then assumes, so it errs on the safe side.
 */
import { installTracked, REBOOT_MARKER, type GpuVendor } from "./base";
import { layerScript, shq } from "./script";
import type { HostFile, LayerScript } from "./types";

/** The unit that applies persistence mode and the cap at boot. */
export const POWER_UNIT = "gpu-hosting-power.service";
/** Where it is installed. */
export const POWER_UNIT_PATH = `/etc/systemd/system/${POWER_UNIT}`;
/** How far a read-back limit may be from the cap, watts. */
export const POWER_LIMIT_TOLERANCE_WATTS = 1;
/** Reads the NVIDIA power limits back, one line of watts per GPU in index order. */
export const NVIDIA_POWER_LIMIT_QUERY = "nvidia-smi --query-gpu=power.limit --format=csv,noheader,nounits";
/** Reads the AMD power caps back ("GPU[0] : Max Graphics Package Power (W): 750.0"). */
export const AMD_POWER_LIMIT_QUERY = "rocm-smi --showmaxpower";

const BINARY = { nvidia: "/usr/bin/nvidia-smi", amd: "/opt/rocm/bin/rocm-smi" } as const;
type Mode = keyof typeof BINARY;

/** Options of {@link renderPowerLayer}. */
export interface PowerLayerOptions {
  vendor: GpuVendor;
  gpuCount: number;
  /** Power limit per GPU, watts; null keeps the board's default. */
  capWatts: number | null;
}

/** The unit's text, or null when it has nothing to do (AMD without a cap). */
export function renderPowerUnit(o: { vendor: Mode; capWatts: number | null }): string | null {
  const exec: string[] = [];
  if (o.vendor === "nvidia") {
    exec.push(`${BINARY.nvidia} -pm 1`);
    if (o.capWatts !== null) exec.push(`${BINARY.nvidia} -pl ${o.capWatts}`);
  } else if (o.capWatts !== null) {
    exec.push(`${BINARY.amd} --setpoweroverdrive ${o.capWatts}`);
  }
  if (exec.length === 0) return null;
  const what = [o.vendor === "nvidia" ? "persistence mode" : null, o.capWatts !== null ? `power limit ${o.capWatts} W per GPU` : null].filter(Boolean).join(" and ");
  const after = o.vendor === "nvidia" ? "nvidia-persistenced.service systemd-modules-load.service" : "systemd-modules-load.service systemd-udev-trigger.service";
  return [
    "[Unit]",
    `Description=gpu-hosting: GPU ${what}`,
    `After=${after}`,
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    ...exec.map((e) => `ExecStart=${e}`),
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Read-back check: one set of messages, rendered both in TypeScript and as the script's awk
// ---------------------------------------------------------------------------------------------

type Var = "gpu" | "val" | "cap" | "fix" | "expected" | "n" | "want" | "query";
type Part = string | { v: Var };

const FIX: Record<Mode, string> = {
  nvidia: `nvidia-smi -q -d POWER shows the range the board accepts; journalctl -u ${POWER_UNIT} shows what nvidia-smi -pl said`,
  amd: `rocm-smi refuses caps outside the board's range, and some Instinct boards cannot be capped below their default; journalctl -u ${POWER_UNIT} shows what it said`,
};
const QUERY: Record<Mode, string> = { nvidia: NVIDIA_POWER_LIMIT_QUERY, amd: AMD_POWER_LIMIT_QUERY };

const MESSAGES: Record<"na" | "off" | "none" | "count", Part[]> = {
  na: ["power layer: GPU ", { v: "gpu" }, ' reports no settable power limit ("', { v: "val" }, '"); it cannot be capped: remove gpuPowerCapWatts for this host'],
  off: ["power layer: GPU ", { v: "gpu" }, " power limit is ", { v: "val" }, " W, expected ", { v: "cap" }, ` W (±${POWER_LIMIT_TOLERANCE_WATTS} W); the cap did not take: `, { v: "fix" }],
  none: ["power layer: no GPU reported a power limit", { v: "expected" }, "; is the driver loaded? (", { v: "query" }, ")"],
  count: ["power layer: ", { v: "n" }, " GPU(s) reported a power limit, expected ", { v: "want" }, "; check that the driver sees every GPU (", { v: "query" }, ")"],
};

const render = (parts: Part[], vars: Record<Var, string>): string => parts.map((p) => (typeof p === "string" ? p : vars[p.v])).join("");
const awkString = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
const awkConcat = (parts: Part[]): string => parts.map((p) => (typeof p === "string" ? awkString(p) : p.v)).join(" ");

/**
 * The awk program the script pipes the read-back through (variables `cap`, `want`, `mode`): prints
 * the same messages as {@link verifyPowerLimits}, exits 1 when there is any. POSIX awk (mawk).
 * @internal
 */
export const POWER_READBACK_AWK = `function problem(msg) { print msg; bad = 1 }
BEGIN {
  if (mode == "amd") { fix = ${awkString(FIX.amd)}; query = ${awkString(QUERY.amd)} } else { fix = ${awkString(FIX.nvidia)}; query = ${awkString(QUERY.nvidia)} }
}
{
  line = $0
  sub(/\\r$/, "", line)
  if (mode == "amd") {
    if (line !~ /Max Graphics Package Power/) next
    gpu = n + 0
    if (line ~ /^GPU\\[[0-9]+\\]/) { gpu = line; sub(/^GPU\\[/, "", gpu); sub(/\\].*$/, "", gpu) }
    val = "Unsupported"
    if (line ~ /\\(W\\):/) { val = line; sub(/^.*\\(W\\):/, "", val) }
  } else {
    if (line ~ /^[ \\t]*$/) next
    gpu = n + 0
    val = line
  }
  n++
  sub(/^[ \\t]+/, "", val)
  sub(/[ \\t]+$/, "", val)
  if (val !~ /^[0-9]+(\\.[0-9]+)?$/) { problem(${awkConcat(MESSAGES.na)}); next }
  d = val - cap
  if (d < 0) d = -d
  if (d > ${POWER_LIMIT_TOLERANCE_WATTS}) problem(${awkConcat(MESSAGES.off)})
}
END {
  expected = ""
  if (want != "") expected = " (expected " want ")"
  if (n == 0) problem(${awkConcat(MESSAGES.none)})
  else if (want != "" && n != want) problem(${awkConcat(MESSAGES.count)})
  exit bad
}`;

/**
 * Checks read-back power limits against the cap: `nvidia-smi --query-gpu=power.limit
 * --format=csv,noheader,nounits` (one line of watts per GPU) or `rocm-smi --showmaxpower` (lines
 * "GPU[n] : Max Graphics Package Power (W): 750.0"; recognised by that label). A limit more than
 * 1 W from the cap, a GPU without a settable limit ("[N/A]"), no GPU at all, or (with `gpuCount`)
 * another number of GPUs is a problem. The layer's script prints the same messages (its awk is
 * rendered from the same text).
 * @returns one message per problem, naming the GPU, the value read, the cap and the fix; empty when all match.
 */
export function verifyPowerLimits(capWatts: number, stdout: string, gpuCount?: number): string[] {
  const mode: Mode = /Max Graphics Package Power/.test(stdout) ? "amd" : "nvidia";
  const vars = (over: Partial<Record<Var, string>>): Record<Var, string> => ({
    gpu: "",
    val: "",
    cap: String(capWatts),
    fix: FIX[mode],
    expected: gpuCount === undefined ? "" : ` (expected ${gpuCount})`,
    n: "",
    want: gpuCount === undefined ? "" : String(gpuCount),
    query: QUERY[mode],
    ...over,
  });
  const problems: string[] = [];
  let n = 0;
  for (const raw of stdout.split("\n")) {
    const line = raw.replace(/\r$/, "");
    let gpu = String(n);
    let val: string;
    if (mode === "amd") {
      if (!/Max Graphics Package Power/.test(line)) continue;
      gpu = /^GPU\[(\d+)\]/.exec(line)?.[1] ?? gpu;
      const at = line.lastIndexOf("(W):");
      val = at < 0 ? "Unsupported" : line.slice(at + 4);
    } else {
      if (/^[ \t]*$/.test(line)) continue;
      val = line;
    }
    n++;
    val = val.replace(/^[ \t]+/, "").replace(/[ \t]+$/, "");
    if (!/^[0-9]+(\.[0-9]+)?$/.test(val)) problems.push(render(MESSAGES.na, vars({ gpu, val })));
    else if (Math.abs(Number(val) - capWatts) > POWER_LIMIT_TOLERANCE_WATTS) problems.push(render(MESSAGES.off, vars({ gpu, val })));
  }
  if (n === 0) problems.push(render(MESSAGES.none, vars({})));
  else if (gpuCount !== undefined && n !== gpuCount) problems.push(render(MESSAGES.count, vars({ n: String(n) })));
  return problems;
}

// ---------------------------------------------------------------------------------------------
// 30-power.sh
// ---------------------------------------------------------------------------------------------

function checkOptions(o: PowerLayerOptions): void {
  if (!Number.isInteger(o.gpuCount) || o.gpuCount < 1) throw new Error(`gpuCount: ${o.gpuCount} GPUs with vendor "${o.vendor}"; the power layer needs a whole number of 1 or more`);
  if (o.capWatts !== null && (!Number.isInteger(o.capWatts) || o.capWatts < 1)) {
    throw new Error(`gpuPowerCapWatts: ${o.capWatts} is not a whole number of watts of 1 or more (nvidia-smi -pl and rocm-smi --setpoweroverdrive take watts), e.g. 250`);
  }
}

function readbackShell(mode: Mode, o: PowerLayerOptions): string {
  const lines: string[] = [];
  if (mode === "nvidia") {
    lines.push(`  if ! pm="$(nvidia-smi --query-gpu=persistence_mode --format=csv,noheader 2>&1)"; then fail "reading persistence mode back failed: $pm" ${POWER_UNIT}; fi
  if printf '%s\\n' "$pm" | grep -qvx 'Enabled'; then
    fail "persistence mode is not on for every GPU (nvidia-smi --query-gpu=persistence_mode: $(printf '%s' "$pm" | tr '\\n' ' ')); see journalctl -u ${POWER_UNIT}" ${POWER_UNIT}
  fi`);
  }
  if (o.capWatts !== null) {
    // sudo's secure_path has no /opt/rocm/bin, where ROCm puts rocm-smi.
    if (mode === "amd") lines.push(`  PATH="$PATH:/opt/rocm/bin"`);
    lines.push(`  if ! limits="$(${QUERY[mode]} 2>&1)"; then fail "reading the power limits back failed (${QUERY[mode]}): $limits" ${POWER_UNIT}; fi
  if ! limit_problems="$(printf '%s\\n' "$limits" | awk -v cap=${o.capWatts} -v want=${o.gpuCount} -v mode=${mode} ${shq(POWER_READBACK_AWK)})"; then
    fail "$limit_problems" ${POWER_UNIT}
  fi
  log "read back: power limit ${o.capWatts} W on each of the ${o.gpuCount} GPU(s)"`);
  }
  return lines.join("\n");
}

/**
 * `30-power.sh`: installs {@link POWER_UNIT} (persistence mode; the cap when `capWatts` is set),
 * `daemon-reload` and `restart` when the unit changed, `enable` when it is not, `start` when it is
 * not active; then reads persistence mode and the limits back and fails when a GPU's limit is more
 * than 1 W from the cap (the message names the GPU, the value and the fix). While the gpu layer's
 * reboot is pending the unit is only enabled: it runs at boot. Null for hosts without GPUs.
 *
 * @throws Error naming the option, the value and the fix when the options are unusable.
 */
export function renderPowerLayer(o: PowerLayerOptions): LayerScript | null {
  if (o.vendor === "none") return null;
  checkOptions(o);
  const mode: Mode = o.vendor;
  const unitText = renderPowerUnit({ vendor: mode, capWatts: o.capWatts });
  if (unitText === null) {
    const body = `# No power cap, and persistence mode is an NVIDIA setting: only a unit left by an earlier cap is removed.
if [ -f "$GH_ROOT${POWER_UNIT_PATH}" ]; then
  systemctl disable --now ${POWER_UNIT} || fail "systemctl disable --now ${POWER_UNIT} failed" ${POWER_UNIT}
  rm -f "$GH_ROOT${POWER_UNIT_PATH}"
  systemctl daemon-reload || fail "systemctl daemon-reload failed"
  GH_CHANGED=1
  log "removed ${POWER_UNIT} (no cap any more; the last cap stays until the next boot)"
fi
log "no power cap for the AMD GPUs: nothing to apply"`;
    return layerScript("power", "30-power.sh", [], body);
  }
  const unit: HostFile = { layer: "power", name: POWER_UNIT, path: POWER_UNIT_PATH, mode: "0644", content: unitText };
  const body = `${installTracked([unit], "unit_changed")}
if [ "$unit_changed" = 1 ]; then systemctl daemon-reload || fail "systemctl daemon-reload failed"; fi
if ! systemctl is-enabled --quiet ${POWER_UNIT}; then
  systemctl enable ${POWER_UNIT} || fail "systemctl enable ${POWER_UNIT} failed" ${POWER_UNIT}
  GH_CHANGED=1
fi
if [ -f "$GH_ROOT${REBOOT_MARKER}" ]; then
  log "a reboot is pending (gpu layer): ${POWER_UNIT} runs at boot; not starting it or reading the limits back now"
else
  if [ "$unit_changed" = 1 ]; then
    systemctl restart ${POWER_UNIT} || fail "${POWER_UNIT} failed" ${POWER_UNIT}
  elif ! systemctl is-active --quiet ${POWER_UNIT}; then
    systemctl start ${POWER_UNIT} || fail "${POWER_UNIT} failed" ${POWER_UNIT}
    GH_CHANGED=1
  fi
${readbackShell(mode, o)}
fi`;
  return { ...layerScript("power", "30-power.sh", [], body), files: [unit] };
}
