/** Scenario stepper: waits for the machine model and scenario runner (src/machine, src/scenario). */
export function Scenario() {
  return (
    <section id="scenario">
      <h2>Scenario stepper</h2>
      <p id="scenario-missing">
        The scenario runner (src/scenario) is not part of this build yet. When it lands, this view loads a scenario, steps it forward and
        back, and shows each CPU's registers and may-held TLB entries with the violating step highlighted.
      </p>
    </section>
  );
}
