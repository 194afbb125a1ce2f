// npm run docs:settings: writes docs/WALG-SETTINGS.md from the settings table.
import { writeFileSync } from "node:fs";
import { renderSettingsDoc } from "./walg-settings-doc.js";

writeFileSync(new URL("../docs/WALG-SETTINGS.md", import.meta.url), renderSettingsDoc());
console.log("wrote docs/WALG-SETTINGS.md");
