/**
 * Mutation-testing targets (`npm run test:mutation -- <module>`): the source file Stryker mutates
 * and the unit tests that should notice a broken rule in it. Each module's vitest run executes only
 * these tests (vitest.config.ts reads the module from VMSA_MUTATION_MODULE), never the QEMU,
 * real-kernel, CLI or browser suites, so the score is what the unit suite alone catches.
 */

export interface MutationModule {
  /** Source file(s) to mutate, relative to the repository root. */
  readonly mutate: readonly string[];
  /** Unit-test globs that run against each mutant. */
  readonly tests: readonly string[];
}

export const MUTATION_MODULES = {
  granule: {
    mutate: ["src/arch/granule.ts"],
    tests: ["test/arch/**/*.test.ts", "test/walk/faults.test.ts"],
  },
  descriptor: {
    mutate: ["src/arch/descriptor.ts"],
    tests: ["test/arch/**/*.test.ts", "test/machine/bbm*.test.ts"],
  },
  rules: {
    mutate: ["src/machine/rules.ts"],
    tests: ["test/machine/rules*.test.ts", "test/scenario/schema.test.ts"],
  },
  bbm: {
    mutate: ["src/machine/bbm.ts"],
    tests: ["test/machine/bbm*.test.ts"],
  },
  prot: {
    mutate: ["src/kernel/prot.ts"],
    tests: ["test/kernel/prot*.test.ts", "test/kernel/mmu.test.ts"],
  },
  walker: {
    mutate: ["src/walk/walker.ts"],
    tests: ["test/walk/faults.test.ts", "test/walk/rules*.test.ts", "test/walk/hot-path.test.ts", "test/walk/walker*.test.ts"],
  },
  ptdump: {
    mutate: ["src/dump/ptdump.ts"],
    tests: ["test/dump/ptdump*.test.ts", "test/dump/layout.test.ts", "test/dump/shared-tables.test.ts", "test/kernel/geometry.test.ts"],
  },
} as const satisfies Record<string, MutationModule>;

export type MutationModuleName = keyof typeof MUTATION_MODULES;

export function isMutationModule(name: string): name is MutationModuleName {
  return Object.hasOwn(MUTATION_MODULES, name);
}
