/**
 * The CLI imports only the subcommand a command line names (issue 14: startup), and a program
 * built with one subcommand behaves as the full one for it: same help, same errors.
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildProgram, commandsFor, VERSION } from "../../src/cli/main.js";
import { vmsa } from "./run.js";

const full = await buildProgram();
const names = full.commands.map((c) => c.name()).filter((n) => n !== "help");

describe("commandsFor", () => {
  it("names only the subcommand given, options before or after it", () => {
    expect(commandsFor(["translate", "--example", "linux-6.1-4k48", "ffff000000210000"])).toEqual(["translate"]);
    expect(commandsFor(["describe", "--granule", "4K", "0x3"])).toEqual(["describe"]);
    expect(commandsFor(["boot", "--help"])).toEqual(["boot"]);
  });

  it("loads no subcommand for a bare --version", () => {
    expect(commandsFor(["--version"])).toEqual([]);
    expect(commandsFor(["-V"])).toEqual([]);
  });

  it("loads every subcommand for top-level help, help CMD, no command and an unknown command", () => {
    expect(commandsFor([])).toBe("all");
    expect(commandsFor(["--help"])).toBe("all");
    expect(commandsFor(["--version", "--help"])).toBe("all");
    expect(commandsFor(["help", "dump"])).toBe("all");
    expect(commandsFor(["dumpp"])).toBe("all");
  });
});

describe("a program with one subcommand", () => {
  it.each(names)("%s has the same help as in the full program", async (name) => {
    const one = await buildProgram([name]);
    // The kernel module registers scenario, demo, boot and layout together; nothing else comes along.
    const loaded = one.commands.map((c) => c.name());
    expect(loaded).toContain(name);
    expect(loaded.length).toBeLessThanOrEqual(4);
    const a = one.commands.find((c) => c.name() === name);
    const b = full.commands.find((c) => c.name() === name);
    expect(a?.helpInformation()).toBe(b?.helpInformation());
  });

  it("--version prints the version with no subcommand loaded", async () => {
    const r = await vmsa("--version");
    expect(r).toEqual({ code: 0, out: "0.1.0\n", err: "" });
  });

  it("--version (answered before commander is loaded) prints package.json's version, as the full program's --version", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
    expect(full.version()).toBe(pkg.version);
    expect(await vmsa("-V")).toEqual({ code: 0, out: `${pkg.version}\n`, err: "" });
  });

  it("an unknown command still suggests the nearest name (every command loaded for it)", async () => {
    const r = await vmsa("dumpp");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command 'dumpp'.*dump/);
  });
});
