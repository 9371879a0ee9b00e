/**
 * The npm package as a user gets it: `npm pack`, installed into an empty folder (from npm's cache
 * where it can), then its bin run and its library and `gpu-hosting/testing` imported there. Catches
 * files left out of the package and dependencies used but not declared.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.join(__dirname, "..");
const npm = (args: string[], cwd: string): { status: number | null; out: string } => {
  const r = spawnSync("npm", args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_update_notifier: "false" } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
};

describe("the packed package", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-pack-"));
    // dist/ is built by `npm test` before jest runs; --ignore-scripts skips a second build.
    const pack = npm(["pack", "--pack-destination", dir, "--ignore-scripts", "--silent"], ROOT);
    if (pack.status !== 0) throw new Error(`npm pack failed:\n${pack.out}`);
    const tarball = fs.readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "pack-test", version: "1.0.0", private: true }));
    const install = npm(["install", `./${tarball}`, "--prefer-offline", "--no-audit", "--no-fund", "--silent"], dir);
    if (install.status !== 0) throw new Error(`npm install of the tarball failed:\n${install.out}`);
  }, 300_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("ships dist, the policy pack and the README, not the tests", () => {
    const pkg = path.join(dir, "node_modules", "gpu-hosting");
    expect(fs.readdirSync(pkg).sort()).toEqual(["README.md", "dist", "package.json", "policies"]);
    expect(fs.existsSync(path.join(pkg, "dist", "test"))).toBe(false);
  });

  it("runs its bin", () => {
    const r = spawnSync(path.join(dir, "node_modules", ".bin", "gpu-hosting"), ["estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--max-model-len", "8k", "--json"], { cwd: dir, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ fits: true });
  });

  it("imports the components, the core and gpu-hosting/testing", () => {
    const script = [
      'const g = require("gpu-hosting");',
      'const t = require("gpu-hosting/testing");',
      "console.log(JSON.stringify({ GpuInstance: typeof g.scaleway.GpuInstance, DedicatedServer: typeof g.hetzner.DedicatedServer, Host: typeof g.onprem.Host, HostSoftware: typeof g.layers.HostSoftware, InferenceDeployment: typeof g.kubernetes.InferenceDeployment, Fleet: typeof g.fleet.Fleet, kinds: g.hosts.HOST_KINDS.length, startPolicyPack: typeof t.startPolicyPack }));",
    ].join("\n");
    const r = spawnSync(process.execPath, ["-e", script], { cwd: dir, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ GpuInstance: "function", DedicatedServer: "function", Host: "function", HostSoftware: "function", InferenceDeployment: "function", Fleet: "function", kinds: 4, startPolicyPack: "function" });
  });
});
