// Just enough XML for S3's ListObjectsV2 pages and error documents: flat elements, entities, no CDATA
// (S3 and MinIO send neither CDATA nor nested elements of the same name in these answers).

export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
}

export interface ListPage {
  readonly objects: ListedObject[];
  /** Set only when the listing is truncated and S3 said where to go on. */
  readonly nextToken?: string;
}

export interface S3ErrorDocument {
  readonly code?: string;
  readonly message?: string;
}

export function parseListPage(xml: string): ListPage {
  const objects: ListedObject[] = [];
  for (const [, contents = ""] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const key = element(contents, "Key");
    if (key === undefined) continue;
    const modified = element(contents, "LastModified");
    objects.push({ key, size: Number(element(contents, "Size") ?? 0), lastModified: modified ? new Date(modified) : undefined });
  }
  // Contents are removed first: an object's own elements must not be read as the page's.
  const rest = xml.replace(/<Contents>[\s\S]*?<\/Contents>/g, "");
  const truncated = element(rest, "IsTruncated") === "true";
  const token = truncated ? element(rest, "NextContinuationToken") : undefined;
  return token ? { objects, nextToken: token } : { objects };
}

/** Code and Message of an <Error> document; empty when the body is not one. */
export function parseErrorDocument(xml: string): S3ErrorDocument {
  const error = /<Error>([\s\S]*?)<\/Error>/.exec(xml)?.[1];
  if (error === undefined) return {};
  return { code: element(error, "Code"), message: element(error, "Message") };
}

/** The text of the first <name>…</name> (or undefined); <name/> is "". */
function element(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}(?:\\s[^>]*)?(?:/>|>([^<]*)</${name}>)`).exec(xml);
  if (!match) return undefined;
  return decodeEntities(match[1] ?? "");
}

const NAMED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return NAMED[entity] ?? whole;
  });
}
