// The 16 MiB input of wal-g's default-size vectors (test/fixtures/walg-v3.0.9, `defaultSize` in its manifest).
// It is regenerated from this recipe rather than committed: the recorder (scripts/vectors-walg.mjs) gives it to
// wal-g, and the tests give it to our commands and check it against the SHA-256 the manifest recorded.
//
// Recipe: 2048 WAL pages of 8 KiB, as PostgreSQL 16 lays them out for segment 000000010000000100000042 (timeline
// 1, LSN 1/42000000) of a cluster with 16 MiB segments:
// - page headers: magic 0xD113 (PostgreSQL 16), xlp_tli 1, xlp_pageaddr the page's LSN; the first page has the
//   long header (xlp_info 0x0006: XLP_LONG_HEADER | XLP_BKP_REMOVABLE; system identifier 7400000000000000016,
//   segment size 16777216, block size 8192), the others xlp_info 0x0004, or 0x0005 (XLP_FIRST_IS_CONTRECORD) with
//   xlp_rem_len the bytes of the record still to come when a record runs on from the page before;
// - from byte 40 on, one chain of records that runs on into the next segment, each what
//   `select pg_logical_emit_message(false, 'wal-native', <message>)` writes in database 5: record n (from 0) is an
//   XLogRecord header (xl_tot_len, xl_xid 0, xl_prev the previous record's LSN, the first one's 1/41FFF000,
//   xl_info 0, xl_rmid 21 LogicalMessage, xl_crc the CRC-32C xlogreader.c checks), a main-data block header
//   (id 254 XLR_BLOCK_ID_DATA_LONG, u32 length), then xl_logical_message (dbId 5, non-transactional, prefix size
//   11, message size 16000 + 4000 * (n mod 7)), the prefix "wal-native\0" and the message: "record <n>;" then the
//   line "insert into wal_native_vectors values (1, 'a row of a 16 MiB WAL segment as wal-g stores it');\n"
//   repeated and cut to length. Records start 8-aligned; the padding and everything else is zero.
// Records cross page boundaries and each 4 MiB boundary (where wal-g's LZ4 blocks end), so each LZ4 block starts
// in the middle of a record; the content compresses to about 1/100 with LZ4, far better with the others.

export const DEFAULT_SEGMENT_NAME = "000000010000000100000042";
export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;

const PAGE_SIZE = 8192;
const LONG_HEADER = 40;
const SHORT_HEADER = 24;
const RECORD_HEADER = 24;
const MAGIC_PG16 = 0xd113;
const XLP_FIRST_IS_CONTRECORD = 0x0001;
const XLP_LONG_HEADER = 0x0002;
const XLP_BKP_REMOVABLE = 0x0004;
const SYSTEM_IDENTIFIER = 7_400_000_000_000_000_016n;
const RM_LOGICALMSG_ID = 21;
const XLR_BLOCK_ID_DATA_LONG = 254;
/** offsetof(xl_logical_message, message): dbId, transactional, prefix_size, message_size. */
const LOGICAL_MESSAGE_HEADER = 24;
const DATABASE_OID = 5;
const PREFIX = Buffer.from("wal-native\0");
const LINE = Buffer.from("insert into wal_native_vectors values (1, 'a row of a 16 MiB WAL segment as wal-g stores it');\n");

// CRC-32C of its own: plain Node runs this file, not our TypeScript. The unit test reads the records back with
// src/wal/valid-end.ts, so the two implementations check each other.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32c(crc, bytes) {
  let c = crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** Record n as PostgreSQL would insert it, with xl_prev = prev. */
function record(n, prev) {
  const messageSize = 16000 + 4000 * (n % 7);
  const dataLength = LOGICAL_MESSAGE_HEADER + PREFIX.length + messageSize;
  const total = RECORD_HEADER + 5 + dataLength;
  const bytes = Buffer.alloc(total);
  bytes.writeUInt32LE(total, 0);
  bytes.writeBigUInt64LE(prev, 8);
  bytes[17] = RM_LOGICALMSG_ID;
  bytes[24] = XLR_BLOCK_ID_DATA_LONG;
  bytes.writeUInt32LE(dataLength, 25);
  const data = bytes.subarray(RECORD_HEADER + 5);
  data.writeUInt32LE(DATABASE_OID, 0);
  data.writeBigUInt64LE(BigInt(PREFIX.length), 8);
  data.writeBigUInt64LE(BigInt(messageSize), 16);
  PREFIX.copy(data, LOGICAL_MESSAGE_HEADER);
  const message = data.subarray(LOGICAL_MESSAGE_HEADER + PREFIX.length);
  let offset = message.write(`record ${n};`);
  while (offset < message.length) offset += LINE.copy(message, offset);
  // xlogreader.c ValidXLogRecord: CRC-32C over the record after its header, then over the header up to xl_crc.
  const crc = crc32c(crc32c(0xffffffff, bytes.subarray(RECORD_HEADER)), bytes.subarray(0, 20));
  bytes.writeUInt32LE((crc ^ 0xffffffff) >>> 0, 20);
  return bytes;
}

/** The segment the recipe above describes: the same 16 MiB on every call. */
export function defaultSizeSegment() {
  const timeline = Number.parseInt(DEFAULT_SEGMENT_NAME.slice(0, 8), 16);
  const startLsn = (BigInt(Number.parseInt(DEFAULT_SEGMENT_NAME.slice(8, 16), 16)) << 32n)
    + BigInt(Number.parseInt(DEFAULT_SEGMENT_NAME.slice(16, 24), 16)) * BigInt(DEFAULT_SEGMENT_SIZE);
  const segment = Buffer.alloc(DEFAULT_SEGMENT_SIZE);
  segment.writeBigUInt64LE(SYSTEM_IDENTIFIER, 24);
  segment.writeUInt32LE(DEFAULT_SEGMENT_SIZE, 32);
  segment.writeUInt32LE(PAGE_SIZE, 36);

  // Records are laid into the usable bytes of the pages; pending = the record being written and how much is done.
  let pending;
  let position = LONG_HEADER; // file offset where the next byte goes
  let prev = startLsn - 0x1000n;
  let n = 0;
  for (let page = 0; page < DEFAULT_SEGMENT_SIZE / PAGE_SIZE; page++) {
    const pageStart = page * PAGE_SIZE;
    const pageEnd = pageStart + PAGE_SIZE;
    segment.writeUInt16LE(MAGIC_PG16, pageStart);
    segment.writeUInt32LE(timeline, pageStart + 4);
    segment.writeBigUInt64LE(startLsn + BigInt(pageStart), pageStart + 8);
    if (page === 0) segment.writeUInt16LE(XLP_LONG_HEADER | XLP_BKP_REMOVABLE, 2);
    else {
      const remaining = pending === undefined ? 0 : pending.bytes.length - pending.done;
      segment.writeUInt16LE(XLP_BKP_REMOVABLE | (remaining > 0 ? XLP_FIRST_IS_CONTRECORD : 0), pageStart + 2);
      segment.writeUInt32LE(remaining, pageStart + 16);
      position = pageStart + SHORT_HEADER;
    }
    while (position < pageEnd) {
      if (pending === undefined || pending.done === pending.bytes.length) {
        // The next record starts 8-aligned; one that would start at the page's end starts on the next page.
        position = (position + 7) & ~7;
        if (position >= pageEnd) break;
        const lsn = startLsn + BigInt(position);
        pending = { bytes: record(n, prev), done: 0 };
        prev = lsn;
        n += 1;
      }
      const count = Math.min(pending.bytes.length - pending.done, pageEnd - position);
      pending.bytes.copy(segment, position, pending.done, pending.done + count);
      pending.done += count;
      position += count;
    }
  }
  return segment;
}
