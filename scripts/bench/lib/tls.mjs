// The bench's MinIO speaks TLS, because pgBackRest's S3 driver only speaks TLS; every tool then uses that same
// https endpoint, so that none is spared the encryption the others pay for. The certificate is self-signed
// (openssl), valid for 127.0.0.1 and trusted by each tool through its own setting: WALG_S3_CA_CERT_FILE (wal-g
// and ours), repo1-storage-ca-file (pgBackRest), the bench's own https agent.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Writes public.crt and private.key into `certsDir` (MinIO's --certs-dir layout); returns { certsDir, caFile, ca }.
 * pgBackRest 2.45 matches the host against DNS names only, so the name 127.0.0.1 is there twice: as a DNS name
 * for pgBackRest and as an IP address for Node and Go, which check IP hosts against IP entries.
 */
export function makeCertificate(certsDir) {
  mkdirSync(certsDir, { recursive: true });
  const caFile = join(certsDir, "public.crt");
  const keyFile = join(certsDir, "private.key");
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-days", "7", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=DNS:127.0.0.1,IP:127.0.0.1",
      "-keyout", keyFile, "-out", caFile], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    throw new Error(`openssl could not make the bench's TLS certificate: ${error.stderr?.toString().trim() ?? error.message}`);
  }
  // The certificate is read by the tools, which run as postgres; the key only by MinIO (root).
  chmodSync(caFile, 0o644);
  chmodSync(keyFile, 0o600);
  return { certsDir, caFile, ca: readFileSync(caFile) };
}
