import { Packr } from 'msgpackr';

// Plain maps, no record extension: frames are short-lived and read once.
export const packr = new Packr({ useRecords: false, variableMapSize: true });
