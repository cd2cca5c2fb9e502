import { on as nodeOn, once as nodeOnce } from 'node:events';
import type { DerivedEvents, DerivedStream } from './coordinator/derived.js';
import type { Eddy, EddyEvents } from './eddy.js';

/**
 * Node's `events.once` and `events.on`, typed for Eddy's emitters. eventemitter3 (the design's
 * emitter) has the methods those functions call, but not the whole Node EventEmitter interface,
 * so TypeScript refuses `events.once(eddy, 'lag')`; these give the event's arguments their types.
 * The behaviour is Node's: an 'error' event rejects (or ends the iteration), `signal` aborts.
 */

type Options = { signal?: AbortSignal };
type NodeEmitter = Parameters<typeof nodeOnce>[0] & Parameters<typeof nodeOn>[0];

/** Resolves with the arguments of the next `event`; rejects on 'error' (unless waiting for it). */
export function once<K extends keyof EddyEvents>(emitter: Eddy, event: K, options?: Options): Promise<EddyEvents[K]>;
export function once<K extends keyof DerivedEvents>(
  emitter: DerivedStream,
  event: K,
  options?: Options,
): Promise<DerivedEvents[K]>;
export function once(emitter: Eddy | DerivedStream, event: string, options: Options = {}): Promise<unknown[]> {
  return nodeOnce(emitter as unknown as NodeEmitter, event, options);
}

/** Every later `event`'s arguments, until `signal` aborts (it then throws AbortError) or an 'error' arrives (thrown). */
export function on<K extends keyof EddyEvents>(
  emitter: Eddy,
  event: K,
  options?: Options,
): AsyncIterableIterator<EddyEvents[K]>;
export function on<K extends keyof DerivedEvents>(
  emitter: DerivedStream,
  event: K,
  options?: Options,
): AsyncIterableIterator<DerivedEvents[K]>;
export function on(
  emitter: Eddy | DerivedStream,
  event: string,
  options: Options = {},
): AsyncIterableIterator<unknown[]> {
  return nodeOn(emitter as unknown as NodeEmitter, event, options) as AsyncIterableIterator<unknown[]>;
}
