// A Kubernetes object checked against the Kubernetes API schema, offline: kubernetes-models validates types,
// formats and required fields with validators generated from the Kubernetes OpenAPI document; since that
// schema (like the API server's) lets unknown fields through — and the kubelet drops them silently from a
// static pod — every field name is also looked up in @kubernetes/client-node's model of the same type.
import * as k8s from '@kubernetes/client-node';
import { Pod } from 'kubernetes-models/v1/Pod';

interface Attribute { baseName: string; type: string }
type Model = { getAttributeTypeMap(): Attribute[] };

/** Problems of a v1 Pod; empty when the API would accept it as written. */
export function podProblems(value: unknown): string[] {
  const problems: string[] = [];
  try {
    new Pod(value as ConstructorParameters<typeof Pod>[0]).validate();
  } catch (error) {
    problems.push((error as Error).message);
  }
  problems.push(...unknownFields(value, 'V1Pod', ''));
  return problems;
}

function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.flatMap((item, i) => unknownFields(item, array[1], `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1], `${path}.${k}`)) : [];
  const model = (k8s as unknown as Record<string, Model | undefined>)[type];
  if (typeof model?.getAttributeTypeMap !== 'function' || typeof value !== 'object') return [];
  const known = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([key, child]) => {
    const childType = known.get(key);
    if (childType === undefined) return [`${path || '.'}: unknown field "${key}" (${type})`];
    return unknownFields(child, childType, path ? `${path}.${key}` : key);
  });
}
