/** `vmsa --help` and every subcommand's help are complete and show an example (issue 2, CLI). */
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { vmsa } from "./run.js";

const commands = (await buildProgram()).commands.map((c) => c.name()).filter((n) => n !== "help");

describe("help", () => {
  it("lists every command at the top level", async () => {
    const r = await vmsa("--help");
    expect(r.code).toBe(0);
    for (const c of commands) expect(r.out).toMatch(new RegExp(`^  ${c}\\b`, "m"));
    expect(r.out).toMatch(/Examples:\n {2}\$ vmsa /);
  });

  it.each(commands)("%s --help shows its options and an example", async (c) => {
    const r = await vmsa(c, "--help");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^Usage: vmsa ${c}`, "m"));
    expect(r.out).toMatch(/Examples?:\n(?: {2}\$ .+\n)+/);
  });
});
