export { keepalivedRenderer, renderKeepalivedConfig, checkCommand, CHECK_SCRIPT, GARP } from './keepalived.js';
export { planFailover, type FailoverPlan } from './plan.js';
