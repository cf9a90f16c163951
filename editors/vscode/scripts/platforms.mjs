// The platforms a .vsix can be made for, their Rust targets, and what an executable's header says it runs on,
// so a package never carries a server built for another platform.

/** VS Code's platform targets (`vsce package --target`) and the Rust target whose binary each one carries. */
export const RUST_TARGETS = {
  "linux-x64": "x86_64-unknown-linux-gnu",
  "linux-arm64": "aarch64-unknown-linux-gnu",
  "alpine-x64": "x86_64-unknown-linux-musl",
  "alpine-arm64": "aarch64-unknown-linux-musl",
  "darwin-x64": "x86_64-apple-darwin",
  "darwin-arm64": "aarch64-apple-darwin",
  "win32-x64": "x86_64-pc-windows-msvc",
  "win32-arm64": "aarch64-pc-windows-msvc",
};

/** The VS Code target of the machine this runs on, e.g. `linux-x64`. */
export function hostTarget(platform = process.platform, arch = process.arch) {
  return `${platform}-${arch}`;
}

/** The file name of the server for a VS Code target. */
export function serverFileName(target) {
  return target.startsWith("win32-") ? "policy-lsp.exe" : "policy-lsp";
}

/**
 * What an executable's header says: `{ os, arch }` with os `linux` (ELF), `darwin` (Mach-O) or `win32` (PE)
 * and arch `x64` or `arm64`; a universal Mach-O gives `arch: "universal"`. Anything else gives `undefined`.
 */
export function executablePlatform(bytes) {
  if (bytes.length < 64) {
    return undefined;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // ELF: e_machine is a little-endian u16 at 18 on the little-endian targets we build.
  if (view.getUint32(0, false) === 0x7f454c46) {
    const machine = { 0x3e: "x64", 0xb7: "arm64" }[view.getUint16(18, true)];
    return machine && { os: "linux", arch: machine };
  }
  // Mach-O 64-bit, little-endian: cputype at 4.
  if (view.getUint32(0, true) === 0xfeedfacf) {
    const machine = { 0x01000007: "x64", 0x0100000c: "arm64" }[view.getUint32(4, true)];
    return machine && { os: "darwin", arch: machine };
  }
  if (view.getUint32(0, false) === 0xcafebabe) {
    return { os: "darwin", arch: "universal" };
  }
  // PE: "MZ", then the offset of the "PE\0\0" header at 0x3c, the machine right after it.
  if (view.getUint16(0, false) === 0x4d5a) {
    const header = view.getUint32(0x3c, true);
    if (header + 6 > bytes.length || view.getUint32(header, false) !== 0x50450000) {
      return undefined;
    }
    const machine = { 0x8664: "x64", 0xaa64: "arm64" }[view.getUint16(header + 4, true)];
    return machine && { os: "win32", arch: machine };
  }
  return undefined;
}

/** Why an executable cannot go into a .vsix for a target, or `undefined` when it fits. */
export function mismatch(target, bytes) {
  const found = executablePlatform(bytes);
  if (found === undefined) {
    return "it is not an ELF, Mach-O or PE executable for x64 or arm64";
  }
  const [platform, arch] = target.split("-");
  const os = platform === "alpine" ? "linux" : platform;
  if (found.os !== os || (found.arch !== arch && found.arch !== "universal")) {
    return `it is a ${found.os}-${found.arch} executable, not ${os}-${arch}`;
  }
  return undefined;
}
