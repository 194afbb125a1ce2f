// Why the S3 writer (src/storage/s3-multipart.ts) is ours and not @aws-sdk/lib-storage's Upload, which the design
// names: Upload accepts a PUT that the store did not confirm (no ETag, or an ETag that is not the body's MD5), where
// ours refuses it, and a push may only exit 0 once storage holds exactly these bytes. Both sides run against the same
// fake client; when a future Upload refuses too, this test fails and the switch can be made.
import { createHash } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { describe, expect, it } from "vitest";
import type { S3Location } from "../../../src/config.js";
import { writeObject } from "../../../src/storage/s3-multipart.js";

const LOCATION: S3Location = {
  kind: "s3", bucket: "bucket", root: "", region: "us-east-1", forcePathStyle: true, storageClass: "STANDARD",
  checksumWhenRequired: true, maxRetries: 0, partSize: 5 * 1024 * 1024, requestTimeoutMs: 1000,
};

/** A store that answers every PUT without confirming it: no ETag, or one that is not the body's MD5. */
function unconfirmingStore(etag: (body: Buffer) => string | undefined): S3Client {
  return {
    config: { endpoint: async () => ({ hostname: "s3.test", protocol: "https:", path: "/", port: undefined }), forcePathStyle: true, requestHandler: {} },
    async send(command: unknown) {
      if (!(command instanceof PutObjectCommand)) throw new Error(`unexpected ${String(command)}`);
      return { ETag: etag(command.input.Body as Buffer), $metadata: {} };
    },
  } as unknown as S3Client;
}

const body = Buffer.from("a WAL segment's compressed bytes");
const cases: Array<[string, (bytes: Buffer) => string | undefined]> = [
  ["no ETag", () => undefined],
  ["an ETag that is not the body's MD5", (bytes) => `"${createHash("md5").update(Buffer.concat([bytes, Buffer.from("x")])).digest("hex")}"`],
];

describe.each(cases)("a PUT answered with %s", (_label, etag) => {
  it("is refused by our writer", async () => {
    await expect(writeObject(unconfirmingStore(etag), LOCATION, "k", "k", body, {})).rejects.toThrow(/not confirmed/);
  });

  it("is accepted by lib-storage's Upload (the reason we keep our writer)", async () => {
    const upload = new Upload({ client: unconfirmingStore(etag), params: { Bucket: "bucket", Key: "k", Body: body }, queueSize: 2 });
    await expect(upload.done()).resolves.toBeDefined();
  });
});
