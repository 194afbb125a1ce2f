// wal-g's libsodium encryption (internal/crypto/libsodium/writer.go, reader.go), byte for byte: a 24-byte
// crypto_secretstream_xchacha20poly1305 header, then the plaintext in 8192-byte chunks, each sealed with tag
// MESSAGE into 8209 bytes, and a last chunk of 0 to 8191 bytes sealed with tag FINAL. No additional data.
// libsodium itself comes from sodium-native, whose npm package carries the prebuilt library: nothing is
// downloaded or compiled at install, and it is loaded only when a key is configured.
import { Transform, type TransformCallback } from "node:stream";
import sodium from "sodium-native";
import { DecryptionError, plainFormatOf } from "./crypter.js";

const HEADER_BYTES = 24;
const A_BYTES = 17;
export const PLAIN_CHUNK = 8192;
const SEALED_CHUNK = PLAIN_CHUNK + A_BYTES;
const TAG_MESSAGE = 0;
const TAG_FINAL = 3;

if (
  sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES !== HEADER_BYTES ||
  sodium.crypto_secretstream_xchacha20poly1305_ABYTES !== A_BYTES ||
  sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL !== TAG_FINAL ||
  sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE !== TAG_MESSAGE
) {
  throw new Error("sodium-native reports secretstream sizes that differ from libsodium's: the framing would not be wal-g's");
}

/** Bytes of the encrypted object for `plain` bytes of (compressed) content. */
export function sealedSize(plain: number): number {
  const full = Math.floor(plain / PLAIN_CHUNK);
  return HEADER_BYTES + full * SEALED_CHUNK + (plain - full * PLAIN_CHUNK) + A_BYTES;
}

/** Bytes of content in an encrypted object of `sealed` bytes (its framing has to be complete to decrypt at all). */
function openedSize(sealed: number): number {
  const body = sealed - HEADER_BYTES;
  const chunks = Math.ceil(body / SEALED_CHUNK);
  return body - chunks * A_BYTES;
}

function newState(): Buffer {
  return Buffer.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES);
}

/** The whole object at once (the archive path holds the compressed segment in one buffer anyway). */
export function seal(key: Buffer, plain: Buffer): Buffer {
  const out = Buffer.allocUnsafe(sealedSize(plain.length));
  const state = newState();
  sodium.crypto_secretstream_xchacha20poly1305_init_push(state, out.subarray(0, HEADER_BYTES), key);
  let at = HEADER_BYTES;
  for (let offset = 0; ; offset += PLAIN_CHUNK) {
    const last = plain.length - offset < PLAIN_CHUNK;
    const chunk = plain.subarray(offset, last ? plain.length : offset + PLAIN_CHUNK);
    at += sodium.crypto_secretstream_xchacha20poly1305_push(state, out.subarray(at, at + chunk.length + A_BYTES), chunk, null, last ? TAG_FINAL : TAG_MESSAGE);
    if (last) return out;
  }
}

/**
 * Decrypts a whole object. Anything but an intact stream sealed with this key throws DecryptionError: the
 * last chunk must carry FINAL (wal-g itself would take a stream cut at a chunk boundary as complete).
 */
export function open(key: Buffer, sealed: Buffer, what: string, setting: string): Buffer {
  if (sealed.length < HEADER_BYTES + A_BYTES) throw unreadable(what, setting, sealed);
  const tail = (sealed.length - HEADER_BYTES) % SEALED_CHUNK;
  if (tail > 0 && tail < A_BYTES) throw new DecryptionError(`${what} is truncated: its last encrypted chunk is incomplete`, setting);
  const out = Buffer.allocUnsafe(openedSize(sealed.length));
  const opener = new ChunkOpener(key, sealed.subarray(0, HEADER_BYTES), what, setting);
  let written = 0;
  for (let at = HEADER_BYTES; at < sealed.length; at += SEALED_CHUNK) {
    const chunk = sealed.subarray(at, Math.min(sealed.length, at + SEALED_CHUNK));
    written += opener.open(chunk, out.subarray(written, written + chunk.length - A_BYTES), at + SEALED_CHUNK >= sealed.length, sealed);
  }
  return out;
}

/** Pulls chunk after chunk, with the checks and messages both open() and OpenStream need. */
class ChunkOpener {
  private readonly state = newState();
  private readonly tag = Buffer.alloc(1);
  private index = 0;

  constructor(
    key: Buffer,
    header: Buffer,
    private readonly what: string,
    private readonly setting: string,
  ) {
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(this.state, header, key);
  }

  /** Decrypts one sealed chunk into `target` (its plaintext length); `start` is the object's start, for messages. */
  open(chunk: Buffer, target: Buffer, last: boolean, start: Buffer): number {
    this.index += 1;
    let length: number;
    try {
      length = sodium.crypto_secretstream_xchacha20poly1305_pull(this.state, target, this.tag, chunk, null);
    } catch {
      // A wrong key fails on the first chunk; so does an object that was never encrypted.
      if (this.index === 1) throw unreadable(this.what, this.setting, start);
      throw new DecryptionError(`${this.what} is damaged: its encrypted chunk ${this.index} does not authenticate`, this.setting);
    }
    const final = this.tag[0] === TAG_FINAL;
    if (final && !last) throw new DecryptionError(`${this.what} is damaged: data follows the end of its encrypted stream`, this.setting);
    if (last && !final) throw new DecryptionError(`${this.what} is truncated: its encrypted stream has no final chunk`, this.setting);
    return length;
  }
}

function unreadable(what: string, setting: string, start: Buffer): DecryptionError {
  const plain = plainFormatOf(start);
  if (plain) return new DecryptionError(`${what} is not encrypted (it reads as ${plain}), but ${setting} is set`, setting);
  return new DecryptionError(
    `cannot decrypt ${what} with the key of ${setting}: the key differs from the one it was archived with, or the object is damaged or not libsodium-encrypted`,
    setting,
  );
}

/** Encrypts a stream (objects too large to hold whole); the same bytes as seal(). */
export class SealStream extends Transform {
  private readonly state = newState();
  private readonly pending = Buffer.allocUnsafe(PLAIN_CHUNK);
  private filled = 0;
  private started = false;

  constructor(private readonly key: Buffer) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out: Buffer[] = [];
    if (!this.started) out.push(this.header());
    for (let offset = 0; offset < chunk.length; ) {
      const taken = Math.min(PLAIN_CHUNK - this.filled, chunk.length - offset);
      chunk.copy(this.pending, this.filled, offset, offset + taken);
      this.filled += taken;
      offset += taken;
      // A full chunk goes out at once as MESSAGE; only the one left at the end is FINAL (wal-g's Write and Close).
      if (this.filled === PLAIN_CHUNK) out.push(this.sealPending(TAG_MESSAGE));
    }
    callback(null, out.length === 1 ? out[0] : Buffer.concat(out));
  }

  override _flush(callback: TransformCallback): void {
    const out: Buffer[] = [];
    if (!this.started) out.push(this.header());
    out.push(this.sealPending(TAG_FINAL));
    callback(null, Buffer.concat(out));
  }

  private header(): Buffer {
    this.started = true;
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    sodium.crypto_secretstream_xchacha20poly1305_init_push(this.state, header, this.key);
    return header;
  }

  private sealPending(tag: number): Buffer {
    const sealed = Buffer.allocUnsafe(this.filled + A_BYTES);
    sodium.crypto_secretstream_xchacha20poly1305_push(this.state, sealed, this.pending.subarray(0, this.filled), null, tag);
    this.filled = 0;
    return sealed;
  }
}

/** Decrypts a stream with the checks of open(); a chunk is only known to be the last at the end of input. */
export class OpenStream extends Transform {
  private opener: ChunkOpener | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private start: Buffer | undefined;

  constructor(
    private readonly key: Buffer,
    private readonly what: string,
    private readonly setting: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      if (!this.opener) {
        // The first chunk's failure is explained from the object's first bytes (is it a plain lz4 object?).
        if (this.pending.length < HEADER_BYTES + SEALED_CHUNK + 1) return callback();
        this.start = Buffer.from(this.pending.subarray(0, 16));
        this.opener = new ChunkOpener(this.key, this.pending.subarray(0, HEADER_BYTES), this.what, this.setting);
        this.pending = this.pending.subarray(HEADER_BYTES);
      }
      // A chunk is opened only once more bytes follow it: the last one has to be FINAL, the others must not be.
      const complete = Math.floor((this.pending.length - 1) / SEALED_CHUNK);
      if (complete > 0) {
        const out = Buffer.allocUnsafe(complete * PLAIN_CHUNK);
        for (let index = 0; index < complete; index++) {
          const sealed = this.pending.subarray(index * SEALED_CHUNK, (index + 1) * SEALED_CHUNK);
          this.opener.open(sealed, out.subarray(index * PLAIN_CHUNK, (index + 1) * PLAIN_CHUNK), false, this.start!);
        }
        this.pending = Buffer.from(this.pending.subarray(complete * SEALED_CHUNK));
        this.push(out);
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.opener) {
        // Never got past one chunk: the whole object is here.
        return callback(null, open(this.key, this.pending, this.what, this.setting));
      }
      if (this.pending.length < A_BYTES) throw new DecryptionError(`${this.what} is truncated: its encrypted stream has no final chunk`, this.setting);
      const out = Buffer.allocUnsafe(this.pending.length - A_BYTES);
      this.opener.open(this.pending, out, true, this.start!);
      callback(null, out);
    } catch (error) {
      callback(error as Error);
    }
  }
}
