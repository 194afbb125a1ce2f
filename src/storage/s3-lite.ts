// A small S3 client for the per-segment path: node:http(s) and SigV4, no SDK. PostgreSQL starts one
// process per WAL segment, and parsing the SDK bundle (dist/s3.cjs) costs more than the request itself.
// Same observable behaviour as S3Storage (s3.ts): typed errors, retries like the SDK's standard mode, a
// cut body is an error. Bodies larger than a part still go through the SDK's multipart writer.
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import type { S3Location } from "../config.js";
import { ConfigError, TransientStorageError } from "../errors.js";
import { type S3StoreNames, openRequest, removeRequest, statRequest, storageError, writeRequest } from "./s3-errors.js";
import { type Address, addressOf } from "./s3-address.js";
import { bufferUpTo, chained, guardedBody, readText } from "./s3-body.js";
import { withRetries } from "./s3-retry.js";
import { parseErrorDocument, parseListPage } from "./s3-xml.js";
import { EMPTY_SHA256, Signer, amzDate, encodeRfc3986, sha256Hex } from "./sigv4.js";
import { sseCustomerHeaders } from "./sse-c.js";
import {
  type ObjectInfo,
  ObjectExistsError,
  type OpenedObject,
  type Storage,
  type WriteBody,
  type WriteOptions,
  resolveMetadata,
  statAllByListing,
} from "./storage.js";

export interface LiteOptions {
  /** The SDK-based store, loaded only for a body larger than a part (multipart upload). */
  readonly multipart: () => Promise<Storage>;
  /** max-keys of a LIST page (S3's default is 1000); tests make it small to exercise continuation. */
  readonly listPageSize?: number;
}

/** A non-2xx answer, shaped like the SDK's errors so storageError and isNotFound treat both alike. */
export class S3ResponseError extends Error {
  readonly $metadata: { readonly httpStatusCode: number };
  constructor(name: string, message: string, status: number) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

interface S3Request {
  readonly method: "GET" | "HEAD" | "PUT" | "DELETE";
  /** The full key (root included); undefined addresses the bucket (LIST). */
  readonly key?: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  readonly signal?: AbortSignal;
}

export class LiteS3Storage implements Storage {
  readonly label: string;
  private readonly signer: Signer;
  private readonly address: Address;
  private readonly agent: http.Agent;
  private sdk: Promise<Storage> | undefined;
  /** SSE-C headers for every request that reads or writes an object (none without WALG_S3_SSE_C). */
  private readonly objectHeaders: Readonly<Record<string, string>>;
  private readonly names: S3StoreNames;

  constructor(
    private readonly location: S3Location,
    private readonly options: LiteOptions,
  ) {
    if (!location.accessKeyId || !location.secretAccessKey) {
      throw new ConfigError("WALNATIVE_S3_CLIENT", "the lite S3 client needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", "or set WALNATIVE_S3_CLIENT=sdk");
    }
    this.label = `s3://${location.bucket}/${location.root}`;
    this.names = { label: this.label, location };
    this.signer = new Signer(
      { accessKeyId: location.accessKeyId, secretAccessKey: location.secretAccessKey, sessionToken: location.sessionToken },
      location.region,
    );
    this.address = addressOf(location);
    this.objectHeaders = sseCustomerHeaders(location);
    this.agent = this.address.secure ? new https.Agent({ keepAlive: true, ca: readCa(location.caCertFile) }) : new http.Agent({ keepAlive: true });
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    return statRequest(this.names, key, () =>
      this.send({ method: "HEAD", key: this.keyOf(key), headers: this.objectHeaders, signal }, (response) => {
        response.resume();
        return infoOf(key, response);
      }),
    );
  }

  async read(key: string, signal?: AbortSignal): Promise<Readable> {
    return (await this.open(key, signal)).body;
  }

  async open(key: string, signal?: AbortSignal): Promise<OpenedObject> {
    // Retried only until the body starts: once bytes flow, a failure ends the stream with an error.
    const response = await openRequest(this.names, key, () =>
      this.send({ method: "GET", key: this.keyOf(key), headers: this.objectHeaders, signal }, (answer) => answer),
    );
    const length = response.headers["content-length"];
    return { info: infoOf(key, response), body: guardedBody(response, length === undefined ? undefined : Number(length), `'${key}' from ${this.label}`) };
  }

  async write(key: string, body: WriteBody, options: WriteOptions = {}): Promise<ObjectInfo> {
    return writeRequest(this.names, key, async () => {
      if (Buffer.isBuffer(body)) {
        return body.length <= this.location.partSize ? await this.put(key, body, options) : await (await this.sdkStore()).write(key, body, options);
      }
      const head = await bufferUpTo(body, this.location.partSize);
      if (head.more === undefined) return await this.put(key, Buffer.concat(head.chunks, head.size), options);
      // Larger than a part (rare for WAL): the SDK's multipart writer gets what was buffered, then the rest.
      return await (await this.sdkStore()).write(key, Readable.from(chained(head.chunks, head.more)), options);
    });
  }

  async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix: this.keyOf(prefix) };
      if (token !== undefined) query["continuation-token"] = token;
      if (this.options.listPageSize !== undefined) query["max-keys"] = String(this.options.listPageSize);
      let page;
      try {
        page = await this.send({ method: "GET", query, signal }, async (response) => parseListPage(await readText(response)));
      } catch (error) {
        throw storageError(error, `cannot list '${prefix}' in ${this.label}`);
      }
      for (const item of page.objects) {
        yield { key: item.key.slice(this.location.root.length), size: item.size, lastModified: item.lastModified };
      }
      token = page.nextToken;
    } while (token);
  }

  async statAll(keys: readonly string[], signal?: AbortSignal): Promise<ObjectInfo[]> {
    return statAllByListing((prefix) => this.list(prefix, signal), keys);
  }

  async remove(key: string): Promise<void> {
    await removeRequest(this.names, key, () => this.send({ method: "DELETE", key: this.keyOf(key) }, (response) => void response.resume()));
  }

  private async put(key: string, body: Buffer, options: WriteOptions): Promise<ObjectInfo> {
    const headers: Record<string, string> = { "content-length": String(body.length), ...this.objectHeaders };
    // The SDK path sends the configured class as it is, STANDARD included (s3-multipart.ts commonHeaders).
    headers["x-amz-storage-class"] = this.location.storageClass;
    // With a customer key, WALG_S3_SSE is its algorithm (in objectHeaders), not SSE-S3.
    if (this.location.sse && !this.location.sseCustomerKey) headers["x-amz-server-side-encryption"] = this.location.sse;
    if (this.location.sseKmsId) headers["x-amz-server-side-encryption-aws-kms-key-id"] = this.location.sseKmsId;
    for (const [name, value] of Object.entries(resolveMetadata(options) ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    if (options.ifAbsent) headers["if-none-match"] = "*";
    const etag = await this.send({ method: "PUT", key: this.keyOf(key), headers, body, signal: options.signal }, (response) => {
      response.resume();
      return response.headers.etag;
    }).catch((error: unknown) => {
      const e = error as S3ResponseError;
      if (e?.$metadata?.httpStatusCode === 412 || e?.name === "PreconditionFailed") throw new ObjectExistsError(key);
      throw error;
    });
    // The server checked the body against the signed x-amz-content-sha256 before it answered 2xx.
    if (!etag) throw new TransientStorageError(`upload of '${key}' was not confirmed (no ETag)`);
    return { key, size: body.length };
  }

  /** One request with retries like the SDK's standard mode; `consume` runs inside the retry for a 2xx answer. */
  private send<T>(request: S3Request, consume: (response: http.IncomingMessage) => T | Promise<T>): Promise<T> {
    return withRetries(this.location.maxRetries + 1, request.signal, async () => consume(await this.attempt(request)));
  }

  /** Resolves with a 2xx response whose body is unread; rejects with S3ResponseError or a transport error. */
  private attempt(request: S3Request): Promise<http.IncomingMessage> {
    const { path, headers } = this.sign(request);
    const timeoutMs = this.location.requestTimeoutMs;
    const connectMs = Math.min(timeoutMs, 5000);
    return new Promise((resolve, reject) => {
      const transport = this.address.secure ? https : http;
      const req = transport.request({
        agent: this.agent,
        hostname: this.address.hostname,
        port: this.address.port,
        method: request.method,
        path,
        headers,
        signal: request.signal,
        // Inactivity on the socket, also while a response body streams: a stalled GET must end, not hang.
        timeout: timeoutMs,
      });
      let response: http.IncomingMessage | undefined;
      const fail = (error: Error): void => {
        if (response?.complete) return;
        response?.destroy(error);
        req.destroy(error);
        reject(error);
      };
      req.on("timeout", () => fail(timeoutError(`no data from ${this.address.host} for ${timeoutMs} ms`)));
      req.on("socket", (socket: Socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => fail(timeoutError(`no connection to ${this.address.host} within ${connectMs} ms`)), connectMs);
        socket.once("connect", () => clearTimeout(timer));
        req.once("close", () => clearTimeout(timer));
      });
      req.on("error", reject);
      req.on("response", (answer) => {
        response = answer;
        // Readers attach their own listeners; this one keeps a failure after they are done from crashing the process.
        answer.on("error", () => undefined);
        const status = answer.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(answer);
        readText(answer).then((text) => reject(responseError(request.method, status, text)), reject);
      });
      req.end(request.body);
    });
  }

  /** The request path and its headers, signed now (each retry is signed anew, with the current time). */
  private sign(request: S3Request): { path: string; headers: Record<string, string> } {
    const canonicalPath = this.address.pathOf(request.key);
    const query = request.query ?? {};
    // Signed, the body's SHA-256 is its integrity check: the server refuses a body that does not match it
    // (XAmzContentSHA256Mismatch). It replaced Content-MD5 + an ETag = MD5 check, which cost the uploader ~2.5x
    // more (MD5 8.2 ms against SHA-256 3.4 ms for the ~7 MiB objects of an index build, 1.1 against 0.5 ms for a
    // typical segment), on its busiest thread.
    const payloadHash = request.body ? sha256Hex(request.body) : EMPTY_SHA256;
    const headers: Record<string, string> = {
      ...request.headers,
      host: this.address.host,
      "x-amz-date": amzDate(new Date()),
      "x-amz-content-sha256": payloadHash,
    };
    if (this.location.sessionToken) headers["x-amz-security-token"] = this.location.sessionToken;
    headers.authorization = this.signer.authorization({ method: request.method, path: canonicalPath, query, headers, payloadHash });
    const search = Object.entries(query)
      .map(([name, value]) => `${encodeRfc3986(name)}=${encodeRfc3986(value)}`)
      .join("&");
    return { path: search ? `${canonicalPath}?${search}` : canonicalPath, headers };
  }

  private sdkStore(): Promise<Storage> {
    this.sdk ??= this.options.multipart();
    return this.sdk;
  }

  private keyOf(key: string): string {
    return this.location.root + key;
  }
}

function readCa(file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError("WALG_S3_CA_CERT_FILE", `cannot read '${file}': ${(error as Error).message}`);
  }
}

function infoOf(key: string, response: http.IncomingMessage): ObjectInfo {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (name.startsWith("x-amz-meta-") && typeof value === "string") metadata[name.slice("x-amz-meta-".length)] = value;
  }
  const modified = response.headers["last-modified"];
  return {
    key,
    size: Number(response.headers["content-length"] ?? 0),
    lastModified: modified ? new Date(modified) : undefined,
    metadata,
  };
}

/** A HEAD has no body to name the error: the status does (404 reads as NotFound, like the SDK). */
function responseError(method: string, status: number, body: string): S3ResponseError {
  const document = method === "HEAD" ? {} : parseErrorDocument(body);
  const name = document.code ?? (status === 404 ? "NotFound" : "Unknown");
  return new S3ResponseError(name, document.message ?? `HTTP ${status}`, status);
}

function timeoutError(message: string): Error {
  const error = new Error(message);
  error.name = "TimeoutError";
  return error;
}
