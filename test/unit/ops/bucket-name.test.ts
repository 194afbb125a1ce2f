// S3's bucket naming rules, checked before any request (wal-native init; check's explanation of a refused listing).
import { describe, expect, it } from "vitest";
import { bucketNameProblem } from "../../../src/ops/shared/bucket-name.js";

describe("bucket names", () => {
  it("accepts valid names", () => {
    for (const name of ["wal-archive", "abc", "a".repeat(63), "pg.wal.archive", "0-archive-9"]) expect(bucketNameProblem(name), name).toBeUndefined();
  });

  it("names the rule a name breaks", () => {
    expect(bucketNameProblem("ab")).toBe("it has 2 characters; a bucket name has 3 to 63");
    expect(bucketNameProblem("a".repeat(64))).toBe("it has 64 characters; a bucket name has 3 to 63");
    expect(bucketNameProblem("Wal-Archive")).toBe("it has upper-case letters; a bucket name has lower-case letters, digits, '.' and '-' only");
    expect(bucketNameProblem("wal_archive")).toBe("it contains '_'; a bucket name has lower-case letters, digits, '.' and '-' only");
    expect(bucketNameProblem("-wal")).toBe("it must begin and end with a letter or a digit");
    expect(bucketNameProblem("wal.")).toBe("it must begin and end with a letter or a digit");
    expect(bucketNameProblem("wal..archive")).toBe("it has two periods in a row");
    expect(bucketNameProblem("wal.-archive")).toBe("it has a period next to a hyphen");
    expect(bucketNameProblem("192.168.5.4")).toBe("it is written like an IP address");
    expect(bucketNameProblem("xn--archive")).toBe("it begins with 'xn--', which S3 reserves");
    expect(bucketNameProblem("archive-s3alias")).toBe("it ends with '-s3alias', which S3 reserves");
  });
});
