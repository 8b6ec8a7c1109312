// Extraction of the neutral command description from the CLI11 app tree,
// using CLI11's public API only (so a CLI11 upgrade breaks loudly here, not
// silently in the generated files).
#include "model.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <utility>

namespace conec::docgen {

std::string join(const std::vector<std::string> &items, const std::string &separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

std::string OptionDoc::spelled() const {
  if (is_positional()) return positional;
  return join(all_names(), ", ");
}

std::vector<std::string> OptionDoc::all_names() const {
  std::vector<std::string> names;
  for (const auto &s : shorts) names.push_back("-" + s);
  for (const auto &l : longs) names.push_back("--" + l);
  return names;
}

std::string CommandDoc::invocation() const { return path.empty() ? "conec" : "conec " + join(path, " "); }

std::string CommandDoc::man_name() const { return path.empty() ? "conec.1" : "conec-" + path.front() + ".1"; }

std::vector<std::string> CommandDoc::env_vars() const {
  std::vector<std::string> vars;
  auto add = [&](const OptionDoc &o) {
    if (!o.env.empty() && std::find(vars.begin(), vars.end(), o.env) == vars.end()) vars.push_back(o.env);
  };
  for (const auto &o : options) add(o);
  for (const auto &o : positionals) add(o);
  for (const auto &sub : subcommands)
    for (const auto &v : sub.env_vars())
      if (std::find(vars.begin(), vars.end(), v) == vars.end()) vars.push_back(v);
  return vars;
}

namespace {

// Validator descriptions in the order get_type_name() appends them. CLI11
// offers no count, only indexed access that throws past the end.
std::vector<std::string> validator_descriptions(CLI::Option &option) {
  std::vector<std::string> out;
  for (int i = 0;; ++i) {
    try {
      std::string d = option.get_validator(i)->get_description();
      if (!d.empty()) out.push_back(d);
    } catch (const CLI::OptionNotFound &) {
      break;
    }
  }
  return out;
}

// "{text,json}" (IsMember) -> {"text", "json"}; "{a->1,b->2}" (maps) -> keys.
bool parse_choices(const std::string &desc, std::vector<std::string> &choices) {
  if (desc.size() < 2 || desc.front() != '{' || desc.back() != '}') return false;
  std::string body = desc.substr(1, desc.size() - 2);
  size_t start = 0;
  while (start <= body.size()) {
    size_t comma = body.find(',', start);
    std::string item = body.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (auto arrow = item.find("->"); arrow != std::string::npos) item.resize(arrow);
    if (!item.empty()) choices.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

// Whether a placeholder such as "FILE", "DIR" or "ADDR:PORT" names a path;
// subcommands say so with ->type_name("FILE") or a CLI::ExistingFile check.
ValueKind kind_of(const std::string &placeholder, const std::vector<std::string> &constraints) {
  auto words_of = [](const std::string &s) {
    std::vector<std::string> words;
    std::string word;
    for (char c : s + " ") {
      if (std::isalnum(static_cast<unsigned char>(c)))
        word += c;
      else if (!word.empty())
        words.push_back(std::exchange(word, {}));
    }
    return words;
  };
  std::vector<std::string> words = words_of(placeholder);
  for (const auto &c : constraints)
    for (auto &w : words_of(c)) words.push_back(w);
  for (const auto &w : words) {
    if (w == "DIR" || w == "DIRECTORY") return ValueKind::dir;
    if (w == "FILE" || w == "PATH") return ValueKind::file;
  }
  return ValueKind::text;
}

OptionDoc describe_option(CLI::Option &o, const std::string &group) {
  OptionDoc d;
  d.shorts = o.get_snames();
  d.longs = o.get_lnames();
  if (o.get_positional()) d.positional = o.get_name(true);
  d.takes_value = o.get_items_expected_max() > 0;
  d.value_optional = d.takes_value && o.get_items_expected_min() == 0 && !o.get_positional();
  d.repeatable = o.get_items_expected_max() > 1 ||
                 o.get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll ||
                 o.get_multi_option_policy() == CLI::MultiOptionPolicy::Join;
  d.required = o.get_required();
  d.description = o.get_description();
  d.default_value = o.get_default_str();
  d.env = o.get_envname();
  d.group = group.empty() ? o.get_group() : group;
  if (d.takes_value) {
    std::string full = o.get_type_name();
    std::string suffix;
    for (const auto &v : validator_descriptions(o)) {
      suffix += ":" + v;
      if (!parse_choices(v, d.choices)) d.constraints.push_back(v);
    }
    // get_type_name() is "<type name>:<validator>:<validator>"; the type name
    // itself may hold ':' ("ADDR:PORT"), so strip the known suffix only.
    if (full.size() >= suffix.size() && full.compare(full.size() - suffix.size(), suffix.size(), suffix) == 0)
      full.resize(full.size() - suffix.size());
    d.placeholder = full.empty() ? "VALUE" : full;
    d.kind = d.choices.empty() ? kind_of(d.placeholder, d.constraints) : ValueKind::text;
  }
  // std::set<Option *> iterates in pointer order: sort for stable output.
  for (const CLI::Option *n : o.get_needs()) d.needs.push_back(n->get_name());
  for (const CLI::Option *x : o.get_excludes()) d.excludes.push_back(x->get_name());
  std::sort(d.needs.begin(), d.needs.end());
  std::sort(d.excludes.begin(), d.excludes.end());
  return d;
}

// Adds the visible options of `app` to `doc`; option groups (nameless
// subcommands in CLI11) contribute their options under the group's title.
void add_options(CLI::App &app, CommandDoc &doc, const std::string &group) {
  for (CLI::Option *o : app.get_options()) {
    if (o->get_group().empty()) continue; // hidden
    OptionDoc d = describe_option(*o, group);
    (d.is_positional() && !o->nonpositional() ? doc.positionals : doc.options).push_back(std::move(d));
  }
  for (CLI::App *sub : app.get_subcommands([](CLI::App *a) { return a->get_name().empty(); }))
    if (!sub->get_group().empty()) add_options(*sub, doc, sub->get_group());
}

void mark_globals(CommandDoc &doc, const std::set<std::vector<std::string>> &root_names) {
  for (auto &o : doc.options) o.global = root_names.count(o.all_names()) > 0;
  for (auto &sub : doc.subcommands) mark_globals(sub, root_names);
}

CommandDoc describe_app(CLI::App &app, std::vector<std::string> path,
                        const std::map<const CLI::App *, const cli::Prose *> &prose) {
  CommandDoc doc;
  doc.path = path;
  doc.name = path.empty() ? "conec" : path.back();
  doc.aliases = app.get_aliases();
  doc.summary = app.get_description();
  doc.footer = app.get_footer();
  doc.requires_subcommand = app.get_require_subcommand_min() > 0;
  if (auto it = prose.find(&app); it != prose.end()) {
    doc.prose.description = it->second->description;
    for (const auto &e : it->second->examples) doc.prose.examples.emplace_back(e.command, e.explanation);
  }
  add_options(app, doc, "");
  auto visible = [](CLI::App *a) {
    return !a->get_name().empty() && !a->get_group().empty() && !a->get_disabled();
  };
  for (CLI::App *sub : app.get_subcommands(visible)) {
    std::vector<std::string> sub_path = path;
    sub_path.push_back(sub->get_name());
    doc.subcommands.push_back(describe_app(*sub, sub_path, prose));
  }
  return doc;
}

} // namespace

CommandDoc describe(cli::AppTree &tree) {
  std::map<const CLI::App *, const cli::Prose *> prose;
  for (const auto &c : tree.commands) prose[c.app] = &c.prose;
  CommandDoc root = describe_app(*tree.app, {}, prose);
  // Options the root shares with a subcommand (same spellings) are the global
  // ones that work before or after the subcommand name (SPEC §5).
  std::set<std::vector<std::string>> root_names;
  for (auto &o : root.options) {
    o.global = true;
    root_names.insert(o.all_names());
  }
  for (auto &sub : root.subcommands) mark_globals(sub, root_names);
  return root;
}

} // namespace conec::docgen
