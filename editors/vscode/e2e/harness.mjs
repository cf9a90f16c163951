// The code-server end-to-end harness: a real VS Code (code-server) with the .vsix installed through
// `--install-extension`, driven by playwright-core in Debian's chromium. Scenarios (scenarios/*.mjs) get a
// `Workbench` on a fresh window of their own workspace and use its helpers; every helper waits for what it
// needs and fails with a screenshot and the text that was on screen.
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as path from "node:path";

/** How long one helper waits for the workbench (a cold extension host and server start included). */
export const TIMEOUT = 60_000;

// Chromium, as root, in a machine without network: no sandbox, no GPU, nothing that phones home.
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

async function freePort() {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts code-server on 127.0.0.1 with a fresh profile (user data, extensions, config), authentication and
 * telemetry off, after installing the .vsix with `--install-extension`. `env` is the whole environment of
 * code-server and so of the extension host: the caller decides what PATH holds.
 */
export async function startCodeServer({ codeServer, vsix, work, env }) {
  const profile = {
    userData: path.join(work, "user-data"),
    extensions: path.join(work, "extensions"),
    config: path.join(work, "code-server.yaml"),
  };
  fs.mkdirSync(profile.userData, { recursive: true });
  fs.mkdirSync(profile.extensions, { recursive: true });
  fs.writeFileSync(profile.config, "auth: none\ncert: false\n");
  const common = ["--config", profile.config, "--user-data-dir", profile.userData, "--extensions-dir", profile.extensions];
  const installed = execFileSync(codeServer, [...common, "--install-extension", vsix, "--force"], { env, encoding: "utf8" });
  const port = await freePort();
  const log = path.join(work, "code-server.log");
  const logStream = fs.openSync(log, "w");
  const child = spawn(
    codeServer,
    [
      ...common,
      "--bind-addr",
      `127.0.0.1:${port}`,
      "--auth",
      "none",
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--disable-proxy",
      "--ignore-last-opened",
    ],
    { env, stdio: ["ignore", logStream, logStream], detached: true },
  );
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`code-server exited with ${child.exitCode}:\n${fs.readFileSync(log, "utf8")}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) {
        break;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() - started > TIMEOUT) {
      throw new Error(`code-server did not answer on ${url} within ${TIMEOUT} ms:\n${fs.readFileSync(log, "utf8")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    installed,
    extensionsDirectory: profile.extensions,
    userDataDirectory: profile.userData,
    /** Installs another .vsix into the profile: windows opened from now on run it. */
    installExtension(file) {
      execFileSync(codeServer, [...common, "--install-extension", file, "--force"], { env, encoding: "utf8" });
    },
    uninstallExtension(id) {
      execFileSync(codeServer, [...common, "--uninstall-extension", id], { env, encoding: "utf8" });
    },
    log,
    async stop() {
      // code-server runs the extension hosts and the language servers below it: end the whole group.
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        return;
      }
      for (let waited = 0; waited < 5000 && child.exitCode === null && child.signalCode === null; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    },
  };
}

/** Launches Debian's chromium through the playwright-core installed in `toolsDirectory`. */
export async function launchChromium(toolsDirectory, { executablePath = "/usr/bin/chromium", work }) {
  const require = createRequire(path.join(toolsDirectory, "package.json"));
  const { chromium } = require("playwright-core");
  return await chromium.launchPersistentContext(path.join(work, "chromium-profile"), {
    executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1400, height: 900 },
  });
}

const isMac = process.platform === "darwin";
const modifier = isMac ? "Meta" : "Control";

/** Every `.log` file under `directory` (none when it does not exist yet). */
function logFiles(directory) {
  const found = [];
  const walk = (current) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        walk(full);
      } else if (entry.name.endsWith(".log")) {
        found.push(full);
      }
    }
  };
  if (fs.existsSync(directory)) {
    walk(directory);
  }
  return found;
}

/** One VS Code window on one workspace folder, with the helpers scenarios use. */
export class Workbench {
  constructor(page, { name, screenshots, folder, earlierLogs }) {
    this.page = page;
    this.name = name;
    this.screenshots = screenshots;
    this.folder = folder;
    this.shots = 0;
    this.earlierLogs = earlierLogs;
  }

  /** Opens `folder` in a new page of `context` and waits for the workbench to be ready. */
  static async open(context, url, { name, screenshots, folder, userDataDirectory }) {
    // The log files of earlier windows are not this window's, however recently they were written to (a closed
    // window's extension host may still be writing its last lines when this one opens).
    const earlierLogs = new Set(logFiles(path.join(userDataDirectory, "logs")));
    const page = await context.newPage();
    const workbench = new Workbench(page, { name, screenshots, folder, earlierLogs });
    await page.goto(`${url}/?folder=${encodeURIComponent(folder)}`);
    await page.locator(".monaco-workbench").waitFor({ timeout: TIMEOUT });
    // The explorer shows the folder once the remote file system answered.
    await page.locator(".explorer-folders-view").waitFor({ timeout: TIMEOUT });
    return workbench;
  }

  /** Saves a screenshot as `<scenario>-<n>-<label>.png` in the screenshots folder. */
  async screenshot(label) {
    this.shots += 1;
    const file = path.join(this.screenshots, `${this.name}-${String(this.shots).padStart(2, "0")}-${label}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /**
   * Runs a command through the command palette by its title, as a person would. A command may open a picker
   * of its own in the same widget, so what is awaited is the command's row going away, not the widget.
   */
  async runCommand(title) {
    await this.page.keyboard.press("F1");
    const input = this.page.locator(".quick-input-widget input");
    await input.waitFor({ timeout: TIMEOUT });
    await input.fill(`>${title}`);
    const row = this.page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
    await row.waitFor({ timeout: TIMEOUT });
    await input.press("Enter");
    await row.waitFor({ state: "hidden", timeout: TIMEOUT });
  }

  /** Opens a file of the workspace with Quick Open and waits for its editor to have focus. */
  async openFile(relativePath) {
    await this.page.keyboard.press(`${modifier}+KeyP`);
    const input = this.page.locator(".quick-input-widget input");
    await input.waitFor({ timeout: TIMEOUT });
    await input.fill(relativePath);
    await this.page.locator(".quick-input-list .monaco-list-row", { hasText: path.basename(relativePath) }).first().waitFor({ timeout: TIMEOUT });
    await input.press("Enter");
    const tab = this.page.locator(".tabs-container .tab.active", { hasText: path.basename(relativePath) });
    await tab.waitFor({ timeout: TIMEOUT });
    await this.page.locator(".editor-instance .monaco-editor .view-lines").first().waitFor({ timeout: TIMEOUT });
  }

  /** Moves the cursor to a 1-based line and column with Go to Line. */
  async goTo(line, column) {
    await this.page.keyboard.press(`${modifier}+KeyG`);
    const input = this.page.locator(".quick-input-widget input");
    await input.waitFor({ timeout: TIMEOUT });
    // Go to Line is Quick Open with its `:` prefix.
    await input.fill(`:${line}:${column}`);
    await input.press("Enter");
    await this.page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: TIMEOUT });
  }

  /** Opens the Problems panel and waits for a row whose text contains `text`; returns that row's text. */
  async waitForProblem(text) {
    await this.runCommand("View: Focus Problems");
    const row = this.page.locator(".markers-panel .monaco-list-row", { hasText: text }).first();
    await row.waitFor({ timeout: TIMEOUT });
    return await row.innerText();
  }

  /** Every row of the Problems panel (opened first). */
  async problems() {
    await this.runCommand("View: Focus Problems");
    return await this.page.locator(".markers-panel .monaco-list-row").allInnerTexts();
  }

  /**
   * Triggers completion at the cursor (the editor has the focus after `openFile` and `goTo`) and returns the
   * labels of the suggestions shown.
   */
  async suggestions() {
    await this.page.keyboard.press("Control+Space");
    const widget = this.page.locator(".editor-widget.suggest-widget.visible");
    await widget.waitFor({ timeout: TIMEOUT });
    await widget.locator(".monaco-list-row").first().waitFor({ timeout: TIMEOUT });
    return await widget.locator(".monaco-list-row .label-name").allInnerTexts();
  }

  /**
   * Shows an output channel by name and returns its text as the view renders it: the view wraps long lines
   * and the DOM does not tell a wrap from a line end, so the rendered lines are joined with nothing between
   * them. Search the result with patterns that do not rely on line ends.
   */
  async outputChannel(channel, expected) {
    // The Output view is always there; its channel is chosen in the select box of the panel's title bar
    // (the "Show Output Channels" picker is registered late and is missing from a fresh window at times).
    await this.runCommand("Output: Focus on Output View");
    const select = this.page.locator("select.monaco-select-box", { has: this.page.locator("option", { hasText: channel }) });
    await select.first().waitFor({ timeout: TIMEOUT });
    await select.first().selectOption({ label: channel });
    const view = this.page.locator(".output-view .view-lines");
    await view.waitFor({ timeout: TIMEOUT });
    if (expected !== undefined) {
      await view.filter({ hasText: expected }).waitFor({ timeout: TIMEOUT });
    }
    return unrendered(await view.locator(".view-line").allInnerTexts()).join("");
  }

  /**
   * The whole text of a log output channel (one made with `{ log: true }`), read from the file VS Code
   * writes it to: the Output view renders only the lines scrolled into view. Each window has its own
   * extension host log folder: of the files made since this window opened, the newest is this window's.
   */
  logChannelText(userDataDirectory, channel) {
    const found = logFiles(path.join(userDataDirectory, "logs"))
      .filter((full) => path.basename(full) === `${channel}.log` && !this.earlierLogs.has(full))
      .map((full) => ({ full, modified: fs.statSync(full).mtimeMs }));
    found.sort((left, right) => right.modified - left.modified);
    return found.length > 0 ? fs.readFileSync(found[0].full, "utf8") : "";
  }

  /** Waits until the log channel's text satisfies `done` (given the text); returns the text. */
  async waitForLog(userDataDirectory, channel, what, done) {
    const started = Date.now();
    for (;;) {
      const text = this.logChannelText(userDataDirectory, channel);
      if (done(text)) {
        return text;
      }
      if (Date.now() - started > TIMEOUT) {
        throw new Error(`timed out waiting for ${what} in the ${channel} log:\n${text.split("\n").slice(-30).join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** The status bar item whose text contains `text` (a locator: it may be absent). */
  statusItem(text) {
    return this.page.locator(".part.statusbar .statusbar-item", { hasText: text });
  }

  /** Waits for a code lens of the active editor whose text contains `text`; returns its locator. */
  async codeLens(text) {
    const lens = this.page.locator(".editor-instance .monaco-editor .codelens-decoration a", { hasText: text }).first();
    await lens.waitFor({ timeout: TIMEOUT });
    return lens;
  }

  /** Waits for a notification toast whose text contains `text`; returns its locator. */
  async notification(text) {
    const toast = this.page.locator(".notifications-toasts .notification-toast", { hasText: text }).first();
    await toast.waitFor({ timeout: TIMEOUT });
    return toast;
  }

  /** The lines of the active editor that the workbench renders (those scrolled into view). */
  async editorLines() {
    return unrendered(await this.page.locator(".editor-instance .monaco-editor .view-lines").first().locator(".view-line").allInnerTexts());
  }
}

// Monaco renders spaces as non-breaking spaces; the tests compare with the text itself.
function unrendered(lines) {
  return lines.map((line) => line.replaceAll("\u00a0", " "));
}
