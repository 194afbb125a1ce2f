// The restore wing's surface for operations commands: wal-native check --switch reads a segment back
// exactly as restore_command would (find the object, decode, verify header, size and checksum).
export { downloadVerified } from "./download.js";
