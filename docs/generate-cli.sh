#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
# Prints docs/cli.md: the --help text of every angpix command, read from the built binary.
# usage, from the repository's root:
#   swift build -c release && bash docs/generate-cli.sh .build/release/angpix > docs/cli.md
# A test (DocsExamplesTests in Tests/AngpixCLITests) checks that docs/cli.md is this script's
# output for the current binary, so run it again after changing a command's options or help.
set -euo pipefail
bin=${1:-.build/release/angpix}
export COLUMNS=100   # ArgumentParser wraps the help to COLUMNS; fixed so the file does not depend on the terminal

# The names of the subcommands listed in a help text (read on stdin).
subcommands() {
  awk '/^SUBCOMMANDS:/ { s = 1; next } s && /^[^ ]/ { s = 0 } s && /^  [a-z]/ { print $1 }'
}

# The section of the command "angpix ARGS...", then those of its subcommands.
section() {
  local help sub
  help=$("$bin" "$@" --help)
  printf '## angpix%s\n\n```text\n%s\n```\n\n' "${*:+ $*}" "$help"
  for sub in $(printf '%s\n' "$help" | subcommands); do
    section "$@" "$sub"
  done
}

printf '# Command-line reference\n\n'
printf 'The `--help` text of every command, generated from the binary by `docs/generate-cli.sh`\n'
printf '(do not edit by hand). The guides to each command family are listed in the [README](../README.md).\n\n'
section
