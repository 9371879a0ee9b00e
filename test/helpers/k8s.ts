/**
 * Offline validation of rendered Kubernetes objects with kubernetes-models (the Kubernetes v1.33.0
 * OpenAPI schema): the class of each kind the renderers emit.
 */
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Namespace, Service } from "kubernetes-models/v1";

const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  Namespace: Namespace as never,
  Service: Service as never,
  StatefulSet: StatefulSet as never,
  Deployment: Deployment as never,
  Ingress: Ingress as never,
  PodDisruptionBudget: PodDisruptionBudget as never,
  HorizontalPodAutoscaler: HorizontalPodAutoscaler as never,
};

/** Validates with the kubernetes-models class of the object's kind; throws its ValidationError. */
export function validateK8sObject(obj: { kind: string }): void {
  const Model = MODELS[obj.kind];
  if (!Model) throw new Error(`no kubernetes-models class for ${obj.kind} in this test`);
  new Model(JSON.parse(JSON.stringify(obj)) as never).validate();
}
