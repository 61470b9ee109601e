// render aws: the guide's Terraform layout (module + root-module file + tfvars) for an AWS NLB.
import { header } from '../header.js';
import type { RenderedFile, Renderer } from '../types.js';
import { MODULE_DIR, ROOT_DIR, TFVARS_PATH, mainTf, outputsTf, rootTf, rootVariablesTf, tfvars, variablesTf, versionsTf } from './files.js';
import { planAws } from './plan.js';

export const awsRenderer: Renderer = {
  target: 'aws',
  description: 'Terraform for an AWS Network Load Balancer (module, root-module file, aws.tfvars)',
  section: { name: 'aws', present: (spec) => spec.aws !== undefined },
  render(spec, context): RenderedFile[] {
    const plan = planAws(spec);
    const file = (path: string, body: string): RenderedFile => ({ path, contents: `${header(context, '#')}\n${body}` });
    return [
      file(`${MODULE_DIR}/versions.tf`, versionsTf()),
      file(`${MODULE_DIR}/variables.tf`, variablesTf(plan)),
      file(`${MODULE_DIR}/main.tf`, mainTf(plan)),
      file(`${MODULE_DIR}/outputs.tf`, outputsTf(plan)),
      file(`${ROOT_DIR}/loadbalancer.tf`, rootTf(plan)),
      file(`${ROOT_DIR}/loadbalancer-variables.tf`, rootVariablesTf(plan)),
      file(TFVARS_PATH, tfvars(plan)),
    ];
  },
};
