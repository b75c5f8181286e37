// Types for build.mjs (plain JavaScript so scripts/ensure-deps.mjs can run it on any Node).
export const HELM_VERSION: string;
export function helmPath(): string;
export function ensureHelm(): string;
