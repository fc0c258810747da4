#!/usr/bin/env node
// Scaffolds a package from the template: `node tooling/scripts/new-package.mjs <name> "<description>" [dep ...]`.
// Writes package.json, tsconfig.json, tsup.config.ts, vitest.config.ts and CHANGELOG.md;
// the package's src/mod.ts, README.md and tests are the author's to write.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [name, description, ...deps] = process.argv.slice(2);
if (!name || !description) {
  console.error('usage: new-package.mjs <name> "<description>" [workspace-dep ...]');
  process.exit(2);
}
const dir = join(new URL("../..", import.meta.url).pathname, "packages", name);
if (existsSync(join(dir, "package.json"))) {
  console.error(`packages/${name} exists already`);
  process.exit(2);
}
mkdirSync(join(dir, "src"), { recursive: true });
const full = `@dmasim/${name}`;
const pkg = {
  name: full,
  version: "0.1.0",
  description,
  license: "MIT",
  type: "module",
  sideEffects: false,
  engines: { node: ">=20.19" },
  exports: {
    ".": { "@dmasim/source": "./src/mod.ts", types: "./dist/mod.d.ts", import: "./dist/mod.js" },
    "./package.json": "./package.json",
  },
  main: "./dist/mod.js",
  types: "./dist/mod.d.ts",
  files: ["dist", "README.md", "CHANGELOG.md"],
  publishConfig: {
    access: "public",
    exports: {
      ".": { types: "./dist/mod.d.ts", import: "./dist/mod.js" },
      "./package.json": "./package.json",
    },
  },
  repository: {
    type: "git",
    url: "git+https://example.invalid/dmasim.git",
    directory: `packages/${name}`,
  },
  scripts: { build: "tsup", typecheck: "tsc -p tsconfig.json", test: "vitest run" },
  dependencies: Object.fromEntries(deps.map((d) => [`@dmasim/${d}`, "workspace:*"])),
  devDependencies: {
    "@dmasim/testing": "workspace:*",
    "@dmasim/tsconfig": "workspace:*",
    "@dmasim/vitest-config": "workspace:*",
  },
};
writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
writeFileSync(
  join(dir, "tsconfig.json"),
  `{ "extends": "@dmasim/tsconfig/base.json", "include": ["src", "*.config.ts"] }\n`,
);
writeFileSync(
  join(dir, "tsup.config.ts"),
  `import { defineConfig } from "tsup";\n\nexport default defineConfig({\n  entry: ["src/mod.ts"],\n  format: ["esm"],\n  dts: true,\n  clean: true,\n  sourcemap: true,\n  target: "node20",\n  removeNodeProtocol: false,\n});\n`,
);
writeFileSync(
  join(dir, "vitest.config.ts"),
  `import { config } from "@dmasim/vitest-config";\n\nexport default config();\n`,
);
writeFileSync(join(dir, "CHANGELOG.md"), `# ${full}\n`);
console.log(`created packages/${name}`);
