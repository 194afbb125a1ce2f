// Types for walg-vector-segment.mjs, which the recorder (plain Node) and the tests (TypeScript) both import.
export declare const DEFAULT_SEGMENT_NAME: string;
export declare const DEFAULT_SEGMENT_SIZE: number;
/** The 16 MiB input of wal-g's default-size vectors, regenerated from the recipe in walg-vector-segment.mjs. */
export declare function defaultSizeSegment(): Buffer;
