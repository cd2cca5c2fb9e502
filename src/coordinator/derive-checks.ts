import { RESOURCE_NAME as TOPIC_NAME } from '../storage/names.js';
import { DeriveCycleError, DeriveNameError } from './errors.js';

/** What the checks need of a derived stream's definition. */
export interface DeriveEdges {
  name: string;
  source: string;
  target: string;
  policy?: 'stop' | 'skip';
  deadLetterTopic?: string;
}

/** Where a skipping stream keeps the records it skips: the configured topic, else `<name>-dlq`. Null under policy stop. */
export function deadLetterTopic(config: DeriveEdges): string | null {
  if (config.policy !== 'skip') return null;
  return config.deadLetterTopic ?? `${config.name}-dlq`;
}

/** Names as Fluvio validates resource names (lowercase letters, digits, '-', at most 63 characters): they become keys and, with `-dlq`, topic names. */
export function checkDeriveName(config: DeriveEdges): void {
  const { name } = config;
  if (typeof name !== 'string' || !TOPIC_NAME.test(name)) {
    throw new DeriveNameError(
      String(name),
      "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
    );
  }
  const dlq = deadLetterTopic(config);
  if (dlq !== null && !TOPIC_NAME.test(dlq)) {
    const why =
      config.deadLetterTopic === undefined
        ? `its dead-letter topic would be ${JSON.stringify(dlq)}, over 63 characters; use a name of at most 59 characters, or name the topic (--dead-letter-topic, deadLetterTopic)`
        : `dead-letter topic ${JSON.stringify(dlq)} is not a valid topic name (lowercase letters, digits and '-', at most 63 characters)`;
    throw new DeriveNameError(name, why);
  }
}

/**
 * Refuses a derived stream that would reach its own source through the topics it writes (its
 * target, its dead-letter topic) and the derived streams that read them. `others` are the
 * streams already defined (one of the same name is replaced by `config`).
 */
export function checkNoCycle(config: DeriveEdges, others: readonly DeriveEdges[]): void {
  const all = [...others.filter((o) => o.name !== config.name), config];
  const outputs = (d: DeriveEdges) => [d.target, ...[deadLetterTopic(d)].filter((t): t is string => t !== null)];
  // Breadth-first from the new stream's outputs; `via` remembers how each topic was reached.
  const via = new Map<string, { from: string; stream: string }>();
  const queue: string[] = [];
  for (const t of outputs(config)) {
    if (!via.has(t)) {
      via.set(t, { from: config.source, stream: config.name });
      queue.push(t);
    }
  }
  while (queue.length > 0) {
    const topic = queue.shift()!;
    if (topic === config.source) throw new DeriveCycleError(config.name, path(via, config.source));
    for (const d of all) {
      if (d.source !== topic) continue;
      for (const t of outputs(d)) {
        if (!via.has(t)) {
          via.set(t, { from: topic, stream: d.name });
          queue.push(t);
        }
      }
    }
  }
}

/** `a → (x) → b → (y) → a`: the topics and, in parentheses, the streams between them. */
function path(via: Map<string, { from: string; stream: string }>, source: string): string[] {
  const steps: string[] = [source];
  let at = source;
  for (let guard = 0; guard <= via.size; guard++) {
    const step = via.get(at)!;
    steps.unshift(step.from, `(${step.stream})`);
    at = step.from;
    if (at === source) break;
  }
  return steps;
}
