// Types of code-cache.mjs, for the test that checks the built caches.
export declare const FLAG_SETS: readonly (readonly string[])[];
export declare function cacheKey(flags: readonly string[]): string;
