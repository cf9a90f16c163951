// Bundles the extension (and its vscode-free core, which the node tests import) into out/.
import * as esbuild from "esbuild";

await esbuild.build({
  entryPoints: ["src/extension.ts", "src/core.ts"],
  outdir: "out",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node18",
  // VS Code provides the `vscode` module at run time.
  external: ["vscode"],
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
