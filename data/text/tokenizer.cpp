#include "data/text/tokenizer.h"

#include <stdexcept>

namespace tessera::data::text {

int64_t special_token_id(const Tokenizer& t, const std::vector<std::string>& candidates, const std::string& role) {
  for (const auto& c : candidates)
    if (auto id = t.token_id(c)) return *id;
  std::string list;
  for (const auto& c : candidates) list += (list.empty() ? "" : ", ") + c;
  throw std::invalid_argument(t.name() + " tokenizer: no " + role + " token in the vocabulary (looked for " + list +
                              "); train or pick a vocabulary with one");
}

}  // namespace tessera::data::text
