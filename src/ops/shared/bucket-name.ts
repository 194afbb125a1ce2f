// S3's naming rules for buckets, checked before any request: a name S3 (or MinIO) refuses comes back as a
// bare "HTTP 400 Bad Request" to a HEAD, which says nothing about the name.
// Rules: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (general purpose
// buckets); MinIO applies the same, and also refuses a period next to a hyphen.

/** Why S3 would refuse this bucket name, or undefined when it is valid. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `it has ${name.length} character${name.length === 1 ? "" : "s"}; a bucket name has 3 to 63`;
  const bad = /[^a-z0-9.-]/.exec(name)?.[0];
  if (bad !== undefined) {
    return /[A-Z]/.test(bad) ? "it has upper-case letters; a bucket name has lower-case letters, digits, '.' and '-' only"
      : `it contains '${bad}'; a bucket name has lower-case letters, digits, '.' and '-' only`;
  }
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return "it must begin and end with a letter or a digit";
  if (name.includes("..")) return "it has two periods in a row";
  if (name.includes(".-") || name.includes("-.")) return "it has a period next to a hyphen";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "it is written like an IP address";
  const prefix = ["xn--", "sthree-", "amzn-s3-demo-"].find((reserved) => name.startsWith(reserved));
  if (prefix) return `it begins with '${prefix}', which S3 reserves`;
  const suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].find((reserved) => name.endsWith(reserved));
  if (suffix) return `it ends with '${suffix}', which S3 reserves`;
  return undefined;
}
