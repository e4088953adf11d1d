#pragma once
// ProcessGroup over Gloo (Debian's libgloo-dev), TCP transport, for machines without MPI.
// Rendezvous from the environment, like torchrun: RANK, WORLD_SIZE and a file store directory
// (TESSERA_GLOO_STORE, or the config's trainer.distributed.store) that every rank can reach (a
// local directory on one host, a shared file system across hosts); it must be empty when the run
// starts. Each rank listens on GLOO_SOCKET_IFNAME's address when set, else on
// TESSERA_GLOO_HOSTNAME, else on 127.0.0.1 (one host).
#include <memory>
#include <string>

#include "core/process_group.h"

namespace tessera::distributed {

struct GlooRendezvous {
  int rank = 0, world_size = 1;
  std::string store_dir;  // file store
  std::string iface;      // network interface to listen on ("" : use hostname)
  std::string hostname = "127.0.0.1";
};

std::shared_ptr<ProcessGroup> make_gloo_process_group(const GlooRendezvous& r, double timeout_s);

}  // namespace tessera::distributed
