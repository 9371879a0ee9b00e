/**
 * The real tools rendered artifacts are checked with: shellcheck and `bash -n` for scripts,
 * `systemd-analyze verify` for units, `cloud-init schema` for cloud-configs, `caddy validate` for
 * Caddyfiles. A missing tool fails the tests under CI=true and skips them elsewhere, saying why.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Debian package of each tool. */
const PACKAGE: Record<string, string> = { "systemd-analyze": "systemd", "cloud-init": "cloud-init", caddy: "caddy", shellcheck: "shellcheck", bash: "bash" };

/** Why a tool is not usable here, or null. */
export function toolMissing(tool: string): string | null {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0 ? null : `${tool} not found (Debian/Ubuntu: apt-get install -y ${PACKAGE[tool] ?? tool})`;
}

/** `describe` that needs tools: fails under CI=true without them, skips with a warning elsewhere. */
export function describeWithTools(name: string, tools: string[], fn: () => void): void {
  const missing = tools.map(toolMissing).filter((m): m is string => m !== null);
  if (missing.length === 0) return describe(name, fn);
  if (process.env.CI === "true") {
    describe(name, () => it("has its tools installed (required under CI=true)", () => expect(missing).toEqual([])));
    return;
  }
  console.warn(`SKIPPED "${name}": ${missing.join("; ")}`);
  describe.skip(name, fn);
}

/** shellcheck (style level) and `bash -n` findings for a script file; "" when clean. */
export function scriptFindings(file: string): string {
  const sc = spawnSync("shellcheck", ["--shell=bash", "--severity=style", file], { encoding: "utf8" });
  const n = spawnSync("bash", ["-n", file], { encoding: "utf8" });
  return [sc.status === 0 ? "" : `shellcheck: ${sc.stdout}${sc.stderr}`, n.status === 0 ? "" : `bash -n: ${n.stderr}`].join("").trim();
}

/**
 * A --root for `systemd-analyze verify`: a copy of this machine's system units plus stub units
 * (docker, caddy, nvidia-persistenced) and stub binaries the rendered units name (docker, caddy,
 * nvidia-smi, rocm-smi, sh), so systemd's real parser checks everything else.
 */
export function systemdVerifyRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "gh-systemd-root-"));
  const units = path.join(root, "usr", "lib", "systemd", "system");
  fs.mkdirSync(path.dirname(units), { recursive: true });
  fs.cpSync(fs.realpathSync("/lib/systemd/system"), units, { recursive: true, verbatimSymlinks: true });
  for (const u of ["docker", "caddy", "nvidia-persistenced"]) fs.writeFileSync(path.join(units, `${u}.service`), `[Unit]\nDescription=stub\n[Service]\nExecStart=/usr/bin/${u === "caddy" ? "caddy" : "sh"}\n`);
  fs.mkdirSync(path.join(root, "usr", "bin"), { recursive: true });
  fs.symlinkSync("usr/bin", path.join(root, "bin"));
  for (const b of ["docker", "dockerd", "caddy", "sh", "bash", "nvidia-smi", "rocm-smi"]) fs.writeFileSync(path.join(root, "usr", "bin", b), "#!/bin/sh\n", { mode: 0o755 });
  fs.mkdirSync(path.join(root, "opt", "rocm", "bin"), { recursive: true });
  fs.writeFileSync(path.join(root, "opt", "rocm", "bin", "rocm-smi"), "#!/bin/sh\n", { mode: 0o755 });
  fs.mkdirSync(path.join(root, "etc", "systemd", "system"), { recursive: true });
  return root;
}

/** `systemd-analyze verify` of a unit installed at `targetPath` inside `root`; output "" when clean. */
export function verifyUnit(root: string, targetPath: string, content: string): { status: number | null; output: string } {
  const file = path.join(root, targetPath);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  const r = spawnSync("systemd-analyze", ["verify", `--root=${root}`, path.basename(targetPath)], { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** `caddy validate` of a Caddyfile, with a throwaway home so nothing is written elsewhere. */
export function validateCaddyfile(file: string): { status: number | null; output: string } {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "gh-caddy-home-"));
  const r = spawnSync("caddy", ["validate", "--config", file, "--adapter", "caddyfile"], { encoding: "utf8", env: { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home } });
  fs.rmSync(home, { recursive: true, force: true });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** `cloud-init schema` of a cloud-config file. */
export function validateCloudConfig(file: string): { status: number | null; output: string } {
  const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}
