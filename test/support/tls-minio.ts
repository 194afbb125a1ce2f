// A MinIO of a test's own behind TLS: a CA and a server certificate for 127.0.0.1 made with openssl, handed to
// MinIO through --certs-dir; our commands reach it with WALG_S3_CA_CERT_FILE. SSE-C needs TLS (MinIO refuses
// customer keys over http), and so do the certificate checks.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import { Agent } from "node:https";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { freePort } from "./minio-server.js";
import { findTool } from "./tools.js";

export interface TlsMinio {
  readonly endpoint: string;
  readonly caFile: string;
  readonly client: S3Client;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly access: string;
  readonly secret: string;
  readonly bucket: string;
}

/** A CA and a server certificate for the IP 127.0.0.1, made with openssl. */
function makeCertificates(dir: string): void {
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=wal-native test CA"]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "certs/private.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  execFileSync("sh", ["-c", "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf"], { cwd: dir });
  run(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "certs/public.crt", "-days", "2", "-extfile", "ext.cnf"]);
}

/** Starts it in `dir` (certificates, data and log) and waits until it serves the bucket. */
export async function startTlsMinio(dir: string, options: { bucket: string; access: string; secret: string }): Promise<TlsMinio> {
  const binary = findTool("minio");
  if (!binary) throw new Error("minio not found: run bash scripts/setup-test-tools.sh");
  await mkdir(join(dir, "certs"), { recursive: true });
  makeCertificates(dir);
  const port = await freePort();
  const logFile = join(dir, "minio.log");
  const log = await open(logFile, "a");
  const child = spawn(
    binary,
    ["server", join(dir, "data"), "--address", `127.0.0.1:${port}`, "--console-address", `127.0.0.1:${await freePort()}`, "--certs-dir", join(dir, "certs")],
    {
      stdio: ["ignore", log.fd, log.fd],
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: dir,
        MINIO_ROOT_USER: options.access,
        MINIO_ROOT_PASSWORD: options.secret,
        MINIO_UPDATE: "off",
        // SSE-S3 needs a KMS; a static key is MinIO's single-key KMS for tests.
        MINIO_KMS_SECRET_KEY: `wal-native-key:${randomBytes(32).toString("base64")}`,
      },
    },
  );
  await log.close();
  const caFile = join(dir, "ca.crt");
  const client = new S3Client({
    endpoint: `https://127.0.0.1:${port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: options.access, secretAccessKey: options.secret },
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: await readFile(caFile) }) }),
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await client.send(new CreateBucketCommand({ Bucket: options.bucket }));
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`TLS MinIO did not start: ${String(error)}\n${await readFile(logFile, "utf8")}`);
      }
      await sleep(200);
    }
  }
  return { endpoint: `https://127.0.0.1:${port}`, caFile, client, child, logFile, ...options };
}

export async function stopTlsMinio(minio: TlsMinio | undefined): Promise<void> {
  minio?.client.destroy();
  if (minio && minio.child.exitCode === null) {
    minio.child.kill("SIGTERM");
    await new Promise((resolve) => minio.child.once("exit", resolve));
  }
}
