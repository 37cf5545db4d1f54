// The tests run the command as it is installed, bundled (`bundle/bin.js`): it is rebuilt first when any of its
// inputs changed since it was built, so that a stale bundle cannot make them pass or fail.
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

export default function setup(): void {
  const root = Path.resolve(__dirname, "../../..")
  ChildProcess.execFileSync(process.execPath, [Path.join(root, "scripts/bundle.mjs"), "--if-stale"], {
    cwd: root,
    stdio: "inherit"
  })
}
