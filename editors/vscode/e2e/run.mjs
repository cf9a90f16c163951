// Runs the code-server scenarios against a .vsix: code-server from the tools folder, the extension installed
// with --install-extension, Debian's chromium driven by playwright-core. Each scenarios/*.mjs file is one
// scenario: it exports `description` and `run(workbench, { folder, extensionsDirectory, userDataDirectory, ... })`, and may
// export `prepare(folder, { work, installExtension, uninstallExtension })` to change its workspace (a fresh copy of
// editors/fixtures) or the installed extensions before the window opens.
// Prints one PASS/FAIL line per scenario and saves screenshots (each scenario's own, and one at a failure).
//
//   node e2e/run.mjs --tools DIR --vsix FILE --screenshots DIR [--chromium /usr/bin/chromium] [SCENARIO...]
//
// code-server runs with PATH holding only its Node.js and the system directories: nothing named policy-lsp
// may be on it, so the extension must use the server it carries.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { Workbench, launchChromium, startCodeServer } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, "..", "..", "fixtures");

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tools: { type: "string" },
    vsix: { type: "string" },
    screenshots: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
for (const option of ["tools", "vsix", "screenshots"]) {
  if (values[option] === undefined) {
    console.error(`usage: run.mjs --tools DIR --vsix FILE --screenshots DIR [SCENARIO...] (missing --${option})`);
    process.exit(2);
  }
}
const tools = path.resolve(values.tools);
const codeServer = path.join(tools, "node_modules", ".bin", "code-server");
const screenshots = path.resolve(values.screenshots);
fs.mkdirSync(screenshots, { recursive: true });

/** PATH for code-server: the Node.js it runs on and the system directories, none holding a policy-lsp. */
function isolatedPath() {
  const directories = [path.dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"];
  for (const directory of directories) {
    for (const name of ["policy-lsp", "policy-lsp.exe"]) {
      if (fs.existsSync(path.join(directory, name))) {
        throw new Error(`${path.join(directory, name)} exists: the test must run with no policy-lsp on PATH`);
      }
    }
  }
  return directories.join(path.delimiter);
}

const scenarioDirectory = path.join(here, "scenarios");
const scenarioFiles = fs
  .readdirSync(scenarioDirectory)
  .filter((file) => file.endsWith(".mjs"))
  .filter((file) => positionals.length === 0 || positionals.includes(path.basename(file, ".mjs")))
  .sort();
if (scenarioFiles.length === 0) {
  console.error(`no scenario matches ${positionals.join(", ")}`);
  process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "policy-lsp-code-server-"));
let failed = 0;
const started = Date.now();
let server;
let browser;
try {
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  // A home of its own: code-server and VS Code write their config and caches there, not in the user's.
  const env = {
    PATH: isolatedPath(),
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, ".config"),
    XDG_DATA_HOME: path.join(home, ".local", "share"),
    XDG_CACHE_HOME: path.join(home, ".cache"),
    LANG: "C.UTF-8",
    // The extension gallery on a closed loopback port: nothing leaves the machine, and lookups fail at once.
    EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: "http://127.0.0.1:9/gallery", itemUrl: "http://127.0.0.1:9/item" }),
  };
  server = await startCodeServer({ codeServer, vsix: path.resolve(values.vsix), work, env });
  console.log(server.installed.trim());
  console.log(`code-server ready at ${server.url} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  browser = await launchChromium(tools, { executablePath: values.chromium, work });
  for (const file of scenarioFiles) {
    const name = path.basename(file, ".mjs");
    const scenario = await import(pathToFileURL(path.join(scenarioDirectory, file)).href);
    const folder = path.join(work, "workspaces", name);
    fs.cpSync(fixtures, folder, { recursive: true });
    const scenarioStart = Date.now();
    let workbench;
    try {
      await scenario.prepare?.(folder, { work, installExtension: server.installExtension, uninstallExtension: server.uninstallExtension });
      workbench = await Workbench.open(browser, server.url, { name, screenshots, folder, userDataDirectory: server.userDataDirectory });
      await scenario.run(workbench, {
        folder,
        extensionsDirectory: server.extensionsDirectory,
        userDataDirectory: server.userDataDirectory,
        uninstallExtension: server.uninstallExtension,
      });
      console.log(`PASS code-server: ${scenario.description} (${((Date.now() - scenarioStart) / 1000).toFixed(1)} s)`);
    } catch (error) {
      failed += 1;
      const shot = await workbench?.screenshot("failure").catch(() => undefined);
      console.log(`FAIL code-server: ${scenario.description}: ${error.stack ?? error}${shot ? `\n    screenshot: ${shot}` : ""}`);
    } finally {
      await workbench?.page.close().catch(() => undefined);
    }
  }
} catch (error) {
  failed += 1;
  console.log(`FAIL code-server: the harness could not run: ${error.stack ?? error}`);
} finally {
  await browser?.close().catch(() => undefined);
  await server?.stop();
  if (failed > 0 && server !== undefined) {
    console.log(`code-server log (${server.log}):\n${fs.readFileSync(server.log, "utf8").split("\n").slice(-40).join("\n")}`);
  }
  fs.rmSync(work, { recursive: true, force: true });
  console.log(`code-server scenarios done in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${screenshots}`);
}
process.exit(failed > 0 ? 1 : 0);
