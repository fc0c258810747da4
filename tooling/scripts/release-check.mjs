#!/usr/bin/env node
// The proof that every public package is consumed on its own: build, lint the
// package shape (publint, @arethetypeswrong/cli), pack each one, install the
// tarballs into a throwaway consumer outside the workspace, import every entry
// with plain Node and type-check a consumer file with tsc.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(new URL("../..", import.meta.url).pathname);
const bin = (name) => join(root, "node_modules", ".bin", name);
const run = (cmd, args, opts = {}) => {
  console.log(`$ ${[cmd, ...args].join(" ")}${opts.cwd ? `   (in ${opts.cwd})` : ""}`);
  execFileSync(cmd, args, { stdio: "inherit", ...opts });
};

const pkgs = readdirSync(join(root, "packages"))
  .map((dir) => ({
    dir: join(root, "packages", dir),
    json: JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8")),
  }))
  .filter((p) => !p.json.private);
if (pkgs.length === 0) {
  console.log("release:check: no public packages yet");
  process.exit(0);
}

run("pnpm", ["turbo", "run", "build", ...pkgs.flatMap((p) => ["--filter", p.json.name])], {
  cwd: root,
});

const work = mkdtempSync(join(tmpdir(), "dmasim-release-"));
try {
  const tarballs = {};
  for (const p of pkgs) {
    run(bin("publint"), ["--strict"], { cwd: p.dir });
    run("pnpm", ["pack", "--pack-destination", work], { cwd: p.dir });
    const file = readdirSync(work).find(
      (f) => f.startsWith(p.json.name.replace("@", "").replace("/", "-")) && f.endsWith(".tgz"),
    );
    if (!file) throw new Error(`no tarball for ${p.json.name}`);
    tarballs[p.json.name] = join(work, file);
    // ESM-only packages: node16 from a CJS importer cannot require() them, which attw reports; skip that one resolution.
    run(bin("attw"), [tarballs[p.json.name], "--profile", "esm-only"], { cwd: p.dir });
  }

  const consumer = join(work, "consumer");
  execFileSync("mkdir", ["-p", consumer]);
  const deps = Object.fromEntries(Object.entries(tarballs).map(([n, f]) => [n, `file:${f}`]));
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify(
      {
        name: "dmasim-consumer",
        private: true,
        type: "module",
        dependencies: deps,
        overrides: deps,
      },
      null,
      2,
    ),
  );
  run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], {
    cwd: consumer,
  });

  const names = Object.keys(tarballs);
  const imports = names.map((n, i) => `import * as m${i} from "${n}";`).join("\n");
  writeFileSync(
    join(consumer, "check.mjs"),
    `${imports}\nconst mods = { ${names.map((n, i) => `"${n}": m${i}`).join(", ")} };\nfor (const [n, m] of Object.entries(mods)) {\n  const keys = Object.keys(m);\n  if (keys.length === 0) throw new Error(n + " exports nothing");\n  console.log("imported " + n + ": " + keys.length + " exports");\n}\n`,
  );
  run("node", ["check.mjs"], { cwd: consumer });

  writeFileSync(
    join(consumer, "consumer.ts"),
    `${names.map((n, i) => `import type * as T${i} from "${n}";`).join("\n")}\n${names
      .map((_n, i) => `export type Check${i} = keyof typeof T${i};`)
      .join(
        "\n",
      )}\n${imports.replaceAll(".mjs", "")}\nexport const all = [${names.map((_, i) => `m${i}`).join(", ")}];\n`,
  );
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: [],
        },
        files: ["consumer.ts"],
      },
      null,
      2,
    ),
  );
  run("node", [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], {
    cwd: consumer,
  });
  console.log(
    `release:check: ${names.length} packages packed, installed, imported and type-checked outside the workspace`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
