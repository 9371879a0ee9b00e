/**
 * `gpu-hosting render`: for the example stacks, every artifact it writes passes the real tool for
 * its type (shellcheck and bash -n, systemd-analyze verify, cloud-init schema, caddy validate); the
 * manifest lists each file with its layer, target path and hash; secrets appear only as references.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { HostManifest } from "../cli/render";
import { sha256 } from "../core/layers/script";
import { describeWithTools, scriptFindings, systemdVerifyRoot, validateCaddyfile, validateCloudConfig, verifyUnit } from "./helpers/tools";

const ROOT = path.join(__dirname, "..");
const CLI = path.join(ROOT, "dist", "cli", "main.js");

function render(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, "render", ...args], { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Rendered when the file loads: the it.each tables below list the files it wrote.
const out = fs.mkdtempSync(path.join(os.tmpdir(), "gh-render-"));
for (const stack of ["dev", "prod"]) {
  const r = render(["--stack", stack, "--out", path.join(out, stack), "--json"]);
  if (r.status !== 0) throw new Error(`render --stack ${stack} exited ${r.status}: ${r.stderr}`);
}
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

const manifest = (stack: string, host: string): HostManifest => JSON.parse(fs.readFileSync(path.join(out, stack, host, "manifest.json"), "utf8")) as HostManifest;

/** Every rendered file of the example stacks: [stack/host/file, its absolute path, its manifest entry's target path]. */
function artifacts(filter: (file: string) => boolean): [string, string, string | null][] {
  const rows: [string, string, string | null][] = [];
  for (const stack of fs.readdirSync(out)) {
    for (const host of fs.readdirSync(path.join(out, stack))) {
      for (const e of manifest(stack, host).files.filter((f) => filter(f.file))) rows.push([`${stack}/${host}/${e.file}`, path.join(out, stack, host, e.file), e.targetPath]);
    }
  }
  return rows;
}

describe("gpu-hosting render", () => {
  it("writes one folder per host with the layers in order", () => {
    expect(fs.readdirSync(path.join(out, "prod")).sort()).toEqual(["gex-1", "rack-1", "scw-h100"]);
    expect(manifest("prod", "gex-1").order).toEqual(["00-bootstrap.sh", "10-base.sh", "20-gpu.sh", "30-power.sh", "40-inference-chat-large.sh", "50-endpoint.sh", "60-health.sh"]);
    expect(manifest("prod", "scw-h100").order[0]).toBe("10-base.sh");
    expect(fs.existsSync(path.join(out, "prod", "scw-h100", "cloud-config.yaml"))).toBe(true);
    expect(fs.existsSync(path.join(out, "prod", "gex-1", "cloud-config.yaml"))).toBe(false);
  });

  it("renders the dev stack's host exactly as reviewed (snapshot: a renderer change shows up here)", () => {
    const dir = path.join(out, "dev", "dev-gpu");
    const files = Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));
    expect(files).toMatchSnapshot();
  });

  it("lists every file with its layer, target path and content hash", () => {
    for (const host of ["gex-1", "rack-1", "scw-h100"]) {
      const m = manifest("prod", host);
      const onDisk = fs.readdirSync(path.join(out, "prod", host)).filter((f) => f !== "manifest.json").sort();
      expect(m.files.map((f) => f.file).sort()).toEqual(onDisk);
      for (const f of m.files) expect({ file: f.file, sha256: sha256(fs.readFileSync(path.join(out, "prod", host, f.file), "utf8")) }).toEqual({ file: f.file, sha256: f.sha256 });
    }
    const unit = manifest("prod", "scw-h100").files.find((f) => f.file === "gpu-hosting-chat.service")!;
    expect(unit).toMatchObject({ layer: "inference", type: "file", targetPath: "/etc/systemd/system/gpu-hosting-chat.service" });
  });

  it("names secrets only by the root-only files that hold them", () => {
    const m = manifest("prod", "scw-h100");
    expect(m.secrets.map((s) => s.path).sort()).toEqual(["/etc/gpu-hosting/caddy.env", "/etc/gpu-hosting/chat.env"]);
    const all = artifacts(() => true).map(([, file]) => fs.readFileSync(file, "utf8")).join("\n");
    expect(all).not.toMatch(/hf_[A-Za-z0-9]{30,}/);
    expect(all).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    expect(all).toContain("--env-file /etc/gpu-hosting/chat.env");
  });

  it("sizes the engine from the stack: the H100 serves Qwen3-32B in fp8 at 32k, 4 sequences", () => {
    const unit = fs.readFileSync(path.join(out, "prod", "scw-h100", "gpu-hosting-chat.service"), "utf8");
    for (const flag of ["--max-model-len 32768", "--max-num-seqs 4", "--tensor-parallel-size 1", "--quantization fp8"]) expect(unit).toContain(flag);
  });

  it("puts the Hetzner load balancer's proxy on the private network, without a public site", () => {
    const caddy = fs.readFileSync(path.join(out, "prod", "gex-1", "Caddyfile"), "utf8");
    expect(caddy).toContain("http://10.100.1.2:8080 {");
    expect(caddy).not.toContain("llm.example.com");
    expect(manifest("prod", "gex-1").endpoint).toBe("https://llm.example.com/");
  });

  it("exits 2 naming the problem for an unknown host, a missing --out and an invalid stack", () => {
    const host = render(["--stack", "dev", "--host", "nope", "--out", path.join(out, "x")]);
    expect(host.status).toBe(2);
    expect(host.stderr).toContain("--host");
    expect(host.stderr).toContain("dev-gpu");
    const noOut = render(["--stack", "dev"]);
    expect(noOut.status).toBe(2);
    expect(noOut.stderr).toContain("--out <dir>: required");
    const bad = path.join(out, "Pulumi.bad.yaml");
    fs.writeFileSync(bad, "config:\n  gpu-hosting:hosts:\n    - {name: a, kind: scaleway, type: L4-1-24G, zone: nowhere}\n");
    const r = render([bad, "--out", path.join(out, "y")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('gpu-hosting:hosts[0].zone: "nowhere" does not offer L4-1-24G');
  });
});

describeWithTools("rendered scripts pass shellcheck and bash -n", ["shellcheck", "bash"], () => {
  it.each(artifacts((f) => f.endsWith(".sh")))("%s", (_name, file) => {
    expect(scriptFindings(file)).toBe("");
  });
});

describeWithTools("rendered units pass systemd-analyze verify", ["systemd-analyze"], () => {
  let root: string;
  beforeAll(() => {
    root = systemdVerifyRoot();
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  it.each(artifacts((f) => /\.(service|timer)$/.test(f)))("%s", (_name, file, target) => {
    expect(verifyUnit(root, target!, fs.readFileSync(file, "utf8"))).toEqual({ status: 0, output: "" });
  });
});

describeWithTools("rendered cloud-configs pass cloud-init schema", ["cloud-init"], () => {
  it.each(artifacts((f) => f === "cloud-config.yaml"))("%s", (_name, file) => {
    expect(validateCloudConfig(file).status).toBe(0);
  });
});

describeWithTools("rendered Caddyfiles pass caddy validate", ["caddy"], () => {
  it.each(artifacts((f) => f === "Caddyfile"))("%s", (_name, file) => {
    const r = validateCaddyfile(file);
    expect({ status: r.status, valid: /Valid configuration/.test(r.output) }).toEqual({ status: 0, valid: true });
  });
});
