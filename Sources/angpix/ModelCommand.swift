// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix model`: atomic models (PDB, PDBx/mmCIF, plain or gzip-compressed).

import ArgumentParser

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect atomic models (PDB, mmCIF, plain or .gz).",
        discussion: """
        Example:
          angpix model info 1orc.pdb
        """,
        subcommands: [ModelInfoCommand.self]
    )
}
