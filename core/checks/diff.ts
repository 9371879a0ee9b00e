/**
 * The change a pull request makes to a stack, as Infracost's comment shows it for costs: hosts and
 * deployments added, removed or changed, the stack's totals old → new, and each violation new,
 * fixed or unchanged. Pure: it compares two checked stacks ({@link StackCheck}, from the same
 * `checkStackConfig` for base and head) and never reads files.
 */
import type { StackCheck } from "./stackFile";
import type { Violation } from "./types";

/**
 * What the base branch had for this stack file: a checked stack, no file at all (a stack this
 * pull request adds), or a file that does not check (its error, already redacted).
 */
export type DiffBase =
  | { status: "checked"; file: string; check: StackCheck }
  | { status: "missing"; file: string }
  | { status: "invalid"; file: string; error: string };

/** One field that differs between base and head. */
export interface FieldChange {
  field: string;
  base: string | number | null;
  head: string | number | null;
}

/** A host as the diff shows it. */
export interface HostRow {
  name: string;
  kind: string;
  /** Catalog offer for rented hosts, null for owned ones. */
  offer: string | null;
  /** Catalog GPU id, null for CPU-only hosts. */
  gpu: string | null;
  gpuCount: number;
  location: string;
  /** GPUs at board power or their cap, plus the rest of the server, W. */
  peakWatts: number;
}

/** A deployment as the diff shows it. */
export interface DeploymentRow {
  name: string;
  model: string;
  dtype: string;
  /** Context length, tokens. */
  context: number;
  concurrency: number;
}

/** Added, removed and changed items, each list in head (added, changed) or base (removed) order. */
export interface ItemChanges<T> {
  added: T[];
  removed: T[];
  /** Items in both with at least one field changed: the fields, and the item as head has it. */
  changed: { name: string; changes: FieldChange[]; head: T }[];
}

/** A total, base → head. `base`, `delta` and `percent` are null where the base has no number. */
export interface TotalChange {
  base: number | null;
  head: number;
  /** head − base. */
  delta: number | null;
  /** delta as a percentage of base; null when base is 0 or unknown. */
  percent: number | null;
}

/**
 * The `diff` object of `check --json --base`. Its shape is the same in every case: with a missing
 * base everything is added (base totals 0, every violation new); with an invalid base the lists
 * are empty, base totals null and `base.error` says why.
 */
export interface StackDiff {
  base: { file: string; status: DiffBase["status"]; error: string | null };
  hosts: ItemChanges<HostRow>;
  deployments: ItemChanges<DeploymentRow>;
  totals: { eurPerMonth: TotalChange; peakWatts: TotalChange; kwhPerMonth: TotalChange; co2eKgPerMonth: TotalChange };
  /** Peak IT watts per site, base and head (null where the site is not in that stack); head order, then removed sites. */
  sites: SiteWatts[];
  violations: { new: Violation[]; fixed: Violation[]; unchanged: Violation[] };
}

/** A site's peak IT watts in base and head. */
export interface SiteWatts {
  name: string;
  base: number | null;
  head: number | null;
}

/** Peak IT watts per site, base and head: head's sites in order, then sites only the base has. */
export function siteWatts(base: StackCheck | null, head: StackCheck): SiteWatts[] {
  const before = new Map((base?.fleet.sites ?? []).map((s) => [s.name, s.itWatts]));
  const rows: SiteWatts[] = head.fleet.sites.map((s) => ({ name: s.name, base: before.get(s.name) ?? null, head: s.itWatts }));
  const seen = new Set(rows.map((r) => r.name));
  for (const [name, w] of before) if (!seen.has(name)) rows.push({ name, base: w, head: null });
  return rows;
}

/** The fields of a host the diff compares, in report order. */
const HOST_FIELDS = ["kind", "offer", "gpu", "gpuCount", "location", "peakWatts"] as const satisfies readonly (keyof HostRow)[];
/** The fields of a deployment the diff compares, in report order. */
const DEPLOYMENT_FIELDS = ["model", "dtype", "context", "concurrency"] as const satisfies readonly (keyof DeploymentRow)[];

/** Host rows of a checked stack. */
export function hostRows(c: StackCheck): HostRow[] {
  return c.fleet.hosts.map((h) => ({ name: h.name, kind: h.kind, offer: h.offerId, gpu: h.gpu, gpuCount: h.gpuCount, location: h.location, peakWatts: h.peakWatts }));
}

/** Deployment rows of a checked stack. */
export function deploymentRows(c: StackCheck): DeploymentRow[] {
  return c.fleet.deployments.map((d) => ({ name: d.name, model: d.model, dtype: d.dtype, context: d.result.maxModelLen, concurrency: d.result.concurrency }));
}

/** Compares two lists of named rows field by field; names are unique within a stack (the schema says so). */
export function diffItems<T extends { name: string }>(base: readonly T[], head: readonly T[], fields: readonly (keyof T & string)[]): ItemChanges<T> {
  const before = new Map(base.map((x) => [x.name, x]));
  const after = new Set(head.map((x) => x.name));
  const out: ItemChanges<T> = { added: [], removed: base.filter((x) => !after.has(x.name)), changed: [] };
  for (const h of head) {
    const b = before.get(h.name);
    if (!b) {
      out.added.push(h);
      continue;
    }
    const changes = fields.filter((f) => b[f] !== h[f]).map((f) => ({ field: f, base: b[f] as FieldChange["base"], head: h[f] as FieldChange["head"] }));
    if (changes.length > 0) out.changed.push({ name: h.name, changes, head: h });
  }
  return out;
}

/** A total base → head; `base` null when unknown. */
export function totalChange(base: number | null, head: number): TotalChange {
  if (base === null) return { base: null, head, delta: null, percent: null };
  const delta = head - base;
  return { base, head, delta, percent: base === 0 ? null : (delta / Math.abs(base)) * 100 };
}

/** The key a violation is matched by across base and head: policy, subject and message. */
const violationKey = (v: Violation): string => JSON.stringify([v.policy, v.subject, v.message]);

/**
 * Marks each violation new (in head only), fixed (in base only) or unchanged (in both), matched by
 * policy + subject + message. Repeated identical violations are matched one for one.
 */
export function diffViolations(base: readonly Violation[], head: readonly Violation[]): StackDiff["violations"] {
  const left = new Map<string, Violation[]>();
  for (const v of base) {
    const k = violationKey(v);
    left.set(k, [...(left.get(k) ?? []), v]);
  }
  const out: StackDiff["violations"] = { new: [], fixed: [], unchanged: [] };
  for (const v of head) {
    const same = left.get(violationKey(v));
    if (same && same.length > 0) {
      same.shift();
      out.unchanged.push(v);
    } else out.new.push(v);
  }
  // Fixed ones in base order.
  for (const v of base) {
    const rest = left.get(violationKey(v));
    if (rest && rest[0] === v) {
      rest.shift();
      out.fixed.push(v);
    }
  }
  return out;
}

/** The change from `base` to the checked `head` stack. */
export function diffStacks(base: DiffBase, head: StackCheck): StackDiff {
  const t = head.fleet.totals;
  const info = { file: base.file, status: base.status, error: base.status === "invalid" ? base.error : null };
  if (base.status === "invalid") {
    return {
      base: info,
      hosts: { added: [], removed: [], changed: [] },
      deployments: { added: [], removed: [], changed: [] },
      totals: { eurPerMonth: totalChange(null, t.eurPerMonth), peakWatts: totalChange(null, t.peakWatts), kwhPerMonth: totalChange(null, t.kwhPerMonth), co2eKgPerMonth: totalChange(null, t.co2eKgPerMonth) },
      sites: [],
      violations: { new: [], fixed: [], unchanged: [] },
    };
  }
  const b = base.status === "checked" ? base.check : null;
  const bt = b?.fleet.totals ?? { eurPerMonth: 0, peakWatts: 0, kwhPerMonth: 0, co2eKgPerMonth: 0 };
  return {
    base: info,
    hosts: diffItems(b ? hostRows(b) : [], hostRows(head), HOST_FIELDS),
    deployments: diffItems(b ? deploymentRows(b) : [], deploymentRows(head), DEPLOYMENT_FIELDS),
    totals: {
      eurPerMonth: totalChange(bt.eurPerMonth, t.eurPerMonth),
      peakWatts: totalChange(bt.peakWatts, t.peakWatts),
      kwhPerMonth: totalChange(bt.kwhPerMonth, t.kwhPerMonth),
      co2eKgPerMonth: totalChange(bt.co2eKgPerMonth, t.co2eKgPerMonth),
    },
    sites: siteWatts(b, head),
    violations: diffViolations(b?.report.violations ?? [], head.report.violations),
  };
}
