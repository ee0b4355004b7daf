// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix map`: MRC maps and particle stacks — inspect and validate them (info), fix the header's
// pixel size (set-pixel-size), bring them to another pixel size and box exactly as
// relion_image_handler --rescale_angpix / --new_box does (rescale).

import ArgumentParser

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Inspect MRC maps and stacks, fix their pixel size, rescale them.",
        discussion: """
        Example:
          angpix map info run_class001.mrc
          angpix map set-pixel-size run_class001.mrc --angpix 0.98 -o class001_098.mrc
          angpix map rescale run_class001.mrc --angpix 1.2 --box 200 -o class001_12.mrc
        """,
        subcommands: [MapInfoCommand.self, MapSetPixelSizeCommand.self, MapRescaleCommand.self]
    )
}
