/**
 * A recorder for `pulumi.runtime.setMocks`: every resource a program registers (components
 * included) is kept with its type, name, inputs, URN, parent URN, `protect` flag and the outputs
 * it registered, so component tests can assert child inputs, parentage and secrecy offline.
 *
 * ```ts
 * const rec = await recordResources();
 * const host = new GpuInstance("gpu-1", args);
 * await rec.settled(host.urn);
 * expect(rec.one("scaleway:instance/server:Server").inputs.type).toBe("L40S-1-48G");
 * ```
 *
 * Secrets keep Pulumi's wire envelope in recorded inputs and outputs
 * (`{ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value }`);
 * {@link findInClear} looks for a string outside such envelopes.
 */
import * as pulumi from "@pulumi/pulumi";

/** Signature key and value Pulumi uses to mark a serialized secret. */
export const SECRET_SIG_KEY = pulumi.runtime.specialSigKey;
export const SECRET_SIG = pulumi.runtime.specialSecretSig;

/** One registered resource. */
export interface RecordedResource {
  /** Type token, e.g. `scaleway:instance/server:Server` or `gpu-hosting:scaleway:GpuInstance`. */
  type: string;
  /** Logical name, e.g. `gpu-1-server`. */
  name: string;
  /** Inputs as the engine received them (secrets still wrapped, resources as references). */
  inputs: Record<string, unknown>;
  /** Whether it is a custom (provider) resource rather than a component. */
  custom: boolean;
  /** The id the mock returned (`<name>-id` for custom resources, empty for components). */
  id: string;
  /** URN the mock monitor assigns; it carries the parent type chain (`Parent$Child`). */
  urn: string;
  /**
   * Parent URN, read from the register request (MockResourceArgs itself does not carry it).
   * Undefined when the runtime's request object does not expose it, or for the stack's children.
   */
  parentUrn?: string;
  /** `protect` resource option from the register request; undefined when not exposed. */
  protect?: boolean;
  /** Outputs passed to `registerOutputs` (components), secrets still wrapped; undefined until registered. */
  outputs?: Record<string, unknown>;
}

/** Returns extra state for a new resource (merged over its inputs, which the mock echoes back). */
export type StateFn = (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> | undefined;

/** Options of {@link recordResources}. */
export interface RecorderOptions {
  /** Extra state per resource; {@link defaultState} is applied first. */
  state?: StateFn;
  /** Results of provider function calls (invokes), by token. @default echo the inputs */
  call?: (args: pulumi.runtime.MockCallArgs) => Record<string, unknown>;
  /** @default "project" */
  project?: string;
  /** @default "stack" */
  stack?: string;
  /** Run as a preview (unknown values stay unknown). @default false */
  preview?: boolean;
}

/** What {@link recordResources} returns. */
export interface Recorder {
  /** Every registered resource, in registration order. */
  readonly resources: RecordedResource[];
  /** Resources of a type token. */
  ofType(type: string): RecordedResource[];
  /** The resource with this logical name (and type, when given); throws when missing or ambiguous. */
  one(typeOrName: string, name?: string): RecordedResource;
  /** Resources whose parent URN (or URN type chain) places them directly under `parentUrn`. */
  childrenOf(parentUrn: string): RecordedResource[];
  /** Forgets what was recorded so far (use between builds in one file). */
  reset(): void;
  /**
   * Waits until the given Outputs resolve and the mock has seen all pending registrations and
   * registered outputs. Pass a component's `urn` (and anything else the test reads).
   */
  settled(...outputs: pulumi.Output<unknown>[]): Promise<void>;
}

/** State the mock adds for some resource types, e.g. a fake `address` for `scaleway:instance/ip:Ip`. */
export function defaultState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  switch (args.type) {
    case "scaleway:instance/ip:Ip":
      return { address: "51.15.0.10", prefix: "51.15.0.10/32" };
    case "hcloud:index/server:Server":
      return { ipv4Address: "203.0.113.10", ipv6Address: "2001:db8::10" };
    case "scaleway:instance/server:Server":
      return { publicIps: [{ id: "ip-id", address: "51.15.0.10" }], privateIps: [] };
    case "random:index/randomPassword:RandomPassword":
      return { result: `generated-api-key-${args.name}-0123456789abcdef` };
    default:
      return {};
  }
}

interface RegisterRequestLike {
  getType(): string;
  getName(): string;
  getParent?(): string;
  getProtect?(): boolean | undefined;
}
interface OutputsRequestLike {
  getUrn(): string;
  getOutputs(): Parameters<typeof pulumi.runtime.deserializeProperties>[0] | undefined;
}
type Callback = (err: unknown, resp: unknown) => void;
interface MonitorLike {
  registerResource?(req: RegisterRequestLike, cb: Callback): void;
  registerResourceOutputs?(req: OutputsRequestLike, cb: Callback): void;
}

/**
 * Installs mocks that record every resource and returns the recorder. Call once per test file
 * (before constructing resources); it replaces any earlier mocks. Custom resources get the id
 * `<name>-id` and echo their inputs as state, plus {@link defaultState} and `options.state`.
 */
export async function recordResources(options: RecorderOptions = {}): Promise<Recorder> {
  const resources: RecordedResource[] = [];
  const pendingMeta = new Map<string, { parentUrn?: string; protect?: boolean }>();
  const key = (type: string, name: string): string => `${type}::${name}`;
  let pending = 0;

  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const custom = args.custom ?? false;
        const id = custom ? `${args.name}-id` : "";
        const meta = pendingMeta.get(key(args.type, args.name)) ?? {};
        const urn = mockUrn(args.type, args.name, meta.parentUrn, options);
        resources.push({ type: args.type, name: args.name, inputs: (args.inputs ?? {}) as Record<string, unknown>, custom, id, urn, ...meta });
        const state = { ...(args.inputs as Record<string, unknown>), ...defaultState(args), ...(options.state?.(args) ?? {}) };
        return { id, state };
      },
      call(args) {
        return options.call ? options.call(args) : (args.inputs as Record<string, unknown>);
      },
    },
    options.project ?? "project",
    options.stack ?? "stack",
    options.preview ?? false,
  );

  // MockResourceArgs carries neither the parent nor `protect`, and registered outputs never reach
  // the mocks: read them from the requests the (mock) monitor receives.
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike | undefined;
  if (monitor?.registerResource) {
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
      pending++;
      const parent = typeof req.getParent === "function" ? req.getParent() : undefined;
      const protect = typeof req.getProtect === "function" ? req.getProtect() : undefined;
      pendingMeta.set(key(req.getType(), req.getName()), { parentUrn: parent || undefined, protect: protect ?? false });
      register(req, (err, resp) => {
        pending--;
        // Prefer the URN the monitor actually assigned.
        const urn = (resp as { getUrn?: () => string } | undefined)?.getUrn?.();
        const r = [...resources].reverse().find((x) => x.type === req.getType() && x.name === req.getName());
        if (r && urn) r.urn = urn;
        cb(err, resp);
      });
    };
  }
  if (monitor?.registerResourceOutputs) {
    const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
    monitor.registerResourceOutputs = (req, cb) => {
      pending++;
      const struct = req.getOutputs();
      const r = resources.find((x) => x.urn === req.getUrn());
      if (r && struct) r.outputs = pulumi.runtime.deserializeProperties(struct) as Record<string, unknown>;
      registerOutputs(req, (err, resp) => {
        pending--;
        cb(err, resp);
      });
    };
  }

  const recorder: Recorder = {
    resources,
    ofType: (type) => resources.filter((r) => r.type === type),
    one(typeOrName, name) {
      const matches = name === undefined ? resources.filter((r) => r.name === typeOrName || r.type === typeOrName) : resources.filter((r) => r.type === typeOrName && r.name === name);
      if (matches.length !== 1) {
        throw new Error(`expected one resource ${name === undefined ? typeOrName : `${typeOrName} ${name}`}, found ${matches.length}; recorded: ${resources.map((r) => `${r.type} ${r.name}`).join(", ")}`);
      }
      return matches[0]!;
    },
    childrenOf(parentUrn) {
      const parentType = parentUrn.split("::")[2]?.split("$").pop();
      return resources.filter((r) => (r.parentUrn !== undefined ? r.parentUrn === parentUrn : r.urn.split("::")[2]?.split("$").slice(-2, -1)[0] === parentType));
    },
    reset() {
      resources.length = 0;
      pendingMeta.clear();
    },
    async settled(...outputs) {
      await Promise.all(outputs.map((o) => outputValue(o)));
      // Registrations and registerOutputs calls happen on later turns of the event loop.
      for (let i = 0; i < 50 && (i < 5 || pending > 0); i++) await new Promise((r) => setImmediate(r));
    },
  };
  return recorder;
}

function mockUrn(type: string, name: string, parentUrn: string | undefined, o: RecorderOptions): string {
  // Mirrors the mock monitor: the parent's type is prefixed with `$`.
  const qualified = parentUrn ? `${parentUrn.split("::")[2]?.split("$").pop()}$${type}` : type;
  return `urn:pulumi:${o.stack ?? "stack"}::${o.project ?? "project"}::${qualified}::${name}`;
}

/** A resolved Output: its value (undefined when unknown), and whether it is secret and known. */
export interface ResolvedOutput<T> {
  value: T | undefined;
  isSecret: boolean;
  isKnown: boolean;
}

/** Resolves an Output (or plain value) for assertions, with its secret and known flags. */
export async function outputValue<T>(o: pulumi.Input<T>): Promise<ResolvedOutput<T>> {
  const out = pulumi.output(o) as pulumi.Output<T>;
  const isSecret = await pulumi.isSecret(out);
  // `isKnown` is not in the public typings but is present on every Output instance.
  const isKnown = await (out as unknown as { isKnown: Promise<boolean> }).isKnown;
  if (!isKnown) return { value: undefined, isSecret, isKnown };
  const value = await new Promise<T>((resolve) => {
    out.apply((v) => {
      resolve(v as T);
      return v;
    });
  });
  return { value, isSecret, isKnown };
}

/**
 * Paths (`inputs.cloudInit`, `outputs.connection.user`) where `needle` occurs inside a string that
 * is not wrapped as a secret. Empty means the value only ever appears as a secret (or not at all).
 */
export function findInClear(value: unknown, needle: string, path = ""): string[] {
  if (typeof value === "string") return value.includes(needle) ? [path || "(root)"] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => findInClear(v, needle, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[SECRET_SIG_KEY] === SECRET_SIG) return [];
    return Object.entries(obj).flatMap(([k, v]) => findInClear(v, needle, path ? `${path}.${k}` : k));
  }
  return [];
}
