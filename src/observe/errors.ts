import { EddyError } from '../errors.js';

/** An `--http` / `http` address that cannot be parsed. */
export class HttpAddressError extends EddyError {
  constructor(
    readonly address: string,
    why: string,
  ) {
    super(
      'EDDY_HTTP_ADDRESS',
      `invalid HTTP address ${JSON.stringify(address)}: ${why}; give <port>, <host>:<port> or [<ipv6>]:<port>, e.g. 127.0.0.1:9464`,
    );
  }
}

/** The status server could not listen (port in use, address not on this machine, no permission). */
export class HttpListenError extends EddyError {
  constructor(
    readonly address: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    const why =
      reason === 'EADDRINUSE'
        ? 'the port is already in use (another `eddy run --http`, or another program); choose another port, or port 0 for any free one'
        : reason === 'EADDRNOTAVAIL'
          ? "that address is not one of this machine's; use 127.0.0.1 (the default) or an address of a local interface"
          : reason === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges); choose a port above 1023'
            : `${reason}; check the address`;
    super(
      reason === 'EADDRINUSE' ? 'EDDY_HTTP_IN_USE' : 'EDDY_HTTP_LISTEN',
      `cannot serve metrics and the status page on ${address}: ${why}`,
      options,
    );
  }
}
