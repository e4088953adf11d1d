#pragma once
// Shared wording of a collective's timeout, so both backends name the missing ranks alike.
#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::distributed {

// How long a rank that timed out waits for its peers to report that they timed out too: the
// live ranks enter a collective within moments of each other, so they answer quickly; a rank
// that is dead or hung never does.
inline double peer_grace_seconds(double timeout_s) { return std::min(2.0, std::max(0.2, timeout_s / 4)); }

inline std::string collective_timeout_message(const std::string& backend, int rank, const char* op, uint64_t seq,
                                              double timeout_s, const std::vector<int>& missing) {
  std::string who;
  for (size_t i = 0; i < missing.size(); ++i) who += (i ? ", " : "") + std::string("rank ") + std::to_string(missing[i]);
  char t[32];
  std::snprintf(t, sizeof t, "%g", timeout_s);
  std::string msg = "distributed (" + backend + "): rank " + std::to_string(rank) + ": " + op + " #" +
                    std::to_string(seq) + " failed or did not complete within trainer.distributed.timeout_s = " + t + " s: ";
  if (missing.empty()) return msg + "every peer answered that it is waiting too (a network failure?)";
  return msg + who + (missing.size() == 1 ? " is" : " are") + " dead or hung (no answer from " +
         (missing.size() == 1 ? "it" : "them") + ")";
}

}  // namespace tessera::distributed
