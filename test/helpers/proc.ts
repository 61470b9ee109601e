// A process started inside a network namespace (or in this one): the implementation lives in
// src/rehearse/process.ts, which `cluster-endpoint rehearse` uses at run time; the tests import it from here.
export { spawnInNamespace, spawnLogged, type Line, type NsProc } from '../../src/rehearse/process.js';
