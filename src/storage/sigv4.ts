// AWS Signature Version 4 for S3 requests signed in the Authorization header, with node:crypto only.
// Reference: AWS's "Signature Calculations for the Authorization Header" (test/unit/storage/sigv4.test.ts
// checks the published examples).
import { createHash, createHmac } from "node:crypto";

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignableRequest {
  readonly method: string;
  /** The canonical URI, already encoded: "/bucket/a%20b" (see encodeKeyPath). */
  readonly path: string;
  /** Query parameters, not encoded. */
  readonly query: Readonly<Record<string, string>>;
  /** Every header here is signed; names in any case. Must include host and x-amz-date. */
  readonly headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body, as sent in x-amz-content-sha256. */
  readonly payloadHash: string;
}

export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** RFC 3986: everything but A-Z a-z 0-9 - . _ ~ becomes %XX (UTF-8, upper-case hex). */
export function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An object key as a URI path: each segment encoded, the slashes kept (S3 signs the path as sent, unnormalised). */
export function encodeKeyPath(key: string): string {
  return key.split("/").map(encodeRfc3986).join("/");
}

/** "20130524T000000Z" */
export function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

export function canonicalQuery(query: Readonly<Record<string, string>>): string {
  return Object.entries(query)
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

export function canonicalRequest(request: SignableRequest): { text: string; signedHeaders: string } {
  const headers = Object.entries(request.headers)
    .map(([name, value]) => [name.toLowerCase(), value.trim().replace(/\s+/g, " ")] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const signedHeaders = headers.map(([name]) => name).join(";");
  const text = [
    request.method,
    request.path,
    canonicalQuery(request.query),
    headers.map(([name, value]) => `${name}:${value}\n`).join(""),
    signedHeaders,
    request.payloadHash,
  ].join("\n");
  return { text, signedHeaders };
}

/** Signs with one set of credentials; the derived key is kept per day, as it only changes with the date. */
export class Signer {
  private cached: { day: string; key: Buffer } | undefined;

  constructor(
    private readonly credentials: Credentials,
    private readonly region: string,
    private readonly service = "s3",
  ) {}

  /** The Authorization header value; request.headers must carry x-amz-date (amzDate()). */
  authorization(request: SignableRequest): string {
    const date = headerValue(request.headers, "x-amz-date");
    if (!date) throw new Error("x-amz-date is required to sign a request");
    const day = date.slice(0, 8);
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const { text, signedHeaders } = canonicalRequest(request);
    const stringToSign = ["AWS4-HMAC-SHA256", date, scope, sha256Hex(text)].join("\n");
    const signature = createHmac("sha256", this.signingKey(day)).update(stringToSign).digest("hex");
    return `AWS4-HMAC-SHA256 Credential=${this.credentials.accessKeyId}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;
  }

  private signingKey(day: string): Buffer {
    if (this.cached?.day !== day) {
      let key = hmac(`AWS4${this.credentials.secretAccessKey}`, day);
      for (const part of [this.region, this.service, "aws4_request"]) key = hmac(key, part);
      this.cached = { day, key };
    }
    return this.cached.key;
  }
}

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

function headerValue(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}
