// The part of the `lz4` package that lz4-native.ts uses: its native binding of the reference C library.
declare module "lz4/lib/utils.js" {
  interface Lz4Binding {
    compressBound(size: number): number;
    /** LZ4_compress_default(input, output + start, input.length, end - start): the compressed size, 0 if it does not fit. */
    compress(input: Buffer, output: Buffer, start: number, end: number): number;
    /** LZ4_decompress_safe(input, output, input.length, output.length): the decoded size, negative for a malformed block. */
    uncompress(input: Buffer, output: Buffer): number;
  }
  const utils: { readonly bindings: Lz4Binding };
  export default utils;
}
