/**
 * The rendered inference and health scripts, run for real over SSH against the OpenSSH sshd on
 * 127.0.0.1 (test/helpers/sshd.ts) with GPU_HOSTING_ROOT pointing at a temp dir and stand-ins first
 * on PATH (test/fixtures/layers-serving): `systemctl` runs the unit's ExecStart from the temp root,
 * `docker run` starts a stand-in OpenAI-compatible server (not an engine) on the unit's port,
 * `journalctl` prints what the stand-in systemctl logged. Only loopback traffic; every process is
 * killed in afterAll; nothing is written outside the temp dir.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { DeploymentConfig } from "../core/config/schema";
import { renderHealthLayer } from "../core/layers/health";
import { renderInferenceLayer, type InferenceInput } from "../core/layers/inference";
import { shq } from "../core/layers/script";
import { sizeOnGpu } from "../core/sizing/deployment";
import { describeWithSshd, startSshd, type Sshd } from "./helpers/sshd";

const FAKE_BIN = path.join(__dirname, "fixtures", "layers-serving");
const KEY = "k-0123456789abcdef-test";
const IMAGE = "vllm/vllm-openai@sha256:7a0f0fdd2771464b6976625c2b2d5dd46f566aa00fbc53eceab86ef50883da90";

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describeWithSshd("serving layers over SSH with stand-ins", () => {
  let sshd: Sshd;
  let dir = "";
  let root = "";
  let port = 0;
  const sizing = sizeOnGpu(DeploymentConfig.parse({ name: "chat", model: "meta-llama/Llama-3.1-8B-Instruct", hosts: ["h1"] }), "deployments[0]", "l4", 1, null, ["h1"]);
  const inference = (context: number): InferenceInput => ({
    deployment: "chat",
    sizing,
    context,
    concurrency: 1,
    gpuMemoryUtilization: 0.9,
    kvCacheDtype: "auto",
    gpuVendor: "nvidia",
    port,
    bindAddress: "127.0.0.1",
  });

  /** Runs a script on the sshd as its login user, with the temp root and the stand-ins. */
  function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const remote = `env GPU_HOSTING_ROOT=${shq(root)} PATH=${shq(FAKE_BIN)}:"$PATH" bash -s`;
    const args = ["-F", "/dev/null", "-i", sshd.clientKeyPath, "-p", String(sshd.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"];
    args.push("-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", `${sshd.user}@127.0.0.1`, remote);
    return new Promise((resolve, reject) => {
      const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(script);
    });
  }

  const calls = (): string[] => fs.readFileSync(path.join(root, ".standin", "calls.log"), "utf8").trim().split("\n");
  const enginePid = (): number => Number(fs.readFileSync(path.join(root, ".standin", "gpu-hosting-chat.pid"), "utf8"));
  const models = async (key = KEY): Promise<{ status: number; body: unknown }> => {
    const r = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    return { status: r.status, body: await r.json() };
  };

  beforeAll(async () => {
    sshd = await startSshd();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-serving-ssh-"));
    root = path.join(dir, "root");
    fs.mkdirSync(path.join(root, "etc", "gpu-hosting"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc", "gpu-hosting", "chat.env"), `VLLM_API_KEY=${KEY}\nHF_TOKEN=hf_test_token\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(root, "etc", "gpu-hosting", "caddy.env"), `GPU_HOSTING_API_KEY=${KEY}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, "known_hosts"), `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    port = await freePort();
  });

  afterAll(async () => {
    const state = path.join(root, ".standin");
    for (const f of fs.existsSync(state) ? fs.readdirSync(state).filter((n) => n.endsWith(".pid")) : []) {
      const pid = Number(fs.readFileSync(path.join(state, f), "utf8"));
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await sshd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("installs the unit, starts the engine, and the engine lists the served name", async () => {
    const layer = renderInferenceLayer(inference(8192));
    const r = await run(layer.script);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("gpu-hosting: inference: changed\n") });
    expect(r.stderr).toContain("gpu-hosting: inference: wrote /etc/systemd/system/gpu-hosting-chat.service\n");
    expect(r.stderr).toContain(`gpu-hosting: inference: gpu-hosting-chat active: chat on 127.0.0.1:${port}\n`);
    expect(fs.readFileSync(path.join(root, "etc", "systemd", "system", "gpu-hosting-chat.service"), "utf8")).toBe(layer.files[0]!.content);
    expect(calls()).toEqual(
      expect.arrayContaining([
        "systemctl daemon-reload",
        "systemctl enable --quiet gpu-hosting-chat",
        `docker pull ${IMAGE}`,
        "systemctl restart gpu-hosting-chat",
        "docker rm --force gpu-hosting-chat",
        expect.stringMatching(new RegExp(`^docker run --rm --name gpu-hosting-chat --env-file /etc/gpu-hosting/chat.env --gpus all --ipc=host -p 127.0.0.1:${port}:8000 .* --max-model-len 8192 `)),
      ]),
    );
    expect(await models()).toEqual({ status: 200, body: { object: "list", data: [{ id: "chat", object: "model", owned_by: "gpu-hosting-standin", max_model_len: 8192 }] } });
    expect((await models("wrong")).status).toBe(401);
    expect(r.stdout + r.stderr).not.toContain(KEY);
  });

  it("waits until /health and /v1/models answer and list the served model", async () => {
    const r = await run(renderHealthLayer({ url: `http://127.0.0.1:${port}/`, models: ["chat"], timeoutSeconds: 20 }).script);
    expect(r).toEqual({ code: 0, stdout: "", stderr: `gpu-hosting: health: healthy: http://127.0.0.1:${port}/ serves chat\ngpu-hosting: health: unchanged\n` });
  });

  it("changes nothing on a second run of the same script", async () => {
    const before = calls().length;
    const pid = enginePid();
    const r = await run(renderInferenceLayer(inference(8192)).script);
    expect(r.code).toBe(0);
    expect(r.stderr.trim().split("\n").pop()).toBe("gpu-hosting: inference: unchanged");
    const after = calls().slice(before);
    expect(after.filter((c) => /restart|docker run|docker pull/.test(c))).toEqual([]);
    expect(after).toContain("systemctl is-active --quiet gpu-hosting-chat");
    expect(enginePid()).toBe(pid);
  });

  it("restarts the engine with the new --max-model-len when the context changes", async () => {
    const pid = enginePid();
    const before = calls().length;
    const layer = renderInferenceLayer(inference(4096));
    expect(layer.files[0]!.content).toContain("--max-model-len 4096 ");
    const r = await run(layer.script);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("gpu-hosting: inference: restarting gpu-hosting-chat\n");
    expect(calls().slice(before)).toEqual(expect.arrayContaining(["systemctl daemon-reload", "systemctl restart gpu-hosting-chat"]));
    expect(enginePid()).not.toBe(pid);
    expect(await models()).toMatchObject({ status: 200, body: { data: [{ id: "chat", max_model_len: 4096 }] } });
  });

  it("times out with the last answer and the engine's journal when nothing listens", async () => {
    const closed = await freePort();
    const r = await run(renderHealthLayer({ url: `http://127.0.0.1:${closed}/`, models: ["chat"], timeoutSeconds: 2 }).script);
    expect(r.code).toBe(1);
    const lines = r.stderr.split("\n");
    expect(lines[0]).toBe(`gpu-hosting: health: FAILED: http://127.0.0.1:${closed}/ not healthy after 2 s: GET /health answered 000 (no HTTP answer: curl exit 7), body: ""`);
    expect(lines.slice(1, 3)).toEqual(["--- last lines of journalctl -u gpu-hosting-chat ---", "(stand-in journal of gpu-hosting-chat)"]);
    expect(r.stderr).toContain(`openai-standin (not an engine) listening on 127.0.0.1:${port}, serving chat`);
    expect(r.stderr).not.toContain(KEY);
  });

  it("times out naming the model the engine does not list", async () => {
    const r = await run(renderHealthLayer({ url: `http://127.0.0.1:${port}/`, models: ["chat", "other"], timeoutSeconds: 2, units: ["gpu-hosting-chat"] }).script);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(
      `gpu-hosting: health: FAILED: http://127.0.0.1:${port}/ not healthy after 2 s: GET /other/v1/models answered 404, body: "{"error":"no route GET /other/v1/models"}"`,
    );
  });

  it("redacts the key it sent from the body it shows", async () => {
    const env = path.join(root, "etc", "gpu-hosting", "caddy.env");
    const wrong = "wrong-key-0123456789";
    fs.writeFileSync(env, `GPU_HOSTING_API_KEY=${wrong}\n`, { mode: 0o600 });
    try {
      const r = await run(renderHealthLayer({ url: `http://127.0.0.1:${port}/`, models: ["chat"], timeoutSeconds: 2 }).script);
      expect(r.code).toBe(1);
      expect(r.stderr.split("\n")[0]).toBe(
        `gpu-hosting: health: FAILED: http://127.0.0.1:${port}/ not healthy after 2 s: GET /v1/models answered 401, body: "{"error":"Unauthorized","got":"Bearer [redacted]"}"`,
      );
      expect(r.stderr).not.toContain(wrong);
    } finally {
      fs.writeFileSync(env, `GPU_HOSTING_API_KEY=${KEY}\n`, { mode: 0o600 });
    }
  });
});
