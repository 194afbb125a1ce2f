// SigV4 signing: AWS's published S3 examples ("Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk"), then the SDK's own signer (@smithy/signature-v4) as the
// reference for keys with spaces, unicode, '+', '=' and query strings.
import { createHash, createHmac } from "node:crypto";
import { HttpRequest, extendedEncodeURIComponent } from "@smithy/core/protocols";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { EMPTY_SHA256, Signer, amzDate, canonicalRequest, encodeKeyPath, sha256Hex } from "../../../src/storage/sigv4.js";

const AWS_EXAMPLE = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
const DATE = "20130524T000000Z";
const HOST = "examplebucket.s3.amazonaws.com";
const credential = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";

describe("AWS's published S3 examples", () => {
  const signer = new Signer(AWS_EXAMPLE, "us-east-1");

  it("GET Object (first 10 bytes of test.txt)", () => {
    const request = {
      method: "GET",
      path: `/${encodeKeyPath("test.txt")}`,
      query: {},
      headers: { Host: HOST, Range: "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": DATE },
      payloadHash: EMPTY_SHA256,
    };
    expect(canonicalRequest(request).text).toBe(
      ["GET", "/test.txt", "", `host:${HOST}`, "range:bytes=0-9", `x-amz-content-sha256:${EMPTY_SHA256}`, `x-amz-date:${DATE}`, "",
        "host;range;x-amz-content-sha256;x-amz-date", EMPTY_SHA256].join("\n"),
    );
    expect(signer.authorization(request)).toBe(
      `${credential},SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41`,
    );
  });

  it("PUT Object (test$file.text, with a storage class); the key's '$' is encoded", () => {
    const payloadHash = sha256Hex("Welcome to Amazon S3.");
    expect(payloadHash).toBe("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    const request = {
      method: "PUT",
      path: `/${encodeKeyPath("test$file.text")}`,
      query: {},
      headers: {
        Date: "Fri, 24 May 2013 00:00:00 GMT",
        Host: HOST,
        "x-amz-date": DATE,
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": payloadHash,
      },
      payloadHash,
    };
    expect(request.path).toBe("/test%24file.text");
    expect(signer.authorization(request)).toBe(
      `${credential},SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd`,
    );
  });

  it("GET Bucket Lifecycle (a query parameter without a value)", () => {
    const request = {
      method: "GET",
      path: "/",
      query: { lifecycle: "" },
      headers: { Host: HOST, "x-amz-date": DATE, "x-amz-content-sha256": EMPTY_SHA256 },
      payloadHash: EMPTY_SHA256,
    };
    expect(signer.authorization(request)).toBe(
      `${credential},SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543`,
    );
  });

  it("Get Bucket (List Objects): query parameters sorted", () => {
    const request = {
      method: "GET",
      path: "/",
      query: { prefix: "J", "max-keys": "2" },
      headers: { Host: HOST, "x-amz-date": DATE, "x-amz-content-sha256": EMPTY_SHA256 },
      payloadHash: EMPTY_SHA256,
    };
    expect(canonicalRequest(request).text.split("\n")[2]).toBe("max-keys=2&prefix=J");
    expect(signer.authorization(request)).toBe(
      `${credential},SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7`,
    );
  });

  it("formats the date as x-amz-date wants it", () => {
    expect(amzDate(new Date("2013-05-24T00:00:00.000Z"))).toBe(DATE);
  });
});

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === "string" ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);

/** node:crypto as the SDK's hash interface. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

describe("the same signature as the SDK's signer", () => {
  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret/with+odd=chars", sessionToken: "token+/=" };
  const sdk = new SignatureV4({ credentials, region: "eu-central-1", service: "s3", sha256: NodeSha256, uriEscapePath: false });
  const ours = new Signer(credentials, "eu-central-1");
  const when = new Date("2026-11-25T21:42:07Z");

  const cases: [string, string, Record<string, string>][] = [
    ["a plain WAL key", "root/wal_005/000000010000000000000001.lz4", {}],
    ["spaces", "root/a key with  spaces", {}],
    ["unicode", "root/Grüße/日本語/ü", {}],
    ["'+', '=', '&', '?', '#', '%'", "root/a+b=c&d?e#f%g", {}],
    ["RFC 3986 reserved '!*'()' and '~'", "root/it's(1)*!~x", {}],
    ["empty and dot segments, kept as they are", "root//./../x/", {}],
    ["a ListObjectsV2 query", "", { "list-type": "2", prefix: "root/wal 005/+=", "continuation-token": "1/abc+def==", "max-keys": "3" }],
  ];

  it.each(cases)("%s", async (_label, key, query) => {
    // The SDK's S3 serializer encodes each key segment with extendedEncodeURIComponent and keeps the slashes.
    const sdkPath = `/bucket${key === "" ? "" : `/${key.split("/").map(extendedEncodeURIComponent).join("/")}`}`;
    const path = `/bucket${key === "" ? "" : `/${encodeKeyPath(key)}`}`;
    expect(path).toBe(sdkPath);
    const payloadHash = sha256Hex(`body of ${key}`);
    const headers = {
      host: "127.0.0.1:9000",
      "content-md5": createHash("md5").update(`body of ${key}`).digest("base64"),
      "x-amz-meta-walnative-sha256": "ab  cd",
      "x-amz-content-sha256": payloadHash,
      "x-amz-security-token": credentials.sessionToken,
      "if-none-match": "*",
    };
    const signed = await sdk.sign(new HttpRequest({ method: "PUT", hostname: "127.0.0.1", port: 9000, path: sdkPath, query, headers }), {
      signingDate: when,
    });
    // The SDK puts a space after each comma of the header; S3 accepts both.
    expect(ours.authorization({ method: "PUT", path, query, headers: { ...headers, "x-amz-date": amzDate(when) }, payloadHash })).toBe(
      signed.headers["authorization"]?.replace(/, /g, ","),
    );
  });

  it("uses a new signing key on a new day", () => {
    const day = (d: string) => ({ method: "GET", path: "/", query: {}, headers: { host: "h", "x-amz-date": d }, payloadHash: EMPTY_SHA256 });
    const first = ours.authorization(day("20261125T235959Z"));
    const second = ours.authorization(day("20261126T000000Z"));
    expect(first).toContain("/20261125/eu-central-1/s3/aws4_request");
    expect(second).toContain("/20261126/eu-central-1/s3/aws4_request");
    // Same request a day later: only a signer that re-derived its key matches a fresh one.
    expect(second).toBe(new Signer(credentials, "eu-central-1").authorization(day("20261126T000000Z")));
  });
});
