import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ConnectorConfig, Params } from './config.js';
import type { ConnectorImpl } from './contract.js';
import { runSink } from './sink.js';
import { compileTemplate, type Template, TemplateError } from './template.js';

/**
 * `type: file-sink`: appends each record of the topic to a file as one line.
 *
 * ```yaml
 * file:
 *   path: out/records.txt        # relative to the config file; created with its directory
 *   format: "{{offset}} {{value}}"  # optional, the placeholders of `eddy consume --format`; default the value
 * ```
 * Lines are buffered and written at least every 100 ms; the consumer offset is committed only
 * after the lines are written.
 */
export function fileSink(params: Params, config: ConnectorConfig): ConnectorImpl {
  const path = resolve(config.baseDir, params.string('path'));
  const formatText = params.optionalString('format');
  let template: Template | null = null;
  if (formatText !== undefined) {
    try {
      template = compileTemplate(formatText, `${config.source}: file.format`);
    } catch (err) {
      if (err instanceof TemplateError) throw params.error('format', err.message.replace(/^.*file\.format: /, ''));
      throw err;
    }
  }
  return {
    summary: `appending records of topic "${config.topic}" to ${path}`,
    async run(ctx) {
      await mkdir(dirname(path), { recursive: true });
      const fh: FileHandle = await open(path, 'a');
      let buffer: string[] = [];
      let size = 0;
      let timer: NodeJS.Timeout | null = null;
      let writing: Promise<void> = Promise.resolve();
      const flush = async () => {
        if (timer) {
          clearTimeout(timer);
          timer = null;
        }
        const text = buffer.join('');
        buffer = [];
        size = 0;
        writing = writing.then(async () => {
          if (text) await fh.write(text);
        });
        await writing;
      };
      try {
        await runSink(ctx, {
          deliver: async (r) => {
            const line = template
              ? template(r)
              : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length).toString('utf8');
            buffer.push(`${line}\n`);
            size += line.length + 1;
            if (size >= 64 * 1024) await flush();
            else
              timer ??= setTimeout(() => {
                flush().catch((err) => ctx.error(err));
              }, 100);
          },
          flush,
        });
      } finally {
        await flush();
        await fh.close();
      }
    },
  };
}
