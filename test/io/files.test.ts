/**
 * The one atomic-write helper: on any failure the temporary file is gone and the error names the
 * file and the reason (issue 10 §3: no `*.tmp` left behind).
 */
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  return {
    ...real,
    renameSync: (from: fs.PathLike, to: fs.PathLike) => {
      if (String(to).includes("rename-fails")) throw Object.assign(new Error("cross-device link"), { code: "EXDEV" });
      real.renameSync(from, to);
    },
  };
});

const { writeFileAtomic, readTextFile, FileError } = await import("../../src/io/files.js");
const dir = fs.mkdtempSync(join(tmpdir(), "vmsa-io-"));

describe("writeFileAtomic", () => {
  it("writes the file whole", () => {
    const f = join(dir, "ok.txt");
    writeFileAtomic(f, "data\n");
    expect(fs.readFileSync(f, "utf8")).toBe("data\n");
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("removes the temporary file when the rename fails, and names the file and the reason", () => {
    const f = join(dir, "rename-fails.txt");
    expect(() => writeFileAtomic(f, "x", "--output")).toThrow(FileError);
    expect(() => writeFileAtomic(f, "x", "--output")).toThrow(/^--output .*rename-fails\.txt: cannot write \(EXDEV: cross-device link\)$/);
    expect(fs.readdirSync(dir).filter((n) => n.includes("rename-fails"))).toEqual([]);
  });

  it("creates missing directories when asked", () => {
    const f = join(dir, "a", "b", "c.yaml");
    writeFileAtomic(f, "x", "--export", { mkdir: true });
    expect(fs.readFileSync(f, "utf8")).toBe("x");
  });
});

describe("readTextFile", () => {
  it("refuses invalid UTF-8 in one line", () => {
    const f = join(dir, "latin1.txt");
    fs.writeFileSync(f, Buffer.from([0x41, 0xe9, 0x42]));
    expect(() => readTextFile(f, "--markers")).toThrow(/--markers .*latin1\.txt: not a text file \(invalid UTF-8\)/);
  });
});
