#pragma once
// The image verbs of `ee` (image manifest, image measure), in their own file like the VM verbs:
// ee.cpp registers them and runs the one chosen.
#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

struct ImageCommands;

/// Adds `ee image manifest` and `ee image measure` to `app`.
std::shared_ptr<ImageCommands> add_image_commands(CLI::App& app);

/// Runs the verb the command line chose, if it is one of these; its exit code.
std::optional<int> run_image_command(ImageCommands const& commands);
