// Types of scripts/api-docs.mjs, for test/docs/api-reference.test.ts.

/** A doc model as API Extractor writes it (.api.json), parsed: items with `members`. */
export interface ApiItemJson {
  readonly kind: string;
  readonly name?: string;
  readonly docComment?: string;
  readonly releaseTag?: string;
  readonly members?: readonly ApiItemJson[];
}

/** A message of API Extractor that is about the source (TSDoc syntax, links, unexported types). */
export interface ExtractorMessage {
  readonly entry: string;
  readonly id: string;
  readonly where: string;
  readonly text: string;
}

export const ROOT: string;
export const ENTRY_POINTS: ReadonlyArray<{ readonly specifier: string; readonly declarations: string; readonly summary: string }>;
export function entryName(specifier: string): string;
export function hasSummary(docComment: string | undefined): boolean;
export function undocumentedItems(model: ApiItemJson & { readonly name: string }): string[];
export function countItems(model: ApiItemJson): { exported: number; members: number };
export function buildModels(workDir: string): Promise<{
  modelDir: string;
  models: Map<string, ApiItemJson & { readonly name: string }>;
  messages: ExtractorMessage[];
}>;
