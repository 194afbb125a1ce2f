// Types of upload-log.mjs, for the unit test.
export declare function longestUpload(text: string): { longestUploadMs?: number; longestUploadStorageMs?: number };
