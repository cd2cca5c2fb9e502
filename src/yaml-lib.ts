import { createRequire } from 'node:module';
import type { LineCounter } from 'yaml';

/**
 * The `yaml` library, loaded the first time a YAML file is read or written. Loading it takes about
 * 60 ms, a sixth of a command's start-up, and most commands never read YAML. Node loads the
 * package's CommonJS build for `import` too, so requiring it here gives the same module.
 */

type Yaml = typeof import('yaml');
let lib: Yaml | null = null;
const yaml = (): Yaml => (lib ??= createRequire(import.meta.url)('yaml') as Yaml);

export const isAlias = ((node: unknown) => yaml().isAlias(node)) as Yaml['isAlias'];
export const isCollection = ((node: unknown) => yaml().isCollection(node)) as Yaml['isCollection'];
export const isMap = ((node: unknown) => yaml().isMap(node)) as Yaml['isMap'];
export const isPair = ((node: unknown) => yaml().isPair(node)) as Yaml['isPair'];
export const isScalar = ((node: unknown) => yaml().isScalar(node)) as Yaml['isScalar'];
export const isSeq = ((node: unknown) => yaml().isSeq(node)) as Yaml['isSeq'];
export const parseDocument = ((...args: Parameters<Yaml['parseDocument']>) =>
  yaml().parseDocument(...args)) as Yaml['parseDocument'];
export const stringify = ((...args: Parameters<Yaml['stringify']>) => yaml().stringify(...args)) as Yaml['stringify'];
export const newLineCounter = (): LineCounter => new (yaml().LineCounter)();
