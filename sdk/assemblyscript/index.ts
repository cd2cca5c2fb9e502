// Package entry: `import { Record, runFilter } from "@eddy/smartmodule-as"` resolves here
// (AssemblyScript looks for node_modules/<package>/index.ts).
export * from "./assembly/index";
