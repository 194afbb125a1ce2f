// What the archive holds: objects and bytes under wal_005/ and basebackups_005/, and the oldest and newest
// WAL segment. The tally is pure, so that it can be tested without a store.
import type { ObjectInfo } from "../../storage/storage.js";
import { WAL_FOLDER } from "../../storage/storage.js";

export interface FolderUsage {
  readonly objects: number;
  readonly bytes: number;
}

export interface WalUsage extends FolderUsage {
  /** Segments only (no .history, .partial or .backup files), by name: timeline first, then position. */
  readonly oldest?: SegmentObject;
  readonly newest?: SegmentObject;
}

export interface SegmentObject {
  readonly name: string;
  readonly lastModified?: Date;
}

/** wal_005/<24 hex digits> with any of wal-g's compression extensions, or none ("name." as wal-g v3.0.8 wrote it). */
const SEGMENT_KEY = /^([0-9A-F]{24})(\.(lz4|lzma|gz|br|zst)?)?$/;

/** Counts objects as a listing streams by (an archive can hold millions: nothing is kept but the tally). */
export class UsageTally {
  private count = 0;
  private bytes = 0;
  private oldest: SegmentObject | undefined;
  private newest: SegmentObject | undefined;

  /** `folder` is the prefix the keys start with; under wal_005/ the segments are also ranked. */
  constructor(private readonly folder: string) {}

  add(object: ObjectInfo): void {
    this.count += 1;
    this.bytes += object.size;
    if (this.folder !== WAL_FOLDER) return;
    const name = SEGMENT_KEY.exec(object.key.slice(this.folder.length))?.[1];
    if (!name) return;
    if (!this.oldest || name < this.oldest.name) this.oldest = { name, lastModified: object.lastModified };
    if (!this.newest || name > this.newest.name) this.newest = { name, lastModified: object.lastModified };
  }

  result(): WalUsage {
    return { objects: this.count, bytes: this.bytes, oldest: this.oldest, newest: this.newest };
  }
}
