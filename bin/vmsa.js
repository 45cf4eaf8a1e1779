#!/usr/bin/env node
import { main } from "../dist/src/cli/main.js";

// A closed pipe (`vmsa dump … | head`) ends the output quietly, like any Unix filter.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
