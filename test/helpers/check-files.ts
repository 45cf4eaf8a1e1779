/** `vmsa check` in-process: exit status and what it wrote to stdout and stderr. */
import { checkFiles } from "../../src/cli/check.js";

export function checkCapture(files: string[], opts: Parameters<typeof checkFiles>[1] = {}, now?: () => number) {
  let out = "";
  let err = "";
  const code = checkFiles(
    files,
    opts,
    (s) => {
      out += s;
    },
    (s) => {
      err += s;
    },
    now,
  );
  return { code, out, err };
}
