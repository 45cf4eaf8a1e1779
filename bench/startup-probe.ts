/**
 * Preloaded (`node --import`) into a CLI child by bench/startup.ts: when the process exits, writes
 * its whole CPU time (user and system microseconds, getrusage of the process) as one JSON line to
 * file descriptor 3, which the parent reads. Nothing else changes in the child.
 */
import { writeSync } from "node:fs";

process.on("exit", () => {
  const c = process.cpuUsage();
  try {
    writeSync(3, `${JSON.stringify({ user: c.user, system: c.system })}\n`);
  } catch {}
});
