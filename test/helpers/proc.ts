// A process started inside a network namespace: the implementation lives in src/rehearse/process.ts, which
// `cluster-endpoint rehearse` uses at run time; the tests import it from here.
export { spawnInNamespace, type Line, type NsProc } from '../../src/rehearse/process.js';
