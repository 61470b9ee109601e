// The field reference in docs/spec.md is generated from the schema (a test keeps the two equal), so
// every field is documented and no description is written twice.
import { EndpointSpecSchema } from './schema.js';

interface SchemaNode {
  type?: string;
  enum?: string[];
  pattern?: string;
  description?: string;
  required?: string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

export function specReferenceTable(): string {
  const rows = ['| Field | Type | Meaning and default |', '|---|---|---|'];
  const walk = (schema: SchemaNode, path: string) => {
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      if (key === '$schema') continue;
      const fieldPath = path ? `${path}.${key}` : key;
      const required = schema.required?.includes(key) ? ' (required)' : '';
      rows.push(`| \`${fieldPath}\` | ${typeName(child)}${required} | ${(child.description ?? '').replace(/\|/g, '\\|')} |`);
      if (child.type === 'object') walk(child, fieldPath);
      if (child.type === 'array' && child.items?.type === 'object') walk(child.items, `${fieldPath}[]`);
    }
  };
  walk(EndpointSpecSchema as unknown as SchemaNode, '');
  return rows.join('\n');
}

function typeName(schema: SchemaNode): string {
  if (schema.enum) return schema.enum.map((value) => `\`${value}\``).join(' \\| ');
  if (schema.pattern?.includes('ms|s|m|h')) return 'duration';
  if (schema.type === 'array') return `list of ${schema.items?.type === 'object' ? 'objects' : `${schema.items?.type ?? 'values'}s`}`;
  return schema.type ?? 'value';
}
