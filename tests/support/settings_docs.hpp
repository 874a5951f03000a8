#pragma once
// Checks a section of a Markdown document against a settings registry (include/easyenclave/
// settings.hpp): its tables' rows `| `key` | flag | environment | default | what |` must list
// exactly the registry's keys (of the groups asked for), each with its flag (extra names may
// follow), every environment variable it reads, and its default. The "what" cell is free text.
#include <easyenclave/settings.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace ee::test {

/// The text of `relative` in the source tree.
inline std::string read_source_file(std::string const& relative) {
  std::ifstream in(std::string(EE_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The cells of a Markdown table row, trimmed ('|' inside `code` is not a separator).
inline std::vector<std::string> markdown_cells(std::string const& line) {
  std::vector<std::string> out;
  std::string cell;
  bool in_code = false;
  for (std::size_t i = 1; i < line.size(); ++i) {
    char const c = line[i];
    if (c == '`') in_code = !in_code;
    if (c == '|' && !in_code) {
      auto const first = cell.find_first_not_of(' ');
      auto const last = cell.find_last_not_of(' ');
      out.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
      cell.clear();
      continue;
    }
    cell += c;
  }
  return out;
}

/// The part of `doc` from the line `heading` to the next heading of the same or a higher level.
inline std::string markdown_section(std::string const& doc, std::string const& heading) {
  auto const start = doc.find("\n" + heading + "\n");
  if (start == std::string::npos) return {};
  auto const level = heading.substr(0, heading.find(' ') + 1);  // "## "
  auto end = start + 1;
  while (true) {
    end = doc.find("\n#", end + 1);
    if (end == std::string::npos) break;
    auto const hashes = doc.find_first_not_of('#', end + 1) - (end + 1);
    if (hashes <= level.size() - 1) break;
  }
  return doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

/// What differs between the rows of `section` and `registry` ("" when they agree); only keys
/// `include` accepts are expected.
template <class Include>
std::string settings_table_problems(std::string const& section, settings::Registry const& registry,
                                    Include include) {
  std::map<std::string, std::vector<std::string>> rows;
  std::string problems;
  std::istringstream lines(section);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("| `")) continue;
    auto const c = markdown_cells(line);
    if (c.size() != 5) {
      problems += "not five cells: " + line + "\n";
      continue;
    }
    auto const name = c[0].substr(1, c[0].size() - 2);
    if (!rows.emplace(name, c).second) problems += "listed twice: " + name + "\n";
  }
  std::set<std::string> keys;
  for (auto const& spec : registry.specs()) {
    if (!include(spec)) continue;
    std::string const name(spec.name);
    keys.insert(name);
    auto const row = rows.find(name);
    if (row == rows.end()) {
      problems += "missing from the document: " + name + "\n";
      continue;
    }
    auto const& c = row->second;
    std::string const flag = spec.flag.empty() ? "" : "`--" + std::string(spec.flag) + "`";
    // The flag, then perhaps its other names or where it is taken: "`--dir`, ...", "`--qemu` (launch)".
    if (flag.empty() ? !c[1].empty()
                     : !(c[1] == flag || c[1].starts_with(flag + ", ") || c[1].starts_with(flag + " ("))) {
      problems += name + ": flag " + c[1] + ", the registry's is " + flag + "\n";
    }
    std::string variables;
    for (auto variable : settings::variables(spec)) {
      variables += (variables.empty() ? "`" : ", `") + std::string(variable) + "`";
    }
    if (c[2] != variables) problems += name + ": variables " + c[2] + ", the registry's are " + variables + "\n";
    if (spec.default_value.empty()) {
      if (c[3].starts_with("`")) problems += name + ": default " + c[3] + ", the registry has none\n";
    } else if (!c[3].starts_with("`" + std::string(spec.default_value) + "`")) {
      problems += name + ": default " + c[3] + ", the registry's is " + std::string(spec.default_value) + "\n";
    }
  }
  for (auto const& [name, c] : rows) {
    if (!keys.contains(name)) problems += "in the document but not a setting: " + name + "\n";
  }
  return problems;
}

}  // namespace ee::test
