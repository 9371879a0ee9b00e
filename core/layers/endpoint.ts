/**
 * The endpoint layer: Caddy in front of a host's engines. TLS (ACME for a domain, Caddy's internal
 * CA otherwise), one route per deployment by path prefix, and the API key checked by Caddy before
 * anything reaches an engine. The key stays in a root-only env file that systemd hands to caddy;
 * the Caddyfile names it only as the runtime placeholder `{env.GPU_HOSTING_API_KEY}`, so it is not
 * in the Caddyfile, in Caddy's adapted config (admin API, autosave.json) or in the journal. Pure.
 */
import { layerScript, shq } from "./script";
import type { HostFile, LayerScript, SecretFileRef } from "./types";

/** Secret env file caddy.service reads (GPU_HOSTING_API_KEY). */
export const CADDY_ENV_FILE = "/etc/gpu-hosting/caddy.env";
/** The variable holding the endpoint's API key. */
export const API_KEY_VARIABLE = "GPU_HOSTING_API_KEY";
/** Root certificate of Caddy's internal CA on Debian/Ubuntu (caddy's home is /var/lib/caddy). */
export const CADDY_INTERNAL_CA_FILE = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt";
/** Loopback port where Caddy answers its own on-demand TLS question (internal CA only). */
export const TLS_ASK_PORT = 2020;
/** API keys the endpoint accepts: long, and nothing Caddy or a header could misread. */
export const API_KEY_PATTERN = "^[A-Za-z0-9._~+/=-]{16,}$";

export interface EndpointRoute {
  deployment: string;
  /** Engine port on 127.0.0.1. */
  port: number;
  /** Path prefix, without trailing slash. @default `/<deployment>` */
  pathPrefix?: string;
}

export interface EndpointInput {
  /** One per deployment of the host; the first one is also served at `/`. */
  routes: EndpointRoute[];
  /** Automatic ACME certificates when set; Caddy's internal CA otherwise. */
  domain: string | null;
  /** Require `Authorization: Bearer <key>` on every request. */
  apiKey: boolean;
  /** Public HTTPS port. @default 443 */
  listenPort?: number;
  /** Serve TLS. `false` serves plain HTTP on `listenPort` (default 80 then); network-exposure reports it. @default true */
  tls?: boolean;
  /**
   * A plain-HTTP listener on a private address for a load balancer that terminates TLS itself
   * (Hetzner's hcloud load balancer reaching a dedicated server through the vSwitch). Same routes
   * and API key; `GET /health` answers without the key so the balancer's health check works.
   */
  privateListener?: { address: string; port: number };
  /** Serve the public site. `false` with a `privateListener` when a load balancer terminates TLS. @default true */
  public?: boolean;
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const PREFIX = /^\/[a-z0-9][a-z0-9._-]*$/;

/** Checks the input; throws naming the field, the value and what is allowed. */
function validate(o: EndpointInput): void {
  if (o.routes.length === 0) throw new Error("endpoint: no routes; a host with an endpoint serves at least one deployment");
  if (o.domain !== null && !DOMAIN.test(o.domain)) throw new Error(`domain: "${o.domain}" is not a lower-case DNS name such as llm.example.com`);
  const port = o.listenPort ?? 443;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`endpoint.listenPort: ${port} must be a port from 1 to 65535`);
  const seen = new Set<string>();
  for (const r of o.routes) {
    const prefix = r.pathPrefix ?? `/${r.deployment}`;
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(r.deployment)) throw new Error(`endpoint.routes: deployment "${r.deployment}" must be lower-case letters, digits and dashes`);
    if (!PREFIX.test(prefix)) throw new Error(`endpoint.routes[${r.deployment}].pathPrefix: "${prefix}" must look like /chat (no trailing slash)`);
    if (prefix === "/v1" || prefix === "/health") throw new Error(`endpoint.routes[${r.deployment}].pathPrefix: "${prefix}" would hide the engine's own ${prefix}; choose another`);
    if (seen.has(prefix)) throw new Error(`endpoint.routes: path prefix "${prefix}" is used twice`);
    seen.add(prefix);
    if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535 || r.port === TLS_ASK_PORT || r.port === 2019) {
      throw new Error(`endpoint.routes[${r.deployment}].port: ${r.port} must be a port from 1 to 65535 other than Caddy's 2019 and ${TLS_ASK_PORT}`);
    }
  }
}

/** The Caddyfile. */
export function renderCaddyfile(o: EndpointInput): string {
  validate(o);
  const tls = o.tls ?? true;
  const port = o.listenPort ?? (tls ? 443 : 80);
  const pub = o.public ?? true;
  if (!pub && !o.privateListener) throw new Error("endpoint: public: false needs a privateListener, or the host would serve nothing");
  const internal = pub && o.domain === null && tls;
  const site = !tls ? `http://${o.domain ?? ""}:${port}` : internal ? `:${port}` : port === 443 ? o.domain! : `${o.domain}:${port}`;
  const lines: string[] = ["# Rendered by gpu-hosting (endpoint layer); do not edit on the host.", "{"];
  // Caddy serves TLS on a site without host names only on its https_port.
  if (pub && tls && port !== 443) lines.push(`\thttps_port ${port}`);
  if (internal) {
    // No domain: certificates from Caddy's own CA, issued on demand for IP addresses only.
    lines.push("\tskip_install_trust", "\ton_demand_tls {", `\t\task http://127.0.0.1:${TLS_ASK_PORT}/gpu-hosting/tls-ask`, "\t}");
  }
  lines.push("}", "");
  if (internal) {
    lines.push(
      `http://127.0.0.1:${TLS_ASK_PORT} {`,
      "\tbind 127.0.0.1",
      '\t@ip expression `{query.domain}.matches("^[0-9.]+$|^[0-9a-fA-F:]+$")`',
      "\trespond @ip 200",
      "\trespond 403",
      "}",
      "",
    );
  }
  if (pub) {
    lines.push(`${site} {`);
    if (internal) lines.push("\ttls internal {", "\t\ton_demand", "\t}");
    lines.push(...siteBody(o, false), "}", "");
  }
  if (o.privateListener) {
    lines.push(`http://${o.privateListener.address}:${o.privateListener.port} {`, `\tbind ${o.privateListener.address}`, ...siteBody(o, true), "}", "");
  }
  return lines.join("\n");
}

/** Routes of a site: the key check, then one route per deployment, the first also at `/`. */
function siteBody(o: EndpointInput, healthWithoutKey: boolean): string[] {
  const lines: string[] = [];
  lines.push("\tencode zstd gzip", "\troute {");
  if (healthWithoutKey) lines.push("\t\t@health path /health", `\t\thandle @health {`, `\t\t\treverse_proxy 127.0.0.1:${o.routes[0]!.port}`, "\t\t}");
  if (o.apiKey) {
    lines.push(
      `\t\t@nokey expression \`{env.${API_KEY_VARIABLE}} == ""\``,
      '\t\trespond @nokey `{"error":{"message":"the endpoint has no API key configured","type":"server_error","code":503}}` 503',
      `\t\t@unauthorized not header Authorization "Bearer {env.${API_KEY_VARIABLE}}"`,
      '\t\theader @unauthorized WWW-Authenticate "Bearer"',
      '\t\trespond @unauthorized `{"error":{"message":"missing or invalid API key: send Authorization: Bearer <key>","type":"invalid_request_error","code":401}}` 401',
    );
  }
  for (const r of o.routes) {
    const prefix = r.pathPrefix ?? `/${r.deployment}`;
    const m = `route_${r.deployment.replace(/-/g, "_")}`;
    lines.push(`\t\t@${m} path ${prefix} ${prefix}/*`, `\t\thandle @${m} {`, `\t\t\turi strip_prefix ${prefix}`, `\t\t\treverse_proxy 127.0.0.1:${r.port}`, "\t\t}");
  }
  lines.push("\t\thandle {", `\t\t\treverse_proxy 127.0.0.1:${o.routes[0]!.port}`, "\t\t}", "\t}");
  return lines;
}

/** The caddy.service drop-in: the key's env file, and `caddy run` without `--environ` (which would log it). */
export function renderCaddyDropIn(o: Pick<EndpointInput, "apiKey">): string {
  return [
    "# Rendered by gpu-hosting (endpoint layer); do not edit on the host.",
    "[Service]",
    ...(o.apiKey ? [`EnvironmentFile=${CADDY_ENV_FILE}`] : []),
    "ExecStart=",
    "ExecStart=/usr/bin/caddy run --config /etc/caddy/Caddyfile",
    "",
  ].join("\n");
}

/** The endpoint layer of a host: install caddy, write and validate the Caddyfile, reload on change. */
export function renderEndpointLayer(o: EndpointInput): LayerScript {
  const caddyfile = renderCaddyfile(o);
  const files: HostFile[] = [
    { layer: "endpoint", name: "Caddyfile", path: "/etc/caddy/Caddyfile", mode: "0644", content: caddyfile },
    { layer: "endpoint", name: "caddy-gpu-hosting.conf", path: "/etc/systemd/system/caddy.service.d/gpu-hosting.conf", mode: "0644", content: renderCaddyDropIn(o) },
  ];
  const secrets: SecretFileRef[] = o.apiKey
    ? [{ path: CADDY_ENV_FILE, variables: [API_KEY_VARIABLE], description: "the endpoint's API key, checked by Caddy (systemd EnvironmentFile of caddy.service; root only)" }]
    : [];
  const body = `
if ! command -v caddy >/dev/null 2>&1; then
  log "installing caddy"
  # </dev/null: the layer itself arrives on stdin (bash -s); apt and dpkg must never read it.
  # --force-confold: the layer wrote /etc/caddy/Caddyfile before caddy came; keep it, never prompt.
  { apt-get update -q && apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold caddy; } </dev/null >&2 || fail "apt-get install caddy failed (Debian 12 and Ubuntu 22.04 or later ship it)"
fi
${o.apiKey ? keyCheck() : ""}
out="$(mktemp)"
tmp_home="$(mktemp -d)"
if ! HOME="$tmp_home" XDG_DATA_HOME="$tmp_home" XDG_CONFIG_HOME="$tmp_home" caddy validate --config "$GH_ROOT/etc/caddy/Caddyfile" --adapter caddyfile >"$out" 2>&1; then
  rm -rf "$tmp_home"
  fail "caddy validate rejected /etc/caddy/Caddyfile (the running Caddy keeps its previous config)" "$out"
fi
rm -rf "$tmp_home" "$out"
stamp="$GH_ROOT/var/lib/gpu-hosting/caddy-dropin.sha256"
dropin_sum="$(sha256sum "$GH_ROOT/etc/systemd/system/caddy.service.d/gpu-hosting.conf" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$dropin_sum" ]; then
  systemctl daemon-reload
  log "restarting caddy (service settings changed)"
  systemctl enable --quiet caddy
  systemctl restart caddy
  mkdir -p "$(dirname "$stamp")"
  printf '%s\\n' "$dropin_sum" > "$stamp"
  GH_CHANGED=1
elif ! systemctl is-active --quiet caddy; then
  log "starting caddy"
  systemctl enable --quiet caddy
  systemctl restart caddy
  GH_CHANGED=1
elif [ "$GH_CHANGED" = 1 ]; then
  log "reloading caddy"
  systemctl reload caddy || fail "caddy reload failed" caddy
fi
deadline=$((SECONDS + 30))
until systemctl is-active --quiet caddy; do
  [ "$SECONDS" -lt "$deadline" ] || fail "caddy did not become active within 30 s" caddy
  sleep 1
done
log "caddy serves ${o.routes.length} deployment(s) on ${o.domain ?? "the host's IP addresses"}:${o.listenPort ?? 443}"
`;
  return layerScript("endpoint", "50-endpoint.sh", files, body, secrets);
}

/** Fails unless the key's env file exists, is root-only and holds a well-formed key (never printed). */
function keyCheck(): string {
  return `env_file="$GH_ROOT"${shq(CADDY_ENV_FILE)}
[ -f "$env_file" ] || fail "${CADDY_ENV_FILE} is missing: the component writes ${API_KEY_VARIABLE} before this layer runs"
case "$(stat -c %a "$env_file")" in
  600|400) ;;
  *) fail "${CADDY_ENV_FILE} must be readable by root only (mode 0600), not $(stat -c %a "$env_file")" ;;
esac
grep -Eq ${shq(`^${API_KEY_VARIABLE}=${API_KEY_PATTERN.slice(1)}`)} "$env_file" || fail "${CADDY_ENV_FILE} must hold ${API_KEY_VARIABLE}=<at least 16 of A-Z a-z 0-9 . _ ~ + / = ->"
`;
}
