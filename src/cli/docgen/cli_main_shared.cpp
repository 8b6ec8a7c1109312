// The parts of src/cli/main.cpp that the command tree needs
// (add_global_options, report_error), compiled into conec-docgen.
//
// Why: conec_cli (the library shared by conec and conec-docgen) leaves out
// main.cpp because of its main(), yet build_app() calls add_global_options,
// which main.cpp defines. Copying those definitions here would let the
// documented global options drift from the real ones, so this file compiles
// the real main.cpp with its main() renamed instead.
//
// The declarations are made weak so that, once the definitions move into a
// conec_cli source (the proper fix, under way in app.cpp), that definition
// wins and this file only adds an unused renamed main: delete it then.
#include <cstdio>
#include <string>

#include "app.hpp"
#include "exit_codes.hpp"
#include "util/log.hpp"

namespace conec::cli {
__attribute__((weak)) void add_global_options(CLI::App &app, GlobalOptions &options);
__attribute__((weak)) int report_error(const std::string &message, int code);
} // namespace conec::cli

// Headers above are already included (#pragma once), so the rename touches
// main.cpp's own text only.
#define main conec_cli_main_unused_by_docgen
#include "../main.cpp"
#undef main
