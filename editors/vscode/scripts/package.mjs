// Packages the extension into a .vsix: universal by default (the server is looked up on PATH), or with
// `--bundled` a platform-specific one carrying the server as server/policy-lsp, the way rust-analyzer ships.
//
//   node scripts/package.mjs [--out FILE]                                          (npm run package)
//   node scripts/package.mjs --bundled [--target linux-arm64] [--server PATH] [--out FILE]   (npm run package:bundled)
//
// Without --server, the bundled package takes the release build of this repository for the target
// (target/release/policy-lsp for this machine, target/<rust-target>/release/policy-lsp for another), and runs
// `cargo build --release` first when it is not there. The server's header must match the target.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

import { RUST_TARGETS, hostTarget, mismatch, serverFileName } from "./platforms.mjs";

const extensionRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
// `npm run` starts scripts in the package's folder; paths on the command line are the caller's.
const callerDirectory = process.env.INIT_CWD ?? process.cwd();
const repositoryRoot = path.resolve(extensionRoot, "..", "..");
const serverDirectory = path.join(extensionRoot, "server");

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    bundled: { type: "boolean", default: false },
    target: { type: "string" },
    server: { type: "string" },
    out: { type: "string" },
  },
});
if (!values.bundled && (values.target !== undefined || values.server !== undefined)) {
  fail("--target and --server need --bundled");
}
const target = values.target ?? hostTarget();
if (values.bundled && !(target in RUST_TARGETS)) {
  fail(`unknown target ${target}; one of ${Object.keys(RUST_TARGETS).join(", ")}`);
}

/** The release build of this repository for the target, built when it is missing. */
function releaseBuild() {
  const targetDirectory = process.env.CARGO_TARGET_DIR ?? path.join(repositoryRoot, "target");
  const native = target === hostTarget();
  const rustTarget = RUST_TARGETS[target];
  const binary = path.join(targetDirectory, ...(native ? [] : [rustTarget]), "release", serverFileName(target));
  if (!fs.existsSync(binary)) {
    const args = ["build", "--release", "--locked", "--bin", "policy-lsp", ...(native ? [] : ["--target", rustTarget])];
    console.log(`package: ${binary} is missing; running cargo ${args.join(" ")}`);
    execFileSync("cargo", args, { cwd: repositoryRoot, stdio: "inherit" });
  }
  return binary;
}

function run(command, args) {
  execFileSync(command, args, { cwd: extensionRoot, stdio: "inherit", shell: process.platform === "win32" });
}

// The server directory only ever holds the copy of the package being made: a universal package carries none.
fs.rmSync(serverDirectory, { recursive: true, force: true });
if (values.bundled) {
  const server = values.server !== undefined ? path.resolve(callerDirectory, values.server) : releaseBuild();
  const bytes = fs.readFileSync(server);
  const wrong = mismatch(target, bytes);
  if (wrong !== undefined) {
    fail(`${server} cannot go into a ${target} package: ${wrong}`);
  }
  fs.mkdirSync(serverDirectory);
  const copy = path.join(serverDirectory, serverFileName(target));
  fs.writeFileSync(copy, bytes);
  fs.chmodSync(copy, 0o755);
}
// The Marketplace shows the licence of the package; the repository's is the one that applies.
fs.copyFileSync(path.join(repositoryRoot, "LICENSE"), path.join(extensionRoot, "LICENSE"));

const version = JSON.parse(fs.readFileSync(path.join(extensionRoot, "package.json"), "utf8")).version;
const out =
  values.out !== undefined
    ? path.resolve(callerDirectory, values.out)
    : path.join(extensionRoot, values.bundled ? `policy-lsp-${target}-${version}.vsix` : `policy-lsp-${version}.vsix`);
const vsce = path.join(extensionRoot, "node_modules", ".bin", process.platform === "win32" ? "vsce.cmd" : "vsce");
try {
  // vsce runs the `vscode:prepublish` script (esbuild) before it packs.
  run(vsce, ["package", "--no-dependencies", "--out", out, ...(values.bundled ? ["--target", target] : [])]);
} finally {
  fs.rmSync(serverDirectory, { recursive: true, force: true });
}
console.log(`package: wrote ${out}`);
