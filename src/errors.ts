// One place for error codes. Every code is documented in docs/errors.md (a test checks it).

export const ERROR_CODES = {
  SPEC_YAML: 'Spec is not valid YAML.',
  SPEC_UNKNOWN_KEY: 'Spec has a key the tool does not know.',
  SPEC_TYPE: 'A spec value has the wrong type.',
  SPEC_REQUIRED: 'A required spec key is missing.',
  SPEC_VALUE: 'A spec value is out of range or not one of the allowed values.',
  SPEC_DUPLICATE: 'Two entries share a name or a port.',
  SPEC_ADDRESS: 'An address is not a valid IPv4, IPv6 address or DNS name.',
  SPEC_DURATION: 'A duration is malformed or out of range.',
  SPEC_REFERENCE: 'A listener targets a node group that is empty, or a node\'s ports: names no listener of its group.',
  SPEC_FILE: 'The spec file cannot be read.',
  SPEC_LIMIT: 'The spec exceeds a safety bound (size, alias expansions, nesting, or the time to parse it).',
  USAGE: 'The command line is wrong.',
  ADMIN_UNAUTHORIZED: 'The admin API needs a bearer token.',
  ADMIN_NOT_FOUND: 'The admin API has no such server or node.',
  ADMIN_UNREACHABLE: 'The admin API of the running balancer cannot be reached.',
  ADMIN_BAD_REQUEST: 'An admin API request body or parameter is malformed.',
  ADMIN_METHOD_NOT_ALLOWED: 'The admin API path does not take this HTTP method.',
  ADMIN_FORBIDDEN_HOST: 'An admin API request without a token came with a Host header that is not an address (DNS rebinding guard).',
  ADMIN_FORBIDDEN_ORIGIN: 'An admin API request that changes state came from another site\'s page (its Origin header is not the admin surface).',
  ADMIN_BUSY: 'The admin API has as many requests of this client in progress as it takes; retry shortly.',
  ADMIN_INTERNAL: 'The admin API failed while answering.',
  LISTEN: 'A listener or the admin surface cannot bind its address.',
  RENDER: 'A renderer cannot produce configuration from this spec.',
  RENDER_DRIFT: 'Rendered files differ from the files on disk.',
  PROBE_FAILED: 'The endpoint is not usable.',
  VIP: 'The VIP manager cannot hold or release the address.',
  KERNEL: 'The kernel data plane cannot start or change its nftables table (no CAP_NET_ADMIN, nft or conntrack missing, IP forwarding off, bind not local, another serve runs the same cluster or catches the same address and port).',
  DISCOVERY: 'Discovery from the cluster cannot start (the kubeconfig or the service account cannot be loaded).',
  BGP: 'The BGP announcer cannot run its speaker (BIRD) or put the endpoint on this host.',
  DOCTOR_FINDINGS: 'doctor found problems of severity error.',
  INTERNAL: 'An unexpected failure inside the tool (a bug).',
  REHEARSE: 'rehearse cannot build or run its lab (no root, an engine missing, the lab did not come up).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error meant for the user: printed as one line, with a hint, never with a stack trace. */
export class UserError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'UserError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failure: 1, invalid: 2 } as const;
