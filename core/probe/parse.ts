/**
 * Pure parsers for what a host probe prints over SSH: `nvidia-smi`, `rocm-smi`, `lscpu`,
 * `/proc/meminfo` and `/etc/os-release`. No I/O and no `@pulumi/*`: the caller runs the commands
 * and hands the text in. Bad input throws an Error naming the source, the line and what was expected.
 */
import { findGpu } from "../catalog";

// ---------------------------------------------------------------------------------------------
// nvidia-smi
// ---------------------------------------------------------------------------------------------

/** The `--query-gpu` fields {@link parseNvidiaSmiCsv} reads, in the order the probe asks for them. */
export const NVIDIA_SMI_QUERY_FIELDS = [
  "index",
  "name",
  "memory.total",
  "power.limit",
  "driver_version",
  "pci.bus_id",
  "compute_cap",
] as const;

/** One of {@link NVIDIA_SMI_QUERY_FIELDS}. */
export type NvidiaSmiField = (typeof NVIDIA_SMI_QUERY_FIELDS)[number];

/** The command whose output {@link parseNvidiaSmiCsv} expects (header and units are also accepted). */
export const NVIDIA_SMI_QUERY_COMMAND = `nvidia-smi --query-gpu=${NVIDIA_SMI_QUERY_FIELDS.join(",")} --format=csv,noheader,nounits`;

/** One GPU as `nvidia-smi --query-gpu` reports it. */
export interface NvidiaSmiGpu {
  /** `index`: the driver's enumeration order (0-based). */
  index: number;
  /** `name`, e.g. "NVIDIA H100 80GB HBM3". */
  name: string;
  /** `memory.total` in MiB as the driver reports it (e.g. 81559 for an H100 SXM). */
  memoryMiB: number;
  /** `power.limit` in watts; null where the driver prints `[N/A]` or `[Not Supported]`. */
  powerLimitWatts: number | null;
  /** `driver_version`, e.g. "550.54.15". */
  driverVersion: string;
  /** `pci.bus_id` as printed, e.g. "00000000:18:00.0". */
  busId: string;
  /**
   * `compute_cap`, e.g. "9.0"; null where the driver prints `[N/A]`/`[Not Supported]` or the field
   * was not queried (drivers before about 510 do not know it).
   */
  computeCapability: string | null;
  /** Catalog GPU id from `findGpu(name)`, e.g. "h100-sxm-80gb"; null when the catalog does not know the name. */
  catalogId: string | null;
}

const NVIDIA_FIELD_LIST = NVIDIA_SMI_QUERY_FIELDS.join(", ");
const NOT_AVAILABLE = /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions)\]?$/i;

/** Throws if `text` is one of nvidia-smi's whole-run failures rather than data. */
function checkNvidiaSmiFailure(text: string, what: string): void {
  if (/NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/i.test(text)) {
    throw new Error(
      `${what}: the NVIDIA driver is not loaded (nvidia-smi printed "NVIDIA-SMI has failed because it couldn't ` +
        `communicate with the NVIDIA driver"); install the driver or load its kernel module (\`lsmod | grep nvidia\`, ` +
        `reboot after a kernel update), then probe again`,
    );
  }
  if (/Failed to initialize NVML: Driver\/library version mismatch/i.test(text)) {
    throw new Error(
      `${what}: the loaded NVIDIA kernel module and the installed driver libraries differ (nvidia-smi printed ` +
        `"Failed to initialize NVML: Driver/library version mismatch"); reboot the host (or reload the nvidia modules) and probe again`,
    );
  }
  const invalid = /Field "([^"]+)" is not a valid field to query/i.exec(text);
  if (invalid) {
    throw new Error(
      `${what}: this driver's nvidia-smi does not know the field "${invalid[1]}" (it printed "${invalid[0]}."); ` +
        `query without it (compute_cap is optional: --query-gpu=${NVIDIA_SMI_QUERY_FIELDS.slice(0, 6).join(",")}) or upgrade the driver`,
    );
  }
}

/** Maps a header cell such as "memory.total [MiB]" to its field name. */
const headerField = (cell: string): string => cell.replace(/\s*\[[^\]]*\]\s*$/, "").trim().toLowerCase();

/**
 * Parses the output of {@link NVIDIA_SMI_QUERY_COMMAND}. Also accepts the header line (columns are
 * then read by name, in any order), values with units ("81559 MiB", "700.00 W"), and lines
 * without `compute_cap` (older drivers). Empty output or "No devices were found" means zero GPUs.
 * @throws Error naming the line and what was expected; a clear error when the driver is not loaded.
 */
export function parseNvidiaSmiCsv(text: string): NvidiaSmiGpu[] {
  checkNvidiaSmiFailure(text, "nvidia-smi CSV");
  if (/^\s*No devices were found\s*$/i.test(text)) return [];
  const lines = text.split(/\r?\n/);
  let columns: string[] | null = null;
  const gpus: NvidiaSmiGpu[] = [];
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const lineNo = i + 1;
    const cells = line.split(",").map((c) => c.trim());
    if (columns === null && gpus.length === 0 && cells.map(headerField).includes("name")) {
      columns = cells.map(headerField);
      const missing = NVIDIA_SMI_QUERY_FIELDS.filter((f) => f !== "compute_cap" && !columns?.includes(f));
      if (missing.length > 0) {
        throw new Error(
          `nvidia-smi CSV line ${lineNo}: header lacks ${missing.map((m) => `"${m}"`).join(", ")}; expected the columns ` +
            `${NVIDIA_FIELD_LIST} (run ${NVIDIA_SMI_QUERY_COMMAND}): "${line}"`,
        );
      }
      return;
    }
    const names: readonly string[] = columns ?? (cells.length === 6 ? NVIDIA_SMI_QUERY_FIELDS.slice(0, 6) : NVIDIA_SMI_QUERY_FIELDS);
    if (cells.length !== names.length) {
      const expected = columns ? `${names.length} comma-separated fields as in the header (${names.join(", ")})` : `7 comma-separated fields (${NVIDIA_FIELD_LIST})`;
      throw new Error(`nvidia-smi CSV line ${lineNo}: expected ${expected}, got ${cells.length}: "${line}"`);
    }
    const get = (f: NvidiaSmiField): string | undefined => {
      const at = names.indexOf(f);
      return at < 0 ? undefined : cells[at];
    };
    const bad = (f: NvidiaSmiField, expected: string): Error =>
      new Error(`nvidia-smi CSV line ${lineNo}, field ${f}: expected ${expected}, got "${get(f) ?? ""}": "${line}"`);

    const indexText = get("index") ?? "";
    if (!/^\d+$/.test(indexText)) throw bad("index", "a whole number");
    const name = get("name") ?? "";
    if (name === "" || NOT_AVAILABLE.test(name)) throw bad("name", "the GPU product name");
    const memMatch = /^(\d+)(?:\s*MiB)?$/i.exec(get("memory.total") ?? "");
    if (!memMatch) throw bad("memory.total", 'MiB as a whole number (e.g. 81559 or "81559 MiB")');
    const powerText = get("power.limit") ?? "";
    let powerLimitWatts: number | null = null;
    if (!NOT_AVAILABLE.test(powerText)) {
      const m = /^(\d+(?:\.\d+)?)(?:\s*W)?$/i.exec(powerText);
      if (!m) throw bad("power.limit", 'watts (e.g. 700.00 or "700.00 W") or [N/A]');
      powerLimitWatts = Number(m[1]);
    }
    const driverVersion = get("driver_version") ?? "";
    if (!/^\d+(\.\d+)+$/.test(driverVersion)) throw bad("driver_version", 'a dotted version such as "550.54.15"');
    const busId = get("pci.bus_id") ?? "";
    if (!/^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(busId)) throw bad("pci.bus_id", 'a PCI address such as "00000000:18:00.0"');
    const ccText = get("compute_cap");
    let computeCapability: string | null = null;
    if (ccText !== undefined && !NOT_AVAILABLE.test(ccText)) {
      if (!/^\d+\.\d+$/.test(ccText)) throw bad("compute_cap", 'major.minor such as "9.0", or [N/A]');
      computeCapability = ccText;
    }
    gpus.push({
      index: Number(indexText),
      name,
      memoryMiB: Number(memMatch[1]),
      powerLimitWatts,
      driverVersion,
      busId,
      computeCapability,
      catalogId: findGpu(name)?.id ?? null,
    });
  });
  return gpus;
}

/**
 * Reads the CUDA version from plain `nvidia-smi` output (the banner's `CUDA Version: 12.4`) or from
 * `nvidia-smi -q` (`CUDA Version : 12.4`).
 * @returns "12.4"; null where the driver prints "Not Found" or "N/A" (no CUDA user-mode driver).
 * @throws Error when the driver is not loaded or no "CUDA Version" field is present.
 */
export function parseNvidiaSmiCudaVersion(text: string): string | null {
  checkNvidiaSmiFailure(text, "nvidia-smi banner");
  const m = /CUDA Version\s*:\s*([^\s|]+(?: Found)?)/i.exec(text);
  if (!m || m[1] === undefined) {
    const first = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
    throw new Error(
      `nvidia-smi banner: expected a "CUDA Version: X.Y" field (the header of plain \`nvidia-smi\`), found none; first line: "${first.trim()}"`,
    );
  }
  const value = m[1];
  if (/^(Not Found|N\/A)$/i.test(value)) return null;
  if (!/^\d+\.\d+$/.test(value)) throw new Error(`nvidia-smi banner: expected "CUDA Version: X.Y" such as 12.4, got "${m[0]}"`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// rocm-smi
// ---------------------------------------------------------------------------------------------

/** The command whose output {@link parseRocmSmi} expects. */
export const ROCM_SMI_COMMAND = "rocm-smi --showproductname --showmeminfo vram --json";

/** One AMD GPU as `rocm-smi --json` reports it. */
export interface RocmSmiGpu {
  /** The number in the `cardN` key. */
  index: number;
  /** `Card Series` (older ROCm: `Card series`), e.g. "AMD Instinct MI300X". */
  name: string;
  /** `VRAM Total Memory (B)` in MiB, rounded down. */
  memoryMiB: number;
  /** Catalog GPU id, e.g. "mi300x"; null when the catalog does not know the card. */
  catalogId: string | null;
}

/** Catalog id for an AMD card name, trying the bracketed marketing name and dropping a virtual-function " VF" suffix. */
function amdCatalogId(names: readonly string[]): string | null {
  for (const n of names) {
    const candidates = [n, /\[([^\]]+)\]/.exec(n)?.[1], n.replace(/\s+VF$/i, "")];
    for (const c of candidates) {
      const id = c === undefined ? undefined : findGpu(c)?.id;
      if (id !== undefined) return id;
    }
  }
  return null;
}

/**
 * Parses `rocm-smi --showproductname --showmeminfo vram --json`. Keys other than `cardN` (such as
 * `system`) are ignored; field names are matched case-insensitively because ROCm releases spell
 * them differently ("Card series" / "Card Series"). `{}` means zero GPUs.
 * @throws Error naming the card and the missing or malformed field.
 */
export function parseRocmSmi(text: string): RocmSmiGpu[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const first = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
    throw new Error(
      `rocm-smi JSON: not valid JSON (${(e as Error).message}); expected the output of \`${ROCM_SMI_COMMAND}\`; first line: "${first.trim()}"`,
    );
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new Error(`rocm-smi JSON: expected an object keyed by card ("card0": {...}), got ${Array.isArray(data) ? "an array" : typeof data}`);
  }
  const gpus: RocmSmiGpu[] = [];
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const km = /^card:?(\d+)$/i.exec(key);
    if (!km) continue;
    if (typeof value !== "object" || value === null) throw new Error(`rocm-smi JSON "${key}": expected an object of fields, got ${JSON.stringify(value)}`);
    const fields = new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
    const name = fields.get("card series") ?? fields.get("device name");
    if (name === undefined || name === "" || name === "N/A") {
      throw new Error(`rocm-smi JSON "${key}": expected a "Card Series" field (run \`${ROCM_SMI_COMMAND}\`, which includes --showproductname)`);
    }
    const bytes = fields.get("vram total memory (b)");
    if (bytes === undefined) {
      throw new Error(`rocm-smi JSON "${key}": expected a "VRAM Total Memory (B)" field (run \`${ROCM_SMI_COMMAND}\`, which includes --showmeminfo vram)`);
    }
    if (!/^\d+$/.test(bytes)) throw new Error(`rocm-smi JSON "${key}" field "VRAM Total Memory (B)": expected a whole number of bytes, got "${bytes}"`);
    const model = fields.get("card model");
    gpus.push({
      index: Number(km[1]),
      name,
      memoryMiB: Math.floor(Number(bytes) / 1048576),
      catalogId: amdCatalogId(model !== undefined && !/^0x[0-9a-f]+$/i.test(model) ? [name, model] : [name]),
    });
  }
  return gpus.sort((a, b) => a.index - b.index);
}

// ---------------------------------------------------------------------------------------------
// lscpu, /proc/meminfo, /etc/os-release
// ---------------------------------------------------------------------------------------------

/** CPU facts from `lscpu` (run with `LC_ALL=C` so the labels are English). */
export interface LscpuInfo {
  /** `Architecture`, e.g. "x86_64" or "aarch64". */
  architecture: string;
  /** `CPU(s)`: logical CPUs. */
  cpus: number;
  /** `Model name`; null where lscpu prints none (some ARM hosts). */
  modelName: string | null;
  /** `Socket(s)`; null where lscpu prints "-" or nothing (some ARM hosts). */
  sockets: number | null;
  /** `Core(s) per socket` (or `per cluster` on ARM); null when absent. */
  coresPerSocket: number | null;
  /** `Thread(s) per core`; null when absent. */
  threadsPerCore: number | null;
}

/** Splits "Key:   value" lines; keeps the first value per key. Throws on a line without a colon. */
function colonFields(text: string, what: string, expected: string): Map<string, { value: string; line: number }> {
  const out = new Map<string, { value: string; line: number }>();
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === "") return;
    const at = raw.indexOf(":");
    if (at <= 0) throw new Error(`${what} line ${i + 1}: expected "${expected}", got "${raw.trim()}"`);
    const key = raw.slice(0, at).trim();
    if (!out.has(key)) out.set(key, { value: raw.slice(at + 1).trim(), line: i + 1 });
  });
  return out;
}

/**
 * Parses `lscpu` output.
 * @throws Error when `Architecture` or `CPU(s)` is missing or a count is not a number.
 */
export function parseLscpu(text: string): LscpuInfo {
  const f = colonFields(text, "lscpu", "Label: value");
  const need = (key: string): string => {
    const v = f.get(key)?.value;
    if (v === undefined || v === "") throw new Error(`lscpu: expected a "${key}:" line (run \`LC_ALL=C lscpu\` so labels are English), found none`);
    return v;
  };
  const count = (key: string, required: boolean): number | null => {
    const entry = f.get(key);
    if (entry === undefined || entry.value === "-" || entry.value === "") {
      if (required) need(key);
      return null;
    }
    if (!/^\d+$/.test(entry.value)) throw new Error(`lscpu line ${entry.line}: expected "${key}" to be a whole number, got "${entry.value}"`);
    return Number(entry.value);
  };
  return {
    architecture: need("Architecture"),
    cpus: count("CPU(s)", true) as number,
    modelName: f.get("Model name")?.value || null,
    sockets: count("Socket(s)", false),
    coresPerSocket: count("Core(s) per socket", false) ?? count("Core(s) per cluster", false),
    threadsPerCore: count("Thread(s) per core", false),
  };
}

/** Memory size from `/proc/meminfo`. */
export interface MeminfoInfo {
  /** `MemTotal` in KiB (the kernel's "kB" is KiB). */
  memTotalKiB: number;
  /** `MemTotal` in GiB (KiB / 1024²), unrounded. */
  memTotalGiB: number;
}

/**
 * Parses `/proc/meminfo` for `MemTotal`.
 * @throws Error when `MemTotal` is missing or not "N kB".
 */
export function parseMeminfo(text: string): MeminfoInfo {
  const lines = text.split(/\r?\n/);
  const i = lines.findIndex((l) => /^MemTotal\s*:/.test(l));
  if (i < 0) throw new Error(`/proc/meminfo: expected a "MemTotal: N kB" line, found none (first line: "${(lines[0] ?? "").trim()}")`);
  const line = (lines[i] ?? "").trim();
  const m = /^MemTotal\s*:\s*(\d+)\s*kB$/.exec(line);
  if (!m) throw new Error(`/proc/meminfo line ${i + 1}: expected "MemTotal: N kB", got "${line}"`);
  const kib = Number(m[1]);
  return { memTotalKiB: kib, memTotalGiB: kib / 1048576 };
}

/** Distribution facts from `/etc/os-release`. */
export interface OsRelease {
  /** `ID`, e.g. "ubuntu", "debian", "rhel". @default "linux" (the os-release spec's default) */
  id: string;
  /** `VERSION_ID`, e.g. "22.04"; null where absent (rolling distributions such as Arch). */
  versionId: string | null;
  /** `PRETTY_NAME`, e.g. "Ubuntu 22.04.4 LTS". @default "Linux" (the os-release spec's default) */
  prettyName: string;
  /** `ID_LIKE` split on spaces, e.g. ["debian"]; empty when absent. */
  idLike: string[];
}

/**
 * Parses `/etc/os-release` (shell-style `KEY=value`, values optionally quoted; `#` comments).
 * @throws Error naming the line when a line is not a `KEY=value` assignment.
 */
export function parseOsRelease(text: string): OsRelease {
  const vars = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) throw new Error(`os-release line ${i + 1}: expected KEY=value (e.g. ID=ubuntu), got "${line}"`);
    let value = m[2];
    const q = /^(["'])(.*)\1$/.exec(value);
    if (q && q[2] !== undefined) value = q[1] === '"' ? q[2].replace(/\\([\\"$`])/g, "$1") : q[2];
    vars.set(m[1], value);
  });
  return {
    id: vars.get("ID") || "linux",
    versionId: vars.get("VERSION_ID") || null,
    prettyName: vars.get("PRETTY_NAME") || "Linux",
    idLike: (vars.get("ID_LIKE") ?? "").split(/\s+/).filter((s) => s !== ""),
  };
}
