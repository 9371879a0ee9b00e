/**
 * `kubernetes.Cluster`: where cluster deployments run. A Scaleway Kapsule cluster with one GPU pool
 * (node type from the catalog, autoscaling bounds, the kubeconfig exported as a secret), or an
 * existing cluster reached through a kubeconfig secret. Either way it ends in a Kubernetes provider
 * the deployments use, and optionally the NVIDIA GPU Operator (a pinned Helm chart).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as scw from "@pulumiverse/scaleway";
import type { ClusterConfig, ClusterFacts } from "../../core/clusters";
import { GPU_OPERATOR_CHART, GPU_OPERATOR_NAMESPACE, renderGpuOperatorValues } from "../../core/kubernetes";
import { KUBERNETES_CLUSTER_TYPE } from "../../core/tokens";

/** Arguments of {@link Cluster}. */
export interface ClusterArgs {
  /** The cluster as the stack config declares it. */
  config: ClusterConfig;
  /** Facts resolved from the catalog (`resolveCluster`); plain values, so policies can read them at preview. */
  facts: ClusterFacts;
  /** Kubeconfig of an existing cluster (secret). Not used for Kapsule. */
  kubeconfig?: pulumi.Input<string>;
}

/** A cluster and its Kubernetes provider. */
export class Cluster extends pulumi.ComponentResource {
  /** Type token. */
  public static readonly __pulumiType = KUBERNETES_CLUSTER_TYPE;
  /** The provider every object of this cluster's deployments is created with. */
  public readonly provider: k8s.Provider;
  /** The kubeconfig (secret). */
  public readonly kubeconfig: pulumi.Output<string>;
  /** The Kapsule cluster and pool (escape hatches), when the stack creates them. */
  public readonly kapsule?: { cluster: scw.kubernetes.Cluster; pool: scw.kubernetes.Pool };

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Cluster.__pulumiType, name, { config: args.config, facts: args.facts }, opts);
    const c = args.config;
    const parent = { parent: this };
    if (c.kind === "kapsule") {
      const region = c.zone.replace(/-\d+$/, "");
      const cluster = new scw.kubernetes.Cluster(`${name}-cluster`, { name, version: c.version, cni: "cilium", region, deleteAdditionalResources: true }, parent);
      const pool = new scw.kubernetes.Pool(
        `${name}-gpu-pool`,
        {
          clusterId: cluster.id,
          name: `${name}-gpu`,
          nodeType: c.nodeType,
          zone: c.zone,
          size: c.poolSize,
          ...(c.autoscaling ? { autoscaling: true, minSize: c.autoscaling.minSize, maxSize: c.autoscaling.maxSize } : {}),
          autohealing: true,
          waitForPoolReady: true,
        },
        parent,
      );
      this.kapsule = { cluster, pool };
      this.kubeconfig = pulumi.secret(cluster.kubeconfigs.apply((k) => k[0]?.configFile ?? ""));
    } else {
      if (args.kubeconfig === undefined) throw new pulumi.ResourceError(`kubernetes.Cluster ${name}: no kubeconfig; set it with \`pulumi config set --secret ${c.kubeconfigSecret} < ~/.kube/config\``, this);
      this.kubeconfig = pulumi.secret(args.kubeconfig);
    }
    this.provider = new k8s.Provider(`${name}-provider`, { kubeconfig: this.kubeconfig }, { parent: this, ...(this.kapsule ? { dependsOn: [this.kapsule.pool] } : {}) });
    // Kapsule GPU pools come with drivers; an existing cluster may ask for the GPU Operator.
    if (c.kind === "existing" && c.gpuOperator) {
      new k8s.helm.v4.Chart(
        `${name}-gpu-operator`,
        {
          chart: GPU_OPERATOR_CHART.chart,
          version: GPU_OPERATOR_CHART.version,
          repositoryOpts: { repo: GPU_OPERATOR_CHART.repo },
          namespace: GPU_OPERATOR_NAMESPACE,
          values: renderGpuOperatorValues({ installDriver: c.gpuOperator.installDriver }),
        },
        { parent: this, provider: this.provider },
      );
    }
    this.registerOutputs({ kubeconfig: this.kubeconfig });
  }
}
