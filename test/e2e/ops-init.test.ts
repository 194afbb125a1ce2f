// wal-native init against the real MinIO: bucket creation, versioning, lifecycle rules, round trip, idempotence.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  GetBucketLifecycleConfigurationCommand, GetBucketVersioningCommand, ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand, S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { minioInfo, uniquePrefix } from "../support/minio.js";
import { REPO_BIN, REPO_ROOT } from "../support/paths.js";

interface Run { code: number; stdout: string; stderr: string }

async function walNative(args: string[], env: Record<string, string>): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(join(REPO_BIN, "wal-native"), args, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir(), WALNATIVE_LOCAL_ARCHIVE: "", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function initScript(env: Record<string, string>): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)("sh", [join(REPO_ROOT, "scripts", "init-walg.sh")], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir(), WALNATIVE_LOCAL_ARCHIVE: "", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

function s3Env(bucket: string, root: string, secret = minioInfo().secretKey): Record<string, string> {
  const info = minioInfo();
  return {
    AWS_ENDPOINT: info.endpoint, AWS_ACCESS_KEY_ID: info.accessKey, AWS_SECRET_ACCESS_KEY: secret,
    AWS_REGION: info.region, AWS_S3_FORCE_PATH_STYLE: "true", WALG_S3_PREFIX: `s3://${bucket}/${root}`,
  };
}

let client: S3Client | undefined;
function s3(): S3Client {
  const info = minioInfo();
  client ??= new S3Client({ endpoint: info.endpoint, region: info.region, forcePathStyle: true,
    credentials: { accessKeyId: info.accessKey, secretAccessKey: info.secretKey } });
  return client;
}

const tempDirs: string[] = [];
afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe("wal-native init on S3", () => {
  const bucket = uniquePrefix("init").toLowerCase();

  it("creates the bucket, enables versioning, applies the lifecycle rules and proves access", async () => {
    const run = await walNative(["init"], s3Env(bucket, "pg-primary"));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^changed +bucket +bucket '.+' created$/m);
    expect(run.stdout).toMatch(/^changed +versioning +versioning enabled \(was off\)$/m);
    expect(run.stdout).toMatch(/^changed +lifecycle +rules applied \((abort incomplete multipart uploads after 7 d, )?expire noncurrent versions after 30 d, under 'pg-primary\/'\)$/m);
    expect(run.stdout).toMatch(/^ok +round trip +wrote, read back and deleted/m);

    expect((await s3().send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status).toBe("Enabled");
    const rules = (await s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
    expect(rules.map((rule) => rule.ID)).toContain("wal-native-expire-noncurrent-versions");
    for (const rule of rules) {
      expect(rule.Status).toBe("Enabled");
      expect(rule.Filter?.Prefix).toBe("pg-primary/");
      expect(rule.Expiration).toBeUndefined(); // current WAL objects are never expired
    }
    expect(rules.find((rule) => rule.ID?.includes("noncurrent"))?.NoncurrentVersionExpiration?.NoncurrentDays).toBe(30);
    const abort = rules.find((rule) => rule.ID?.includes("multipart"));
    if (abort) expect(abort.AbortIncompleteMultipartUpload?.DaysAfterInitiation).toBe(7);
    // MinIO has no such rule kind: init must say so rather than fail or pretend.
    else expect(run.stdout).toMatch(/^warning +lifecycle +the storage refused the abort-incomplete-multipart-upload rule/m);
    // The probe leaves nothing behind, not even a delete marker or a noncurrent version.
    const versions = await s3().send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: "pg-primary/" }));
    expect([...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]).toEqual([]);
  });

  it("changes nothing when run again", async () => {
    const run = await walNative(["init"], s3Env(bucket, "pg-primary"));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/^changed/m);
    expect(run.stdout).toMatch(/^ok +bucket +bucket '.+' exists$/m);
    expect(run.stdout).toMatch(/^ok +versioning +versioning already enabled$/m);
    expect(run.stdout).toMatch(/^ok +lifecycle +rules already in place/m);
  });

  it("keeps other rules, updates its own, and warns about a rule that expires current WAL", async () => {
    await s3().send(new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [{ ID: "someone-elses", Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: 30 } }] },
    }));
    const run = await walNative(["init", "--noncurrent-days", "14"], s3Env(bucket, "pg-primary"));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^changed +lifecycle +rules applied \(.*expire noncurrent versions after 14 d/m);
    expect(run.stdout).toMatch(/^warning +lifecycle +lifecycle rule 'someone-elses' expires current objects under '': it can delete WAL/m);
    const rules = (await s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
    expect(rules.map((rule) => rule.ID)).toEqual(expect.arrayContaining(["someone-elses", "wal-native-expire-noncurrent-versions"]));
    expect(rules.find((rule) => rule.ID?.includes("noncurrent"))?.NoncurrentVersionExpiration?.NoncurrentDays).toBe(14);
  });

  it("names a wrong secret as such, with exit 75 and no secret in the output", async () => {
    const secret = "definitely-wrong-secret-42";
    const run = await walNative(["init"], s3Env(bucket, "pg-primary", secret));
    expect(run.code).toBe(75);
    expect(run.stderr).toContain(`wal-native init: error: cannot check bucket '${bucket}': SignatureDoesNotMatch (HTTP 403): `);
    expect(run.stderr).toContain("wal-native init: hint: AWS_SECRET_ACCESS_KEY is not the secret of AWS_ACCESS_KEY_ID\n");
    expect(run.stdout + run.stderr).not.toContain(secret);
  });

  it("names an access key the storage does not know", async () => {
    const run = await walNative(["init"], { ...s3Env(bucket, "pg-primary"), AWS_ACCESS_KEY_ID: "no-such-user-walnative" });
    expect(run.code).toBe(75);
    expect(run.stderr).toContain(`cannot check bucket '${bucket}': InvalidAccessKeyId (HTTP 403): `);
    expect(run.stderr).toContain("hint: the storage does not know AWS_ACCESS_KEY_ID: create the user (mc admin user add) or fix the key\n");
  });

  it("names an endpoint where nothing answers", async () => {
    const run = await walNative(["init"], { ...s3Env(bucket, "pg-primary"), AWS_ENDPOINT: "http://127.0.0.1:9", WALG_S3_MAX_RETRIES: "0" });
    expect(run.code).toBe(75);
    expect(run.stderr).toMatch(/cannot check bucket '.+': .*ECONNREFUSED 127\.0\.0\.1:9/);
    expect(run.stderr).toContain("hint: nothing answers at http://127.0.0.1:9: check AWS_ENDPOINT (scheme, host, port) and that the storage runs\n");
  });

  it("refuses an invalid bucket name by S3's rules before any request (exit 78), not as 'HTTP 400 Bad Request'", async () => {
    // Nothing listens at this endpoint: a request would fail with ECONNREFUSED (75), not with 78.
    const closed = { AWS_ENDPOINT: "http://127.0.0.1:9", WALG_S3_MAX_RETRIES: "0" };
    const short = await walNative(["init"], { ...s3Env("ab", "pg-primary"), ...closed });
    expect(short.code, short.stderr).toBe(78);
    expect(short.stdout).toBe("");
    expect(short.stderr).toContain("wal-native init: error: WALG_S3_PREFIX: 'ab' is not a valid bucket name: it has 2 characters; a bucket name has 3 to 63\n");
    expect(short.stderr).toContain("hint: S3 and MinIO refuse such a name (their answer is a bare HTTP 400)");
    expect(short.stderr).not.toContain("ECONNREFUSED");
    const upper = await walNative(["init"], { ...s3Env("Wal_Archive", "pg-primary"), ...closed });
    expect(upper.code).toBe(78);
    expect(upper.stderr).toContain("'Wal_Archive' is not a valid bucket name: it has upper-case letters");
    // The same names against the real MinIO: what it would have answered.
    const real = await walNative(["init"], s3Env("ab", "pg-primary"));
    expect(real.code).toBe(78);
  });

  it("refuses a missing storage configuration with exit 78", async () => {
    const run = await walNative(["init"], {});
    expect(run.code).toBe(78);
    expect(run.stderr).toContain("WALG_S3_PREFIX: no storage configured");
  });

  it("refuses unknown options with exit 64", async () => {
    const run = await walNative(["init", "--noncurrent-days", "soon"], s3Env(bucket, "pg-primary"));
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("--noncurrent-days: 'soon' is not a whole number");
  });
});

describe("wal-native init on a WALG_FILE_PREFIX directory", () => {
  it("creates the directory, proves access, and leaves no probe behind; then reports it exists", async () => {
    const base = await mkdtemp(join(tmpdir(), "walnative-init-"));
    tempDirs.push(base);
    const root = join(base, "a", "b");
    const first = await walNative(["init"], { WALG_FILE_PREFIX: root });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^changed +directory +'.*\/a\/b' created/m);
    expect(first.stdout).toMatch(/^ok +round trip +wrote, read back and deleted/m);
    expect((await stat(root)).isDirectory()).toBe(true);
    expect(await readdir(join(root, "wal_native_init")).catch(() => [])).toEqual([]);
    // The second run goes through the runbook's script name.
    const second = await initScript({ WALG_FILE_PREFIX: root });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^ok +directory +'.*\/a\/b' exists$/m);
    expect(second.stdout).not.toMatch(/^changed/m);
  });
});
