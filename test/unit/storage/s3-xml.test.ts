// The few XML answers the lite S3 client reads: ListObjectsV2 pages and error documents, as S3 and MinIO send them.
import { describe, expect, it } from "vitest";
import { decodeEntities, parseErrorDocument, parseListPage } from "../../../src/storage/s3-xml.js";

const page = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${body}</ListBucketResult>`;

describe("ListObjectsV2 pages", () => {
  it("reads keys, sizes and dates, and the continuation token of a truncated page", () => {
    const xml = page(
      "<Name>bucket</Name><Prefix>p/wal_005/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>" +
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>" +
        '<Contents><Key>p/wal_005/000000010000000000000001.lz4</Key><LastModified>2026-11-25T21:06:00.123Z</LastModified><ETag>"abc"</ETag><Size>12345</Size><StorageClass>STANDARD</StorageClass></Contents>' +
        "<Contents><Key>p/wal_005/000000010000000000000002.br</Key><LastModified>2026-11-25T21:06:01.000Z</LastModified><Size>7</Size>" +
        "<Owner><ID>x</ID><DisplayName></DisplayName></Owner></Contents>",
    );
    expect(parseListPage(xml)).toEqual({
      objects: [
        { key: "p/wal_005/000000010000000000000001.lz4", size: 12345, lastModified: new Date("2026-11-25T21:06:00.123Z") },
        { key: "p/wal_005/000000010000000000000002.br", size: 7, lastModified: new Date("2026-11-25T21:06:01.000Z") },
      ],
      nextToken: "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
    });
  });

  it("decodes entities in keys: named, decimal and hexadecimal", () => {
    const xml = page(
      "<IsTruncated>false</IsTruncated><Contents><Key>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x65E5;&#x1F600;</Key><Size>1</Size></Contents>",
    );
    expect(parseListPage(xml).objects.map((o) => o.key)).toEqual([`a & b <c> "d" 'e' \u00e9\u65e5\u{1F600}`]);
  });

  it("reads an empty listing: no Contents, not truncated", () => {
    expect(parseListPage(page("<Name>bucket</Name><Prefix>none/</Prefix><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"))).toEqual({ objects: [] });
  });

  it("ends the listing when not truncated, even if a token is present", () => {
    const xml = page("<IsTruncated>false</IsTruncated><NextContinuationToken>stale</NextContinuationToken><Contents><Key>k</Key><Size>0</Size></Contents>");
    expect(parseListPage(xml)).toEqual({ objects: [{ key: "k", size: 0, lastModified: undefined }] });
  });

  it("does not take an object's elements for the page's (a key named like a token)", () => {
    const xml = page("<Contents><Key>x</Key><Size>3</Size><IsTruncated>true</IsTruncated></Contents><IsTruncated>false</IsTruncated>");
    expect(parseListPage(xml).nextToken).toBeUndefined();
  });
});

describe("error documents", () => {
  it("reads Code and Message", () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message>' +
      "<Key>p/x</Key><BucketName>bucket</BucketName><Resource>/bucket/p/x</Resource><RequestId>1</RequestId><HostId>h</HostId></Error>";
    expect(parseErrorDocument(xml)).toEqual({
      code: "SignatureDoesNotMatch",
      message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    });
  });

  it("decodes entities in the message", () => {
    expect(parseErrorDocument("<Error><Code>NoSuchKey</Code><Message>no &quot;a&amp;b&quot;</Message></Error>")).toEqual({
      code: "NoSuchKey",
      message: 'no "a&b"',
    });
  });

  it("is empty for a body that is not an S3 error (a proxy's HTML page, nothing at all)", () => {
    expect(parseErrorDocument("<html><body>502 Bad Gateway</body></html>")).toEqual({});
    expect(parseErrorDocument("")).toEqual({});
  });

  it("leaves unknown entities as they are", () => {
    expect(decodeEntities("&nbsp;&amp;")).toBe("&nbsp;&");
  });
});
