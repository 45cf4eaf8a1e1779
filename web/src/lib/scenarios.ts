/**
 * The shipped example scenarios (examples/scenarios/*.yaml, then the litmus tests of examples/litmus), bundled into the web build as text
 * so the stepper works on a static host with no server.
 */
const FILES = import.meta.glob("../../../examples/scenarios/*.yaml", { query: "?raw", import: "default", eager: true }) as Record<
  string,
  string
>;
/** examples/litmus: run on the litmus model (the checker view), named `litmus/NAME`. */
const LITMUS = import.meta.glob("../../../examples/litmus/*.yaml", { query: "?raw", import: "default", eager: true }) as Record<
  string,
  string
>;

export interface ExampleScenario {
  readonly name: string;
  readonly file: string;
  readonly text: string;
}

export const EXAMPLE_SCENARIOS: readonly ExampleScenario[] = Object.entries(FILES)
  .map(([path, text]) => {
    const file = path.slice(path.lastIndexOf("/") + 1);
    return { name: file.replace(/\.ya?ml$/, ""), file: `examples/scenarios/${file}`, text };
  })
  .sort((a, b) => a.name.localeCompare(b.name))
  .concat(
    Object.entries(LITMUS)
      .map(([path, text]) => {
        const file = path.slice(path.lastIndexOf("/") + 1);
        return { name: `litmus/${file.replace(/\.ya?ml$/, "")}`, file: `examples/litmus/${file}`, text };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
  );

export function exampleScenario(name: string): ExampleScenario | undefined {
  return EXAMPLE_SCENARIOS.find((s) => s.name === name);
}
