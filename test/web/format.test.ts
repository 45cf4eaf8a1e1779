/** Sizes in the UI read in ptdump's units (Linux arch/arm64/mm/ptdump.c: K M G T P E). */
import { describe, expect, it } from "vitest";
import { formatSize } from "../../src/arch/granule.js";
import { sizeText } from "../../web/src/lib/format.js";

describe("sizeText", () => {
  it("prints whole sizes exactly as the kernel's ptdump does", () => {
    // Sizes of kernel_page_tables.txt rows: 2M PMD, 64K PTE, 3264K PTE, 992M PMD, 511G PUD.
    for (const b of [2 * 2 ** 20, 64 * 2 ** 10, 3264 * 2 ** 10, 992 * 2 ** 20, 511 * 2 ** 30, 2 ** 30, 130560 * 2 ** 30, 512]) {
      expect(sizeText(b)).toBe(formatSize(b));
    }
  });
  it("does not print a zoomed window of 128 TiB less 896 MiB as 134216832M", () => {
    const b = 2 ** 47 - 896 * 2 ** 20;
    expect(formatSize(b)).toBe("134216832M");
    expect(sizeText(b)).toBe("≈128T");
    expect(sizeText(1536 * 2 ** 30)).toBe("1536G"); // ptdump prints this one as is
    expect(sizeText(5000)).toBe("≈4.9K");
  });
});
