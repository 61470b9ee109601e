// The engines doctor runs when they are installed (`--no-engines` turns them off).
import type { Engine } from './engine.js';
import { haproxyEngine } from './haproxy.js';
import { keepalivedEngine } from './keepalived.js';
import { terraformEngine } from './terraform.js';

export const ENGINES: readonly Engine[] = [haproxyEngine, keepalivedEngine, terraformEngine];
