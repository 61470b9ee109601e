import type { TerraformSource } from '../../context.js';
import { attributeLine, blockLine } from '../../parsers/terraform.js';

/** Line of an attribute in a resource block, else of the block header, else 1. */
export function resourceLine(file: TerraformSource, type: string, name: string, ...attributes: string[]): number {
  const start = blockLine(file.text, 'resource', [type, name]);
  if (start === undefined) return 1;
  for (const attribute of attributes) {
    const line = attributeLine(file.text, start, attribute);
    if (line !== undefined) return line;
  }
  return start;
}

export const AWS_TARGET_GROUP_DOCS = 'https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/lb_target_group';
export const AWS_LB_DOCS = 'https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/lb';
