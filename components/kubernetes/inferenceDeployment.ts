/**
 * `kubernetes.InferenceDeployment`: one deployment on a cluster, from the same sizing and engine
 * flags as on hosts (core/kubernetes renders the objects, sharing core/layers/inference.ts's
 * `engineArgs`). The Secret holding the API key and the Hugging Face token is created here from
 * Pulumi secrets; the rendered objects only reference it. The sizing facts travel as plain inputs,
 * so the policies read them at preview.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { inferenceSecret, renderInferenceManifests, type K8sInferenceInput, type K8sObject } from "../../core/kubernetes";
import { KUBERNETES_INFERENCE_TYPE } from "../../core/tokens";

/** Arguments of {@link InferenceDeployment}. */
export interface InferenceDeploymentArgs {
  /** The renderer's input (`clusterDeploymentInput`): deployment, sizing, node type, replicas, cache, ingress. */
  input: K8sInferenceInput;
  /** The cluster's provider (`kubernetes.Cluster.provider`). */
  provider: k8s.Provider;
  /** The endpoint's API key (secret). */
  apiKey: pulumi.Input<string>;
  /** A Hugging Face token for gated models (secret). */
  hfToken?: pulumi.Input<string>;
  /** Create the namespace. @default true */
  createNamespace?: boolean;
}

type Ctor = new (name: string, args: Record<string, unknown>, opts: pulumi.CustomResourceOptions) => pulumi.CustomResource;
/** The typed resource of each kind the renderer emits. */
const KINDS: Record<string, Ctor> = {
  "v1/Namespace": k8s.core.v1.Namespace as unknown as Ctor,
  "v1/Service": k8s.core.v1.Service as unknown as Ctor,
  "apps/v1/StatefulSet": k8s.apps.v1.StatefulSet as unknown as Ctor,
  "apps/v1/Deployment": k8s.apps.v1.Deployment as unknown as Ctor,
  "networking.k8s.io/v1/Ingress": k8s.networking.v1.Ingress as unknown as Ctor,
  "policy/v1/PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget as unknown as Ctor,
  "autoscaling/v2/HorizontalPodAutoscaler": k8s.autoscaling.v2.HorizontalPodAutoscaler as unknown as Ctor,
};

/** An inference deployment on Kubernetes. */
export class InferenceDeployment extends pulumi.ComponentResource {
  /** Type token. */
  public static readonly __pulumiType = KUBERNETES_INFERENCE_TYPE;
  /** The rendered objects (plain JSON), as `gpu-hosting render` writes them. */
  public readonly objects: K8sObject[];
  /** In-cluster URL of the Service. */
  public readonly serviceUrl: string;

  constructor(name: string, args: InferenceDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    const s = args.input.sizing;
    super(
      InferenceDeployment.__pulumiType,
      name,
      { deployment: args.input.deployment, model: s.model, gpu: s.gpu, gpuCount: s.gpuCount, replicas: args.input.replicas, dtype: s.dtype, engine: s.engine, context: args.input.context, concurrency: args.input.concurrency, fits: s.fits },
      opts,
    );
    let objects: K8sObject[];
    try {
      objects = renderInferenceManifests(args.input);
    } catch (e) {
      throw new pulumi.ResourceError(`kubernetes.InferenceDeployment ${name}: ${(e as Error).message}`, this);
    }
    this.objects = objects;
    const o = { parent: this, provider: args.provider };
    const ns = args.createNamespace === false ? undefined : new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: args.input.namespace } }, o);
    const ref = inferenceSecret(args.input);
    const stringData = pulumi.secret(
      pulumi.all([args.apiKey, args.hfToken ?? ""]).apply(([key, hf]) => {
        const data: Record<string, string> = {};
        for (const k of ref.requiredKeys) data[k] = key;
        if (hf && ref.optionalKeys.includes("HF_TOKEN")) data.HF_TOKEN = hf;
        return data;
      }),
    );
    const secret = new k8s.core.v1.Secret(`${name}-secret`, { metadata: { name: ref.name, namespace: ref.namespace }, type: "Opaque", stringData }, { ...o, ...(ns ? { dependsOn: [ns] } : {}) });
    let previous: pulumi.Resource[] = [secret];
    for (const obj of objects) {
      if (obj.kind === "Namespace") continue;
      const Kind = KINDS[`${obj.apiVersion}/${obj.kind}`];
      if (!Kind) throw new pulumi.ResourceError(`kubernetes.InferenceDeployment ${name}: no resource class for ${obj.apiVersion} ${obj.kind}`, this);
      const r = new Kind(`${name}-${obj.kind.toLowerCase()}`, { metadata: obj.metadata, spec: obj.spec }, { ...o, dependsOn: previous });
      if (obj.kind === "StatefulSet" || obj.kind === "Deployment") previous = [r];
    }
    this.serviceUrl = `http://${args.input.deployment}.${args.input.namespace}.svc.cluster.local`;
    this.registerOutputs({ serviceUrl: this.serviceUrl });
  }
}
