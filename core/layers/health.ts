/**
 * The health layer: waits, bounded, until the endpoint answers `GET /health` and `GET /v1/models`
 * with 200 through the proxy, with the API key, and lists every served model. On timeout it fails
 * with the last answer (status, the first 200 bytes of the body with the key redacted) and the
 * journal of the engine units. The key is read from the proxy's env file and never printed, nor
 * put on a command line (curl reads the header from stdin). Pure.
 */
import { API_KEY_VARIABLE, CADDY_ENV_FILE, CADDY_INTERNAL_CA_FILE } from "./endpoint";
import { inferenceUnit } from "./inference";
import { layerScript, shq } from "./script";
import type { LayerScript, SecretFileRef } from "./types";

export interface HealthInput {
  /** The endpoint, e.g. `https://llm.example.com/` (http for a host without TLS). */
  url: string;
  /** Served model ids (the deployments' names) that `/v1/models` must list. */
  models: string[];
  /** How long to wait for the endpoint, seconds. */
  timeoutSeconds: number;
  /** A CA certificate to trust besides the system's. @default Caddy's internal root, when the host has one */
  caFile?: string;
  /** Send the API key from the proxy's env file. @default true */
  apiKey?: boolean;
  /** Units whose journal a failure shows. @default the engine unit of each model */
  units?: string[];
  /** Path prefix per model, for models the default route does not list. @default `/<model>` */
  paths?: Record<string, string>;
}

const SAFE = /^[A-Za-z0-9._:-]+$/;

/** Checks the input; throws naming the field, the value and what is allowed. */
function validate(o: HealthInput): URL {
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new Error(`health.url: "${o.url}" is not a URL; expected e.g. https://llm.example.com/`);
  }
  if ((u.protocol !== "https:" && u.protocol !== "http:") || u.search || u.hash || u.username || /['"\\\s]/.test(o.url)) {
    throw new Error(`health.url: "${o.url}" must be a plain http(s) URL without query, fragment or credentials`);
  }
  if (o.models.length === 0) throw new Error("health.models: empty; give the served model ids to wait for");
  for (const m of [...o.models, ...(o.units ?? [])]) if (!SAFE.test(m)) throw new Error(`health: "${m}" is not a model id or unit name (letters, digits, . _ : -)`);
  for (const p of Object.values(o.paths ?? {})) if (!/^\/[a-z0-9][a-z0-9._-]*$/.test(p)) throw new Error(`health.paths: "${p}" must look like /chat`);
  if (!Number.isInteger(o.timeoutSeconds) || o.timeoutSeconds < 1) throw new Error(`health.timeoutSeconds: ${o.timeoutSeconds} must be a whole number of seconds, at least 1`);
  if (o.caFile !== undefined && !/^\/[A-Za-z0-9._/-]+$/.test(o.caFile)) throw new Error(`health.caFile: "${o.caFile}" must be an absolute path`);
  return u;
}

const array = (xs: readonly string[]): string => `(${xs.map(shq).join(" ")})`;

/** The health layer of a host. */
export function renderHealthLayer(o: HealthInput): LayerScript {
  const u = validate(o);
  const url = u.href.endsWith("/") ? u.href : `${u.href}/`;
  const apiKey = o.apiKey ?? true;
  const units = o.units ?? o.models.map((m) => inferenceUnit(m));
  const prefixes = o.models.map((m) => (o.paths?.[m] ?? `/${m}`).slice(1));
  const maxTime = Math.min(10, o.timeoutSeconds);
  const secrets: SecretFileRef[] = apiKey
    ? [{ path: CADDY_ENV_FILE, variables: [API_KEY_VARIABLE], description: "the endpoint's API key, sent by the health check (never printed)" }]
    : [];
  const body = `
url=${shq(url)}
timeout=${o.timeoutSeconds}
models=${array(o.models)}
prefixes=${array(prefixes)}
units=${array(units)}
key=""
${apiKey ? readKey() : ""}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for ca in /etc/ssl/certs/ca-certificates.crt "$GH_ROOT"${shq(o.caFile ?? CADDY_INTERNAL_CA_FILE)}; do
  if [ -r "$ca" ]; then cat "$ca" >> "$work/ca.pem"; fi
done
curl_args=(-sS --connect-timeout 5 --max-time ${maxTime} -o "$work/body" -w '%{http_code}')
if [ -s "$work/ca.pem" ]; then curl_args+=(--cacert "$work/ca.pem"); fi
last="no answer yet"

# GET <url><path>: sets code and last (status, first 200 bytes of the body, key redacted).
probe() {
  local rc=0 shown
  : > "$work/body"
  if [ -n "$key" ]; then
    code="$(printf 'header = "Authorization: Bearer %s"\\n' "$key" | curl "\${curl_args[@]}" -K - "$url$1" 2>/dev/null)" || rc=$?
  else
    code="$(curl "\${curl_args[@]}" "$url$1" 2>/dev/null)" || rc=$?
  fi
  shown="$(head -c 200 "$work/body" | tr '\\n\\r\\t' '   ')"
  if [ -n "$key" ]; then shown="\${shown//"$key"/[redacted]}"; fi
  last="GET /$1 answered \${code:-000}"
  if [ "$rc" != 0 ]; then last="$last (no HTTP answer: curl exit $rc)"; fi
  last="$last, body: \\"$shown\\""
  [ "$code" = 200 ]
}

# The model ids a /v1/models answer lists, one a line.
ids() {
  grep -o '"id"[[:space:]]*:[[:space:]]*"[^"]*"' "$work/body" | sed 's/.*"\\([^"]*\\)"$/\\1/' || true
}

lists() {
  ids | grep -Fxq -e "$1" -e "$1:latest"
}

check() {
  local i m
  probe health || return 1
  probe v1/models || return 1
  cp "$work/body" "$work/root-models"
  for i in "\${!models[@]}"; do
    m="\${models[$i]}"
    cp "$work/root-models" "$work/body"
    if lists "$m"; then continue; fi
    probe "\${prefixes[$i]}/v1/models" || return 1
    if ! lists "$m"; then
      last="GET /\${prefixes[$i]}/v1/models answered 200 but does not list $m (lists: $(ids | paste -sd, -))"
      return 1
    fi
  done
}

deadline=$((SECONDS + timeout))
until check; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    printf 'gpu-hosting: %s: FAILED: %s\\n' "$GH_LAYER" "$url not healthy after $timeout s: $last" >&2
    if command -v journalctl >/dev/null 2>&1; then
      for u in "\${units[@]}"; do
        printf -- '--- last lines of journalctl -u %s ---\\n' "$u" >&2
        journalctl -u "$u" -n 40 --no-pager >&2 || true
      done
    fi
    exit 1
  fi
  sleep 2
done
log "healthy: $url serves \${models[*]}"
`;
  return layerScript("health", "60-health.sh", [], body, secrets);
}

/** Reads the key from the proxy's env file into $key (never printed). */
function readKey(): string {
  return `key_file="$GH_ROOT"${shq(CADDY_ENV_FILE)}
[ -r "$key_file" ] || fail "${CADDY_ENV_FILE} is missing or unreadable: the health check sends the endpoint's API key from it"
key="$(sed -n 's/^${API_KEY_VARIABLE}=//p' "$key_file" | head -n 1)"
[ -n "$key" ] || fail "${CADDY_ENV_FILE} has no ${API_KEY_VARIABLE}"
`;
}
