/**
 * A real OpenSSH `sshd` on 127.0.0.1 for tests that talk SSH: a free port, a throwaway ed25519
 * host key and client key in a temp dir, run in the foreground (`-D -e`) as a child process.
 * Without `/usr/sbin/sshd` (Debian openssh-server) tests fail under CI=true and are skipped,
 * with a visible warning, elsewhere.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const SSHD = "/usr/sbin/sshd";

export interface Sshd {
  port: number;
  /** The login user (the current user). */
  user: string;
  /** OpenSSH-format private key whose public half is in AuthorizedKeysFile. */
  clientPrivateKey: string;
  /** Path of that private key (mode 0600), for `-i`. */
  clientKeyPath: string;
  /** The server's host public key, "ssh-ed25519 AAAA…" (no comment). */
  hostPublicKey: string;
  /** sshd's log so far (stderr, `-e`). */
  log: () => string;
  stop: () => Promise<void>;
}

/** Why SSH tests cannot run here, or null when they can. */
export function sshdMissing(): string | null {
  return fs.existsSync(SSHD) ? null : `${SSHD} not found: the SSH tests need OpenSSH's server (Debian/Ubuntu: apt-get install -y openssh-server)`;
}

/**
 * `describe` that needs sshd: runs normally when it exists; otherwise fails under CI=true (so a CI
 * image without openssh-server is noticed) and is skipped with a warning elsewhere.
 */
export function describeWithSshd(name: string, fn: () => void): void {
  const missing = sshdMissing();
  if (!missing) return describe(name, fn);
  if (process.env.CI === "true") {
    describe(name, () => {
      it("has openssh-server installed (required under CI=true)", () => {
        throw new Error(`openssh-server is required: ${missing}`);
      });
    });
    return;
  }
  console.warn(`SKIPPED "${name}": ${missing}`);
  describe.skip(name, fn);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (a && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

/** Resolves once something on the port sends an SSH banner. */
async function waitForBanner(port: number, child: ChildProcess, log: () => string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited ${child.exitCode} before listening:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, "127.0.0.1");
      sock.setTimeout(1000);
      sock.once("data", (b) => {
        sock.destroy();
        resolve(b.toString().startsWith("SSH-"));
      });
      sock.once("error", () => resolve(false));
      sock.once("timeout", () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${log()}`);
}

function keygen(file: string): void {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "gpu-hosting-test", "-f", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen -f ${file} failed: ${r.stderr || r.error?.message}`);
}

/** Starts sshd; call `stop()` in afterAll. */
export async function startSshd(): Promise<Sshd> {
  const missing = sshdMissing();
  if (missing) throw new Error(missing);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-hosting-sshd-"));
  const user = os.userInfo().username;
  keygen(path.join(dir, "host_ed25519"));
  keygen(path.join(dir, "client_ed25519"));
  fs.copyFileSync(path.join(dir, "client_ed25519.pub"), path.join(dir, "authorized_keys"));
  // Privilege separation directory, required by Debian's sshd even in the foreground.
  if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = path.join(dir, "sshd_config");
    fs.writeFileSync(
      config,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${path.join(dir, "host_ed25519")}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
        `PidFile ${path.join(dir, "sshd.pid")}`,
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        `AllowUsers ${user}`,
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    let log = "";
    const child = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (b: Buffer) => (log += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (log += b.toString()));
    try {
      await waitForBanner(port, child, () => log);
    } catch (e) {
      child.kill();
      // Another process may have taken the port between freePort() and sshd's bind: try again.
      if (attempt < 3 && /Address already in use/.test(log)) continue;
      throw e;
    }
    const hostPub = fs.readFileSync(path.join(dir, "host_ed25519.pub"), "utf8").trim().split(/\s+/);
    return {
      port,
      user,
      clientPrivateKey: fs.readFileSync(path.join(dir, "client_ed25519"), "utf8"),
      clientKeyPath: path.join(dir, "client_ed25519"),
      hostPublicKey: `${hostPub[0]} ${hostPub[1]}`,
      log: () => log,
      stop: async () => {
        if (child.exitCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          await exited;
        }
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
