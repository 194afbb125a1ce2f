// Where the lite S3 client (s3-lite.ts) sends a request for a bucket and key: host, port and path, as the SDK
// chooses them.
import type { S3Location } from "../config.js";
import { encodeKeyPath, encodeRfc3986 } from "./sigv4.js";

export interface Address {
  readonly secure: boolean;
  /** For the connection: no brackets around an IPv6 address. */
  readonly hostname: string;
  readonly port: number | undefined;
  /** The Host header, port included when not the default. */
  readonly host: string;
  /** Encoded request path of a full key, or of the bucket when key is undefined. */
  pathOf(key: string | undefined): string;
}

/**
 * Path-style "/bucket/key" when asked (MinIO) or when the bucket name cannot be a host name label (dots
 * break the TLS wildcard), else virtual-hosted "bucket.host/key", as the SDK does.
 */
export function addressOf(location: Pick<S3Location, "endpoint" | "region" | "bucket" | "forcePathStyle">): Address {
  const url = new URL(location.endpoint ?? `https://s3.${location.region}.amazonaws.com`);
  const pathStyle = location.forcePathStyle || !/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(location.bucket);
  const hostname = pathStyle ? url.hostname : `${location.bucket}.${url.hostname}`;
  const bucketPath = pathStyle ? `/${encodeRfc3986(location.bucket)}` : "";
  return {
    secure: url.protocol === "https:",
    hostname: hostname.replace(/^\[|\]$/g, ""),
    port: url.port ? Number(url.port) : undefined,
    host: url.port ? `${hostname}:${url.port}` : hostname,
    pathOf: (key) => (key === undefined ? bucketPath || "/" : `${bucketPath}/${encodeKeyPath(key)}`),
  };
}
