// A path that can be stat'ed (file or directory); any error counts as absent.
import { stat } from "node:fs/promises";

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
