/**
 * Real snappy data for tests from an encoder independent of the decoder vmsa uses (snappyjs):
 * Debian's python3-snappy, whose `snappy.compress` is Google's libsnappy writing the raw block
 * format (uncompressed length as a varint, then literal/copy elements) that makedumpfile -p and
 * QEMU's kdump-snappy store per page. One python process compresses every page at once.
 *
 * Debian's package installs into the system interpreter (/usr/bin/python3), which a pyenv or
 * venv `python3` earlier in PATH would not see, so that one is preferred when it exists.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

// stdin and stdout: records of a 4-byte little-endian length, then that many bytes.
const SCRIPT = `
import snappy, struct, sys
data = sys.stdin.buffer.read()
out = []
p = 0
while p < len(data):
    (n,) = struct.unpack_from("<I", data, p)
    block = snappy.compress(bytes(data[p + 4 : p + 4 + n]))
    out.append(struct.pack("<I", len(block)))
    out.append(block)
    p += 4 + n
sys.stdout.buffer.write(b"".join(out))
`;

/** Why python3-snappy cannot be used here, or undefined when it can. */
export function pythonSnappyMissing(): string | undefined {
  try {
    execFileSync(PYTHON, ["-c", "import snappy; snappy.compress(b'x')"], { stdio: "ignore" });
    return undefined;
  } catch {
    return `${PYTHON} cannot import snappy (Debian package python3-snappy)`;
  }
}

/** The raw snappy block of each page, in order, from one python3-snappy process. */
export function pythonSnappyCompress(pages: readonly Uint8Array[]): Uint8Array[] {
  const input = Buffer.concat(
    pages.flatMap((pg) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(pg.length, 0);
      return [len, Buffer.from(pg.buffer, pg.byteOffset, pg.byteLength)];
    }),
  );
  const out = execFileSync(PYTHON, ["-c", SCRIPT], { input, maxBuffer: 1 << 30 });
  const blocks: Uint8Array[] = [];
  let p = 0;
  while (p < out.length) {
    const n = out.readUInt32LE(p);
    blocks.push(new Uint8Array(out.subarray(p + 4, p + 4 + n)));
    p += 4 + n;
  }
  if (blocks.length !== pages.length) throw new Error(`python3-snappy gave ${blocks.length} blocks for ${pages.length} pages`);
  return blocks;
}
