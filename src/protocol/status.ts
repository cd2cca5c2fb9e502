/** Negative return codes of the SmartModule exports (spec §5.10), with Fluvio's one-line meaning. */

export const TRANSFORM_STATUS: Readonly<Record<number, string>> = {
  [-1]: 'UnknownError: the SmartModule returned an unknown error',
  [-11]: 'DecodingBaseInput: the SmartModule could not decode its base input',
  [-22]: 'DecodingRecords: the SmartModule could not decode the records of its input',
  [-33]: 'EncodingOutput: the SmartModule could not encode its output',
  [-44]: 'ParsingExtraParams: the SmartModule could not parse its extra parameters',
  [-55]: 'UndefinedRightRecord: the join SmartModule found no right record',
};

export const INIT_STATUS: Readonly<Record<number, string>> = {
  [-1]: 'UnknownError: init returned an unknown error',
  [-2]: 'InitError: init failed',
  [-10]: 'DecodingInput: init could not decode its parameters',
  [-11]: 'EncodingOutput: init could not encode its error',
};

export const LOOKBACK_STATUS: Readonly<Record<number, string>> = {
  [-1]: 'UnknownError: look_back returned an unknown error',
  [-66]: 'DecodingBaseInput: look_back could not decode its base input',
  [-77]: 'DecodingRecords: look_back could not decode its records',
  [-88]: 'EncodingOutput: look_back could not encode its error',
  [-99]: 'PropagatedError: look_back failed',
};

/** Fluvio maps every unlisted negative value to UnknownError (−1). */
export function normalizeStatus(
  table: Readonly<Record<number, string>>,
  rc: number,
): { code: number; description: string } {
  const code = table[rc] !== undefined ? rc : -1;
  return { code, description: table[code]! };
}
