// The simulator has one flag table (`@genesys-llm/simulator/Flags`); its bin's help and `genesys-llm simulator
// --help` are both derived from it and must list the same flags with the same words.
import { assert, describe, it } from "@effect/vitest"
import * as SimulatorFlags from "@genesys-llm/simulator/Flags"
import * as Commands from "../src/internal/commands.js"
import * as Help from "../src/internal/help.js"

/** The flags a help lists (`--name VALUE` → its description, continuation lines joined, spaces collapsed). */
const flagsOfHelp = (help: string): ReadonlyMap<string, string> => {
  const described = new Map<string, string>()
  let current: string | undefined
  for (const line of help.split("\n")) {
    const flag = /^ {2}(--[a-z-]+(?: [A-Z]+)?) {2,}(.*)$/.exec(line)
    if (flag !== null) {
      current = flag[1]
      described.set(current, flag[2])
    } else if (current !== undefined && /^ {4,}\S/.test(line)) {
      described.set(current, `${described.get(current)} ${line.trim()}`)
    } else {
      current = undefined
    }
  }
  return new Map([...described].map(([flag, text]) => [flag, text.replace(/\s+/g, " ").trim()]))
}

describe("the simulator's flags", () => {
  const table = new Map(
    Object.values(SimulatorFlags.flags).map((flag: SimulatorFlags.Flag) => [
      `--${flag.name} ${flag.value}`,
      flag.description
    ])
  )

  it("the CLI's simulator command has exactly the table's flags", () => {
    assert.deepStrictEqual(Object.keys(Commands.simulator.flags), Object.keys(SimulatorFlags.flags))
  })

  it("both helps list every flag of the table with the same description", () => {
    const bin = flagsOfHelp(SimulatorFlags.usage)
    const cli = flagsOfHelp(Help.render(["genesys-llm", "simulator"], Commands.simulator))
    assert.isAtLeast(table.size, 15)
    assert.deepStrictEqual(new Map([...bin].filter(([flag]) => flag !== "--help")), table)
    assert.deepStrictEqual(cli, table)
    const collapsed = (text: string) => text.replace(/\s+/g, " ")
    assert.include(collapsed(Help.render(["genesys-llm", "simulator"], Commands.simulator)), SimulatorFlags.summary)
    assert.include(collapsed(SimulatorFlags.usage), SimulatorFlags.summary)
  })
})
