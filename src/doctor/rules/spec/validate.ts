import { defineRule } from '../../context.js';

/** Everything `validate` checks (schema and src/spec/rules), reported with the same lines and hints. */
export const specValidate = defineRule({
  id: 'spec/validate',
  kind: 'spec',
  check(file) {
    return file.result.problems.map((problem) => ({
      severity: problem.severity,
      line: problem.line ?? 1,
      message: `${problem.path ? `${problem.path}: ` : ''}${problem.message} (${problem.code})`,
      why: problem.severity === 'error' ? '`cluster-endpoint validate` rejects this spec; nothing can be served or rendered from it' : 'validate accepts it, but it is probably not what you meant',
      source: 'docs/spec.md, docs/errors.md',
      fix: problem.hint ?? 'see docs/spec.md',
    }));
  },
});
