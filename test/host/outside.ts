/**
 * "From outside the host": a second network namespace made by the test (`unshare --net`), joined to
 * the test host's own network namespace by a veth pair, so the host gets a non-loopback address
 * ({@link HOST_ADDRESS}) that a client in that second namespace reaches as another machine on its
 * LAN would. Nothing is added to this machine's own network namespace, and both addresses exist
 * only in these two namespaces (192.0.2.0/24 is TEST-NET-1, RFC 5737: documentation only, never
 * routed, so it cannot clash with a real network). The pair goes away with either namespace: a
 * reboot of the host ends it (call {@link joinOutside} again), `dispose()` ends the outside one.
 *
 * Why not the forwarder: it connects from inside the host's namespace to 127.0.0.1, exactly where a
 * loopback-bound engine does answer. Why not this machine's namespace: other work shares it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { run, type TestHost } from "./testHost";

/** The host's address on the link (inside its namespace, interface {@link HOST_IFACE}). */
export const HOST_ADDRESS = "192.0.2.2";
/** The outside namespace's address on the link. */
export const OUTSIDE_ADDRESS = "192.0.2.1";
/** The veth end inside the host. */
export const HOST_IFACE = "gh-lan0";

/** A client namespace joined to the host. */
export interface Outside {
  /** Runs `node -e script args…` inside the outside namespace with `env` added; resolves with its stdout (rejects on a non-zero exit). */
  node(script: string, args: string[], env?: Record<string, string>): Promise<string>;
  /** Ends the outside namespace (and with it the veth pair). */
  dispose(): void;
}

const PATH_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };

/** Makes the outside namespace and the veth pair; the host must be running. */
export async function joinOutside(host: TestHost): Promise<Outside> {
  const leader = host.leader();
  if (leader === undefined) throw new Error(`${host.name}: not running; cannot join a namespace to it`);
  const mine = fs.readlinkSync("/proc/self/ns/net");
  // unshare execs sleep in the new namespace: its pid holds the namespace as long as it lives.
  const holder: ChildProcess = spawn("unshare", ["--net", "--", "sleep", "3600"], { stdio: "ignore", env: PATH_ENV });
  const pid = holder.pid;
  const dispose = (): void => {
    process.removeListener("exit", dispose);
    holder.kill("SIGKILL");
  };
  // A test process that ends without dispose() (a crash) takes the namespace, and with it the veth pair, along.
  process.once("exit", dispose);
  try {
    if (pid === undefined) throw new Error("unshare --net did not start");
    const deadline = Date.now() + 5000;
    while (fs.readlinkSync(`/proc/${pid}/ns/net`) === mine) {
      if (Date.now() > deadline || holder.exitCode !== null) throw new Error("unshare --net did not make a network namespace");
      await new Promise((r) => setTimeout(r, 20));
    }
    const out = (args: string[]): Promise<string> => run("nsenter", ["-t", String(pid), "-n", "--", "ip", ...args], { env: PATH_ENV });
    const inHost = (args: string[]): Promise<string> => run("nsenter", ["-t", String(leader), "-n", "--", "ip", ...args], { env: PATH_ENV });
    // Made in the outside namespace; the peer end goes straight into the host's (`netns <pid>`).
    await out(["link", "add", "gh-out0", "type", "veth", "peer", "name", HOST_IFACE, "netns", String(leader)]);
    await out(["addr", "add", `${OUTSIDE_ADDRESS}/30`, "dev", "gh-out0"]);
    await out(["link", "set", "gh-out0", "up"]);
    await out(["link", "set", "lo", "up"]);
    await inHost(["addr", "add", `${HOST_ADDRESS}/30`, "dev", HOST_IFACE]);
    await inHost(["link", "set", HOST_IFACE, "up"]);
    return {
      node: (script, args, env = {}) => run("nsenter", ["-t", String(pid), "-n", "--", process.execPath, "-e", script, ...args], { env: { ...PATH_ENV, ...env }, timeoutMs: 60_000 }),
      dispose,
    };
  } catch (e) {
    dispose();
    throw e;
  }
}

/**
 * A probe run in the outside namespace: a plain TCP connect to each `host:port` given, then an HTTPS
 * GET of `https://host:port/path` trusting only `$PROBE_CA`, with `Authorization: Bearer $PROBE_KEY`
 * (both from the environment, never on a command line). Prints one JSON object:
 * `{ tcp: { "<port>": "connected" | "<error code>" }, https: { status, body } | { error } }`.
 */
export const OUTSIDE_PROBE = `
const net = require("node:net"), https = require("node:https");
const [host, tcpPorts, httpsPort, path] = process.argv.slice(1);
const ca = process.env.PROBE_CA, key = process.env.PROBE_KEY;
const tcp = (port) => new Promise((resolve) => {
  const s = net.connect(Number(port), host);
  const done = (r) => { s.destroy(); resolve(r); };
  s.setTimeout(5000, () => done("ETIMEDOUT"));
  s.once("connect", () => done("connected"));
  s.once("error", (e) => done(e.code || e.message));
});
const get = () => new Promise((resolve) => {
  const req = https.get({ host, port: Number(httpsPort), path, ca, headers: { Authorization: "Bearer " + key }, timeout: 10000 }, (res) => {
    let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => resolve({ status: res.statusCode, body }));
  });
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", (e) => resolve({ error: e.code || e.message }));
});
(async () => {
  const out = { tcp: {}, https: null };
  for (const p of tcpPorts.split(",")) out.tcp[p] = await tcp(p);
  out.https = await get();
  process.stdout.write(JSON.stringify(out));
})();
`;
