/**
 * Stand-ins for what the test host cannot install without network: **a stand-in `docker`**, and
 * **a stand-in OpenAI-compatible engine** for images other than llama.cpp's, both clearly named as
 * such on the host. The stand-in docker is not Docker; it lets the rendered inference unit (systemd,
 * for real) run an engine process on the host with the flags, port binding and env file the unit
 * gives it.
 *
 * - `/usr/bin/docker` (the rendered unit calls `/usr/bin/docker`): `run … --env-file F -p ADDR:PORT:8000
 *   … IMAGE ARGS` execs, with the env file's variables, on ADDR:PORT: for a llama.cpp image the
 *   **real CPU engine** when it is bind-mounted into the host (test/host/engine.ts: llama.cpp
 *   through node-llama-cpp on the test's tiny GGUF, behind a small server of ours), otherwise the
 *   python3 stand-in engine below. `rm`, `pull`, `image inspect` exit 0; `stop NAME` ends the
 *   engine started under that name; `info` fails as Docker's client does while docker.service is
 *   not active, answers `--format '{{json .Runtimes}}'` with the runtimes of a Docker without the
 *   NVIDIA runtime (runc only: what the gpu verification reads), and otherwise says what it is.
 * - `/etc/systemd/system/docker.service`: a oneshot stand-in, so the gpu layer's
 *   `systemctl enable --now docker.service` and the unit's `Requires=docker.service` are real.
 * - The stand-in engine (NOT vLLM or llama.cpp) answers `/health`, `/v1/models` (the
 *   `--served-model-name` or `--alias` it was given, with its context as `max_model_len`) and
 *   `/v1/chat/completions` (echoing the last message), and wants `Authorization: Bearer
 *   $VLLM_API_KEY` (or `$LLAMA_API_KEY`) where the env file sets one.
 */
import { ENGINE_DIR_IN_HOST, TINY_MODEL_FILE } from "./engine";

export const STANDIN_DIR = "/usr/local/lib/gpu-hosting-test-standin";

const DOCKER = `#!/usr/bin/python3
# STAND-IN docker for the gpu-hosting test host (test/host/standins.ts). NOT Docker.
import json, os, signal, subprocess, sys
RUN = "/run/gpu-hosting-test-standin"
a = sys.argv[1:]
def pidfile(name): return os.path.join(RUN, name + ".pid")
if not a: sys.exit(0)
cmd = a[0]
if cmd == "info":
    # As Docker's client: no daemon (docker.service not active), no info.
    if subprocess.call(["systemctl", "is-active", "--quiet", "docker.service"]) != 0:
        print("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", file=sys.stderr); sys.exit(1)
    fmt = a[a.index("--format") + 1] if "--format" in a[:-1] else ""
    if fmt == "{{json .Runtimes}}":
        # What a Docker without the NVIDIA runtime answers (the gpu verification reads the names).
        print(json.dumps({"io.containerd.runc.v2": {"path": "runc"}, "runc": {"path": "runc"}})); sys.exit(0)
    print("gpu-hosting test host: stand-in docker (test/host/standins.ts), not Docker"); sys.exit(0)
if cmd in ("rm", "pull", "image", "inspect", "version"):
    sys.exit(0)
if cmd == "stop":
    name = [x for x in a[1:] if not x.startswith("-") and not x.isdigit()][-1]
    try:
        pid = int(open(pidfile(name)).read())
        os.kill(pid, signal.SIGTERM)
    except Exception:
        pass
    sys.exit(0)
if cmd != "run":
    print("stand-in docker: unsupported command " + cmd, file=sys.stderr); sys.exit(2)
env = dict(os.environ); name = "standin"; bind = None; i = 1
with_value = {"--name", "--env-file", "-p", "--publish", "-v", "--volume", "-e", "--env", "--device", "--group-add", "--gpus", "--runtime", "--ipc", "--shm-size", "--ulimit"}
while i < len(a) and a[i].startswith("-"):
    o = a[i]
    if o in with_value:
        v = a[i + 1]; i += 2
        if o == "--name": name = v
        elif o == "--env-file":
            for line in open(v):
                line = line.rstrip("\\n")
                if line and not line.startswith("#") and "=" in line:
                    k, _, val = line.partition("="); env[k] = val
        elif o in ("-p", "--publish"):
            parts = v.split(":"); bind = (parts[0], parts[1]) if len(parts) == 3 else ("0.0.0.0", parts[0])
        elif o in ("-e", "--env"):
            k, _, val = v.partition("="); env[k] = val
    else:
        i += 1
image = a[i]; args = a[i + 1:]
if bind is None:
    print("stand-in docker: run without -p", file=sys.stderr); sys.exit(2)
os.makedirs(RUN, exist_ok=True)
open(pidfile(name), "w").write(str(os.getpid()))
env["STANDIN_IMAGE"] = image
if "llama.cpp" in image and os.path.exists("${ENGINE_DIR_IN_HOST}/app/server.mjs"):
    # The real CPU engine (test/host/engine.ts): llama.cpp through node-llama-cpp, on the test's tiny GGUF.
    env["ENGINE_MODEL"] = "${ENGINE_DIR_IN_HOST}/app/${TINY_MODEL_FILE}"
    os.execve("${ENGINE_DIR_IN_HOST}/node", ["node", "${ENGINE_DIR_IN_HOST}/app/server.mjs", bind[0], bind[1]] + args, env)
os.execve("/usr/bin/python3", ["python3", "${STANDIN_DIR}/engine.py", bind[0], bind[1]] + args, env)
`;

const ENGINE = `#!/usr/bin/python3
# STAND-IN OpenAI-compatible engine for the gpu-hosting test host (test/host/standins.ts). NOT vLLM or llama.cpp.
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
addr, port, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def flag(*names):
    for n in names:
        if n in args and args.index(n) + 1 < len(args): return args[args.index(n) + 1]
    return None
model = flag("--served-model-name", "--alias") or "standin"
ctx = int(flag("--max-model-len", "-c", "--ctx-size") or 0)
key = os.environ.get("VLLM_API_KEY") or os.environ.get("LLAMA_API_KEY") or ""
started = int(time.time())
class H(BaseHTTPRequestHandler):
    def send(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def authorized(self):
        if not key or self.headers.get("Authorization") == "Bearer " + key: return True
        self.send(401, {"error": {"message": "stand-in engine: invalid api key", "type": "authentication_error", "code": 401}}); return False
    def do_GET(self):
        if self.path == "/health": return self.send(200, {"status": "ok"})
        if not self.authorized(): return
        if self.path == "/v1/models":
            return self.send(200, {"object": "list", "data": [{"id": model, "object": "model", "created": started, "owned_by": "gpu-hosting-test-standin", "max_model_len": ctx, "image": os.environ.get("STANDIN_IMAGE", "")}]})
        self.send(404, {"error": {"message": "not found: " + self.path}})
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0); body = json.loads(self.rfile.read(n) or b"{}")
        if not self.authorized(): return
        if self.path != "/v1/chat/completions": return self.send(404, {"error": {"message": "not found: " + self.path}})
        if body.get("model") != model: return self.send(404, {"error": {"message": "model %r not served (this serves %r)" % (body.get("model"), model)}})
        last = (body.get("messages") or [{}])[-1].get("content", "")
        text = "stand-in engine (%s, context %d) got: %s" % (model, ctx, last)
        self.send(200, {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(str(last).split()), "completion_tokens": len(text.split()), "total_tokens": len(str(last).split()) + len(text.split())}})
    def log_message(self, fmt, *a): sys.stderr.write("stand-in engine: " + (fmt % a) + "\\n")
print("stand-in engine: %s (context %d) on %s:%d, key %s" % (model, ctx, addr, port, "required" if key else "none"), file=sys.stderr, flush=True)
ThreadingHTTPServer((addr, port), H).serve_forever()
`;

const DOCKER_SERVICE = `# STAND-IN docker.service for the gpu-hosting test host (test/host/standins.ts): nothing runs, the units that Require it start.
[Unit]
Description=gpu-hosting test host: stand-in docker.service (not Docker)
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
[Install]
WantedBy=multi-user.target
`;

/** Files to put into the boot's overlay: path inside the host, content, mode. */
export const STANDIN_FILES: Array<{ path: string; content: string; mode: number }> = [
  { path: "/usr/bin/docker", content: DOCKER, mode: 0o755 },
  { path: `${STANDIN_DIR}/engine.py`, content: ENGINE, mode: 0o755 },
  { path: "/etc/systemd/system/docker.service", content: DOCKER_SERVICE, mode: 0o644 },
];

/**
 * A **stand-in `nvidia-smi`** answering the gpu verification's query as a driver with one NVIDIA L4
 * would (the CSV fields of NVIDIA_SMI_QUERY_FIELDS, core/probe/parse.ts). Not in STANDIN_FILES: a
 * test puts it on the host for one check ("a GPU shows up on a host declared without one") and
 * removes it.
 */
export const NVIDIA_SMI_STANDIN = `#!/bin/sh
# STAND-IN nvidia-smi for the gpu-hosting test host (test/host/standins.ts). NOT NVIDIA's.
case "$*" in
  *--query-gpu=*) echo "0, NVIDIA L4, 23034, 72.00, 550.54.15, 00000000:00:03.0, 8.9" ;;
  *) echo "stand-in nvidia-smi: only --query-gpu" >&2; exit 2 ;;
esac
`;
