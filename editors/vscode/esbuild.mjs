// Bundles the extension (and its vscode-free core, which the node tests import) into out/.
import * as fs from "node:fs";
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

// vscode-languageclient kills a server that outlives its `exit` with this script, which it looks for next to
// its own code; bundled, that is out/. Without it the kill fails silently and the server lingers.
fs.copyFileSync("node_modules/vscode-languageclient/lib/node/terminateProcess.sh", "out/terminateProcess.sh");
fs.chmodSync("out/terminateProcess.sh", 0o755);
