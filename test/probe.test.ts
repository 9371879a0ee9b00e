import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import {
  NVIDIA_SMI_QUERY_COMMAND,
  parseLscpu,
  parseMeminfo,
  parseNvidiaSmiCsv,
  parseNvidiaSmiCudaVersion,
  parseOsRelease,
  parseRocmSmi,
} from "../core/probe/parse";

const fixture = (name: string): string => readFileSync(path.join(__dirname, "fixtures", "probe", name), "utf8");

describe("parseNvidiaSmiCsv", () => {
  it("reads an 8 × H100 SXM host and maps every GPU to the catalog", () => {
    const gpus = parseNvidiaSmiCsv(fixture("nvidia-smi-query-8xh100.csv"));
    expect(gpus).toHaveLength(8);
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(gpus[0]).toEqual({
      index: 0,
      name: "NVIDIA H100 80GB HBM3",
      memoryMiB: 81559,
      powerLimitWatts: 700,
      driverVersion: "550.54.15",
      busId: "00000000:18:00.0",
      computeCapability: "9.0",
      catalogId: "h100-sxm-80gb",
    });
    expect(new Set(gpus.map((g) => g.catalogId))).toEqual(new Set(["h100-sxm-80gb"]));
    expect(gpus[7]?.busId).toBe("00000000:DB:00.0");
  });

  it("reads the header line and values with units (csv without noheader,nounits)", () => {
    const [l4, ...rest] = parseNvidiaSmiCsv(fixture("nvidia-smi-query-l4-units.csv"));
    expect(rest).toEqual([]);
    expect(l4).toMatchObject({ name: "NVIDIA L4", memoryMiB: 23034, powerLimitWatts: 72, computeCapability: "8.9", catalogId: "l4" });
  });

  it("reads columns by header name whatever their order", () => {
    const text = "name, index, pci.bus_id, driver_version, memory.total [MiB], power.limit [W]\nNVIDIA L40S, 3, 00000000:41:00.0, 570.86.15, 46068 MiB, 350.00 W\n";
    expect(parseNvidiaSmiCsv(text)).toEqual([
      { index: 3, name: "NVIDIA L40S", memoryMiB: 46068, powerLimitWatts: 350, driverVersion: "570.86.15", busId: "00000000:41:00.0", computeCapability: null, catalogId: "l40s" },
    ]);
  });

  it("accepts six fields from a driver too old for compute_cap and reports the capability as unknown", () => {
    const [p100] = parseNvidiaSmiCsv(fixture("nvidia-smi-query-p100-no-compute-cap.csv"));
    expect(p100).toMatchObject({ name: "Tesla P100-PCIE-16GB", memoryMiB: 16280, driverVersion: "470.182.03", computeCapability: null, catalogId: "tesla-p100-16gb" });
  });

  it.each(["[N/A]", "[Not Supported]", "N/A"])("turns a power limit and compute capability of %s into null", (na) => {
    const [g] = parseNvidiaSmiCsv(`0, NVIDIA GeForce RTX 4090, 24564, ${na}, 550.90.07, 00000000:01:00.0, ${na}`);
    expect(g?.powerLimitWatts).toBeNull();
    expect(g?.computeCapability).toBeNull();
    expect(g?.catalogId).toBe("rtx-4090");
  });

  it("returns null catalogId for a GPU the catalog does not know", () => {
    const [t4] = parseNvidiaSmiCsv("0, Tesla T4, 15360, 70.00, 535.104.05, 00000000:00:04.0, 7.5\n");
    expect(t4?.name).toBe("Tesla T4");
    expect(t4?.catalogId).toBeNull();
  });

  it.each([
    ["empty output", ""],
    ["blank lines", "\n  \n"],
    ["the header alone", "index, name, memory.total [MiB], power.limit [W], driver_version, pci.bus_id, compute_cap\n"],
    ["No devices were found", "No devices were found\n"],
  ])("treats %s as zero GPUs", (_label, text) => {
    expect(parseNvidiaSmiCsv(text)).toEqual([]);
  });

  it("names the line, the expected fields and the count when a line is short", () => {
    expect(() => parseNvidiaSmiCsv("0, NVIDIA H100 80GB HBM3, 81559, 700.00, 550.54.15, 00000000:18:00.0, 9.0\n0, NVIDIA L4, 23034\n")).toThrow(
      'nvidia-smi CSV line 2: expected 7 comma-separated fields (index, name, memory.total, power.limit, driver_version, pci.bus_id, compute_cap), got 3: "0, NVIDIA L4, 23034"',
    );
  });

  it("names the field when a value is malformed", () => {
    expect(() => parseNvidiaSmiCsv("0, NVIDIA L4, 22.5 GiB, 72.00, 535.216.01, 00000000:00:03.0, 8.9")).toThrow(
      'nvidia-smi CSV line 1, field memory.total: expected MiB as a whole number (e.g. 81559 or "81559 MiB"), got "22.5 GiB": "0, NVIDIA L4, 22.5 GiB, 72.00, 535.216.01, 00000000:00:03.0, 8.9"',
    );
    expect(() => parseNvidiaSmiCsv("0, NVIDIA L4, 23034, 72.00, 535.216.01, 0:3, 8.9")).toThrow('field pci.bus_id: expected a PCI address such as "00000000:18:00.0", got "0:3"');
  });

  it("says the driver is not loaded when nvidia-smi cannot reach it", () => {
    expect(() => parseNvidiaSmiCsv(fixture("nvidia-smi-driver-not-loaded.txt"))).toThrow(
      /^nvidia-smi CSV: the NVIDIA driver is not loaded .*install the driver or load its kernel module/,
    );
  });

  it("says which field the driver does not know and how to query without it", () => {
    expect(() => parseNvidiaSmiCsv(fixture("nvidia-smi-compute-cap-invalid.txt"))).toThrow(
      'nvidia-smi CSV: this driver\'s nvidia-smi does not know the field "compute_cap"',
    );
    expect(() => parseNvidiaSmiCsv(fixture("nvidia-smi-compute-cap-invalid.txt"))).toThrow("--query-gpu=index,name,memory.total,power.limit,driver_version,pci.bus_id");
  });

  it("explains a driver/library version mismatch", () => {
    expect(() => parseNvidiaSmiCsv("Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 550.127\n")).toThrow(/reboot the host/);
  });

  it("rejects a header that lacks a needed column", () => {
    expect(() => parseNvidiaSmiCsv("index, name, memory.total [MiB]\n0, NVIDIA L4, 23034 MiB\n")).toThrow(
      'nvidia-smi CSV line 1: header lacks "power.limit", "driver_version", "pci.bus_id"',
    );
  });

  it("documents the exact probe command", () => {
    expect(NVIDIA_SMI_QUERY_COMMAND).toBe(
      "nvidia-smi --query-gpu=index,name,memory.total,power.limit,driver_version,pci.bus_id,compute_cap --format=csv,noheader,nounits",
    );
  });
});

describe("parseNvidiaSmiCudaVersion", () => {
  it("reads CUDA 12.4 from the banner of an H100 host", () => {
    expect(parseNvidiaSmiCudaVersion(fixture("nvidia-smi-banner-h100.txt"))).toBe("12.4");
  });

  it("reads the nvidia-smi -q form and reports Not Found as null", () => {
    expect(parseNvidiaSmiCudaVersion("Driver Version                            : 550.54.15\nCUDA Version                              : 12.4\n")).toBe("12.4");
    expect(parseNvidiaSmiCudaVersion("Driver Version                            : 580.105.06\nCUDA Version                              : Not Found\n")).toBeNull();
  });

  it("throws when there is no CUDA Version field, quoting the first line", () => {
    expect(() => parseNvidiaSmiCudaVersion("GPU 0: NVIDIA L4 (UUID: GPU-1)\n")).toThrow(
      'nvidia-smi banner: expected a "CUDA Version: X.Y" field (the header of plain `nvidia-smi`), found none; first line: "GPU 0: NVIDIA L4 (UUID: GPU-1)"',
    );
  });

  it("says the driver is not loaded", () => {
    expect(() => parseNvidiaSmiCudaVersion(fixture("nvidia-smi-driver-not-loaded.txt"))).toThrow("nvidia-smi banner: the NVIDIA driver is not loaded");
  });
});

describe("parseRocmSmi", () => {
  it("reads a Radeon RX 7900 XT that the catalog does not list", () => {
    expect(parseRocmSmi(fixture("rocm-smi-rx7900xt.json"))).toEqual([{ index: 0, name: "Radeon RX 7900 XT", memoryMiB: 20464, catalogId: null }]);
  });

  it("maps an MI300X virtual function to the mi300x catalog entry and ignores the system key", () => {
    expect(parseRocmSmi(fixture("rocm-smi-mi300x-vf.json"))).toEqual([{ index: 0, name: "AMD Instinct MI300X VF", memoryMiB: 196288, catalogId: "mi300x" }]);
  });

  it("reads the older lower-case 'Card series' with the marketing name in brackets, in card order", () => {
    const text = JSON.stringify({
      card1: { "Card series": "Aldebaran [AMD Instinct MI250X]", "Card model": "0x740c", "VRAM Total Memory (B)": "68702699520" },
      card0: { "Card series": "Aldebaran [AMD Instinct MI250X]", "Card model": "0x740c", "VRAM Total Memory (B)": "68702699520" },
    });
    const gpus = parseRocmSmi(text);
    expect(gpus.map((g) => [g.index, g.memoryMiB, g.catalogId])).toEqual([
      [0, 65520, "mi250x"],
      [1, 65520, "mi250x"],
    ]);
  });

  it("treats an empty object as zero GPUs", () => {
    expect(parseRocmSmi("{}")).toEqual([]);
  });

  it("says which flag is missing when VRAM was not requested", () => {
    expect(() => parseRocmSmi('{"card0": {"Card Series": "AMD Instinct MI300X"}}')).toThrow(
      'rocm-smi JSON "card0": expected a "VRAM Total Memory (B)" field (run `rocm-smi --showproductname --showmeminfo vram --json`, which includes --showmeminfo vram)',
    );
  });

  it("quotes the first line when the output is not JSON", () => {
    expect(() => parseRocmSmi("ERROR:root:Driver not initialized (amdgpu not found in modules)\n")).toThrow(
      /^rocm-smi JSON: not valid JSON \(.*\); expected the output of `rocm-smi --showproductname --showmeminfo vram --json`; first line: "ERROR:root:Driver not initialized/,
    );
  });
});

describe("parseLscpu", () => {
  it("reads this machine's captured lscpu", () => {
    expect(parseLscpu(fixture("lscpu-this-machine.txt"))).toEqual({
      architecture: "x86_64",
      cpus: 2,
      modelName: "AMD EPYC",
      sockets: 1,
      coresPerSocket: 2,
      threadsPerCore: 1,
    });
  });

  it("accepts an ARM host without sockets, counting cores per cluster", () => {
    const text = "Architecture:        aarch64\nCPU(s):              72\nVendor ID:           ARM\nModel name:          Neoverse-V2\nThread(s) per core:  1\nCore(s) per cluster: 72\nSocket(s):           -\nCluster(s):          1\n";
    expect(parseLscpu(text)).toEqual({ architecture: "aarch64", cpus: 72, modelName: "Neoverse-V2", sockets: null, coresPerSocket: 72, threadsPerCore: 1 });
  });

  it("asks for LC_ALL=C when the labels are missing", () => {
    expect(() => parseLscpu("Architektur: x86_64\nCPU(s): 2\n")).toThrow('lscpu: expected a "Architecture:" line (run `LC_ALL=C lscpu` so labels are English), found none');
  });

  it("names the line that is not a label", () => {
    expect(() => parseLscpu("Architecture: x86_64\nSegmentation fault\n")).toThrow('lscpu line 2: expected "Label: value", got "Segmentation fault"');
  });
});

describe("parseMeminfo", () => {
  it("converts MemTotal from kB to GiB", () => {
    expect(parseMeminfo("MemTotal:       2113515880 kB\nMemFree:        2090000000 kB\n")).toEqual({ memTotalKiB: 2113515880, memTotalGiB: 2113515880 / 1048576 });
  });

  it("throws when MemTotal is absent or not in kB", () => {
    expect(() => parseMeminfo("MemFree: 1 kB\n")).toThrow('/proc/meminfo: expected a "MemTotal: N kB" line, found none (first line: "MemFree: 1 kB")');
    expect(() => parseMeminfo("MemTotal: 16 GB\n")).toThrow('/proc/meminfo line 1: expected "MemTotal: N kB", got "MemTotal: 16 GB"');
  });
});

describe("parseOsRelease", () => {
  it("reads this machine's captured os-release", () => {
    expect(parseOsRelease(fixture("os-release-this-machine.txt"))).toEqual({ id: "debian", versionId: "12", prettyName: "Debian GNU/Linux 12 (bookworm)", idLike: [] });
  });

  it("reads Ubuntu's ID_LIKE and unquotes values", () => {
    const text = 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n# comment\n';
    expect(parseOsRelease(text)).toEqual({ id: "ubuntu", versionId: "22.04", prettyName: "Ubuntu 22.04.4 LTS", idLike: ["debian"] });
  });

  it("applies the spec defaults and allows a missing VERSION_ID", () => {
    expect(parseOsRelease("NAME=Arch\n")).toEqual({ id: "linux", versionId: null, prettyName: "Linux", idLike: [] });
  });

  it("names the line that is not an assignment", () => {
    expect(() => parseOsRelease("cat: /etc/os-release: No such file or directory\n")).toThrow(
      'os-release line 1: expected KEY=value (e.g. ID=ubuntu), got "cat: /etc/os-release: No such file or directory"',
    );
  });
});

describe("this machine, parsed live", () => {
  it("counts as many CPUs in lscpu as Node does", () => {
    let text: string;
    try {
      text = execFileSync("lscpu", { env: { ...process.env, LC_ALL: "C" }, encoding: "utf8" });
    } catch {
      return; // lscpu is absent (e.g. macOS); the fixture tests above still cover the parser.
    }
    expect(parseLscpu(text).cpus).toBe(os.cpus().length);
  });

  it("reads the same total memory from /proc/meminfo as Node does", () => {
    let text: string;
    try {
      text = readFileSync("/proc/meminfo", "utf8");
    } catch {
      return; // not Linux
    }
    expect(parseMeminfo(text).memTotalKiB * 1024).toBe(os.totalmem());
  });
});
